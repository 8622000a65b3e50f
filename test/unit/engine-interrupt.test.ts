// Ctrl-C at every phase of a run: before the agent is added, while it is added, while the fault is
// applied (the agent has not answered: the ledger already knows the fault), while it is held, and
// while it is reverted. Whatever was or may have been applied is reverted, then the run ends 130.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const WITH_STEADY_STATE = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
probes:
  web:
    ab: { url: "http://{{ target.ip }}/", requests: 20, concurrency: 1 }
steadyState:
  - probe: web
    expect: { failedRequests: 0 }
steps:
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 10s
`;

const ops = (c: RecordingCluster): string[] => c.requests((r) => r.op !== "renew").map((r) => `${r.request.op} ${r.pod}`);

describe("Ctrl-C", () => {
  it("before the agent is added (the steady state is being measured): nothing to revert, 130", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.toolsDelayMs = 2000;
    const run = start(cluster, scenarioOf(WITH_STEADY_STATE));
    await until(() => cluster.calls.some((c) => c.op === "exec"));
    run.interrupt();
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 130, status: "interrupted" });
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
    expect(ops(cluster)).toEqual([]);
    expect(cluster.calls.at(-1)).toMatchObject({ op: "delete-pod", pod: "chaos-tools-r1" });
  });

  it("while the agent is being added: no fault was applied, 130", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.agentStart = "hang";
    const run = start(cluster, scenarioOf(WITH_STEADY_STATE));
    await until(() => cluster.calls.some((c) => c.op === "wait-running" && c.container === "chaos-agent-r1"));
    run.interrupt();
    const result = await finish(run);
    expect(result.exitCode).toBe(130);
    expect(ops(cluster)).toEqual([]);
  });

  it("while the fault is being applied (no answer yet): the ledger already has it, so it is reverted, 130", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    // web-b's agent applies the fault but its answer never comes back
    cluster.script = (req, where) => (req.op === "apply" && where.pod === "web-b" ? { kind: "hang" } : undefined);
    const run = start(cluster, scenarioOf(WITH_STEADY_STATE));
    await until(() => cluster.requests((r) => r.op === "apply").length === 2);
    await vi.advanceTimersByTimeAsync(500);
    const at = Date.now();
    run.interrupt();
    const result = await finish(run);
    expect(result.exitCode).toBe(130);
    expect(ops(cluster).sort()).toEqual(["apply web-a", "apply web-b", "revert web-a", "revert web-b"]);
    for (const r of cluster.requests((x) => x.op === "revert")) expect(r.at - at).toBeLessThan(2000);
  });

  it("while the fault is held: reverted at once (within 2 s), 130", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(WITH_STEADY_STATE));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    await vi.advanceTimersByTimeAsync(3500);
    const at = Date.now();
    run.interrupt();
    const result = await finish(run);
    expect(result.exitCode).toBe(130);
    const reverts = cluster.requests((r) => r.op === "revert");
    expect(reverts).toHaveLength(1);
    expect((reverts[0]?.at ?? Infinity) - at).toBeLessThan(2000);
    const end = run.events.find((e) => e.type === "run:end");
    expect((end?.at ?? Infinity) - at).toBeLessThan(2000);
    expect(run.events.find((e) => e.type === "fault:reverted")).toMatchObject({ confirmed: true });
  });

  it("while the fault is being reverted: the revert is not cut short (its own deadline), then 130", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req, _w, agent) => (req.op === "revert" ? { kind: "reply", reply: agent.answer(req, Date.now()), afterMs: 1500 } : undefined);
    const run = start(cluster, scenarioOf(WITH_STEADY_STATE));
    await until(() => cluster.requests((r) => r.op === "revert").length === 1);
    await vi.advanceTimersByTimeAsync(200);
    run.interrupt();
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 130, unreverted: [] });
    expect(cluster.requests((r) => r.op === "revert")).toHaveLength(1);
    expect(run.events.find((e) => e.type === "fault:reverted")).toMatchObject({ confirmed: true, attempts: 1 });
  });

  it("SIGTERM during the apply: the same, 143", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req) => (req.op === "apply" ? { kind: "hang" } : undefined);
    const run = start(cluster, scenarioOf(WITH_STEADY_STATE));
    await until(() => cluster.requests((r) => r.op === "apply").length === 1);
    run.interrupt("SIGTERM");
    const result = await finish(run);
    expect(result.exitCode).toBe(143);
    expect(ops(cluster)).toEqual(["apply web-a", "revert web-a"]);
  });
});
