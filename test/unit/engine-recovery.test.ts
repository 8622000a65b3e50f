// An agent that dies holding faults (OOM, a crash) leaves them in the pod's network namespace:
// the runner sees its container terminate through the pod watch it has anyway, adds a fresh
// agent at once that reverts what the dead one left (sweep {own: false}), says when and how much
// later, takes the fresh agent as the pod's agent, and exits 3 — not 4: nothing is left.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const HTTP_ERRORS = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: errors
    fault: { http: { port: 80, errorRate: "100%" } }
    duration: 10s
  - name: pause
    wait: 2s
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 5s
`;

const warnings = (events: readonly EngineEvent[]): string[] => events.flatMap((e) => (e.type === "warning" ? [e.message] : []));

describe("an agent that dies holding a fault", () => {
  it("is replaced at once by a fresh agent that reverts what it left; the run goes on through it and exits 3, saying when and how much later", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    const run = start(cluster, scenarioOf(HTTP_ERRORS));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    await vi.advanceTimersByTimeAsync(2000);
    const dead = cluster.agents.get("web-a/chaos-agent-r1");
    expect(dead?.held.has("r1-s1")).toBe(true);
    const diedAt = Date.now();
    cluster.agentDies("web-a", "chaos-agent-r1");
    await until(() => cluster.calls.some((c) => c.op === "add-agent" && c.container === "chaos-agent-r1-2"));
    // at once: within the same tick of fake time, not at the step's end
    expect(Date.now() - diedAt).toBeLessThan(50);
    const fresh = cluster.calls.find((c) => c.op === "add-agent" && c.container === "chaos-agent-r1-2");
    // the dead agent's capabilities and the hardened securityContext
    expect(fresh?.spec).toMatchObject({ securityContext: { runAsUser: 0, capabilities: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"], allowPrivilegeEscalation: false } });
    await until(() => run.events.some((e) => e.type === "fault:lost"));
    // the fresh agent swept the orphans (own: false): the REDIRECT the dead agent left is gone
    expect(cluster.requests((r) => r.op === "sweep")).toEqual([{ at: expect.any(Number), pod: "web-a", request: { protocol: 1, op: "sweep", runId: "r1", own: false } }]);
    expect(dead?.held.size).toBe(0);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe(
      "1 fault ended before its step did, so what was measured is not what was planned:\n" +
        "  pod default/web-a: fault r1-s1 (step 1, errors) did not hold for its 10s: its agent chaos-agent-r1 died (OOMKilled, exit 137) at 10:00:02; a fresh agent chaos-agent-r1-2 reverted what it held 0.0 s later (fault r1-s1)",
    );
    expect(result.hint).toContain(
      "an agent's container ended (OOMKilled: the pod's memory limit or the node's memory; a crash: its log, kubectl logs -c AGENT): kubectl describe pod -n default web-a",
    );
    expect(result.unreverted).toEqual([]);
    // never an exec into the dead container after it died, nor a renewal of its lease
    const execsToDead = cluster.calls.filter((c) => c.op === "exec" && c.pod === "web-a" && c.container === "chaos-agent-r1" && c.at > diedAt);
    expect(execsToDead.map((c) => c.request?.op)).toEqual([]);
    // the next step applied through the fresh agent in web-a; web-b kept its agent
    const second = cluster.requests((r) => r.op === "apply" && r.fault.id === "r1-s3");
    expect(second.map((r) => r.pod).sort()).toEqual(["web-a", "web-b"]);
    expect(
      cluster.calls
        .filter((c) => c.request?.op === "apply" && c.request.fault.id === "r1-s3")
        .map((c) => `${c.pod}/${c.container}`)
        .sort(),
    ).toEqual(["web-a/chaos-agent-r1-2", "web-b/chaos-agent-r1"]);
    // the dead agent's fault is reported reverted, by the fresh agent; web-b's as usual
    const reverted = run.events.flatMap((e) => (e.type === "fault:reverted" && e.faultId === "r1-s1" ? [[e.pod.name, e.confirmed, e.detail]] : []));
    expect(reverted).toContainEqual(["web-b", true, ""]);
    expect(reverted).toContainEqual(["web-a", true, expect.stringContaining("a fresh agent chaos-agent-r1-2 reverted what it held")]);
    expect(warnings(run.events)).toContain("pod default/web-a: agent chaos-agent-r1 ended (OOMKilled, exit 137) holding r1-s1: adding a fresh agent to revert what it left");
    expect(run.events.filter((e) => e.type === "agent:ready").map((e) => e.type === "agent:ready" && e.container)).toContain("chaos-agent-r1-2");
  });

  it("a revert that finds the agent dead before the watch said so starts the same recovery: confirmed by the fresh agent, exit 0", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    let died = false;
    cluster.script = (req, where) => {
      if (req.op !== "revert" || died) return undefined;
      died = true;
      // the container ends as the revert is sent; the watch has not told the runner yet
      const p = cluster.pods.get(where.pod);
      if (p !== undefined) cluster.pods.set(where.pod, { ...p, ephemeralContainers: p.ephemeralContainers.map((c) => ({ ...c, state: "terminated" as const, reason: "OOMKilled", exitCode: 137 })) });
      return { kind: "drop", error: "the exec stream closed without a status" };
    };
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(cluster.requests((r) => r.op === "sweep").map((r) => r.request)).toEqual([{ protocol: 1, op: "sweep", runId: "r1", own: false }]);
    expect(run.events.find((e) => e.type === "fault:reverted")).toMatchObject({ confirmed: true, detail: expect.stringContaining("a fresh agent chaos-agent-r1-2 reverted what it held") });
    expect(cluster.agents.get("web-a/chaos-agent-r1")?.held.size).toBe(0);
  });
});

describe("an agent that dies leaving nothing for the runner to revert", () => {
  it("one that dies between steps, holding nothing, is replaced too, and the run ends as written (exit 0)", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(HTTP_ERRORS));
    await until(() => run.events.some((e) => e.type === "step:end" && e.index === 0));
    cluster.agentDies("web-a", "chaos-agent-r1", { reason: "Error", exitCode: 2 });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(warnings(run.events)).toContain("pod default/web-a: agent chaos-agent-r1 ended (Error, exit 2): adding a fresh agent to revert what it left");
    expect(cluster.calls.find((c) => c.request?.op === "apply" && c.request.fault.id === "r1-s3")?.container).toBe("chaos-agent-r1-2");
  });

  it("a stress agent's death is no recovery: its stressors were its processes (the OOM killer's work is a measurement)", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(ONE_FAULT.replace("fault: { netem: { delay: 100ms } }", "fault: { stress: { memory: { size: 64Mi, allowBeyondLimit: true } } }")));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    cluster.agentDies("web-a", "chaos-stress-r1-s1");
    const result = await finish(run);
    expect(cluster.calls.filter((c) => c.op === "add-agent").map((c) => c.container)).toEqual(["chaos-stress-r1-s1"]);
    expect(result.exitCode, result.message).toBe(0);
  });
});
