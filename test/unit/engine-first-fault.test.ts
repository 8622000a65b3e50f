// The first fault travels with the agent: when the first step is a fault the pods' agents hold,
// each fresh agent is added holding it (its apply request in CHAOS_AGENT_FIRST_REQUEST), and the
// runner confirms it with the agent's first renewal instead of applying it by exec. The ledger has
// it before the container is added; a reused agent, or a first step that is not such a fault, goes
// by exec as before.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApplyRequest } from "../../src/faults/protocol.generated.js";
import type { AgentContainerSpec } from "../../src/kube/types.js";
import { checkJournal } from "../../src/compare/load.js";
import { newJournal, recordEvent } from "../../src/report/journal.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";
import { RecordingCluster, SimAgent, pod } from "./recording-cluster.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const travelling = { firstFaultWithAgent: true };
const ops = (c: RecordingCluster): string[] => c.requests((r) => r.op !== "renew" || r.faultId === "").map((r) => `${r.request.op} ${r.pod}`);
const firstRequestOf = (c: RecordingCluster, podName: string): ApplyRequest | undefined => {
  const add = c.calls.find((x) => x.op === "add-agent" && x.pod === podName);
  const spec = (add as { spec?: AgentContainerSpec } | undefined)?.spec;
  const raw = spec?.env["CHAOS_AGENT_FIRST_REQUEST"];
  return raw === undefined ? undefined : (JSON.parse(raw) as ApplyRequest);
};

describe("the first fault travels with the agent", () => {
  it("a fresh pod: one container start holding the fault, no exec apply; confirmed by the first renewal, whose reply is the apply's", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    expect((await finish(run)).exitCode).toBe(0);
    for (const p of ["web-a", "web-b"]) {
      const step = run.plan.steps[0];
      expect(firstRequestOf(cluster, p)).toEqual(step?.kind === "fault" && step.fault.delivery === "agent" ? step.fault.apply : "not a network step");
      // the first request the runner sends that agent is the confirming renewal
      expect(cluster.requests().filter((r) => r.pod === p)[0]?.request).toMatchObject({ op: "renew", faultId: "r1-s1", leaseMs: 3000 });
    }
    expect(cluster.requests((r) => r.op === "apply")).toEqual([]);
    expect(
      cluster
        .requests((r) => r.op === "revert")
        .map((r) => r.pod)
        .sort(),
    ).toEqual(["web-a", "web-b"]);
    const applied = run.events.filter((e) => e.type === "fault:applied");
    expect(applied).toHaveLength(2);
    for (const e of applied) {
      expect(e).toMatchObject({ withAgent: true, iface: "eth0", detail: "netem c000: on eth0" });
      expect(e.type === "fault:applied" && e.commands[0]?.argv).toEqual(["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"]);
    }
    // the journal says so, per pod, and stays valid against its schema
    const j = newJournal({ runId: "r1", version: "test", node: "v20", platform: "linux", file: "x.yaml", sha256: "0".repeat(64), startedAt: run.t0 });
    for (const e of run.events) recordEvent(j, e, () => ({}));
    expect(j.faults.map((f) => [f.pod, f.withAgent, f.applyCommands.length])).toEqual([
      ["web-a", true, 1],
      ["web-b", true, 1],
    ]);
    expect(() => checkJournal(JSON.parse(JSON.stringify(j)), "journal.json")).not.toThrow();
  });

  it("the ledger has it before the container is added: Ctrl-C while the agent starts reverts it", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.agentStart = "hang";
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    await until(() => cluster.calls.some((c) => c.op === "wait-running" && c.container === "chaos-agent-r1"));
    // the container starts after all, holding its fault, while the runner still waits
    const sim = cluster.agents.get("web-a/chaos-agent-r1");
    expect(sim?.held.has("r1-s1")).toBe(true);
    cluster.setContainer("web-a", "chaos-agent-r1", { state: "running" });
    run.interrupt();
    const result = await finish(run);
    expect(result.exitCode).toBe(130);
    expect(ops(cluster)).toEqual(["revert web-a"]);
    expect(sim?.held.size).toBe(0);
  });

  it("an agent that refused its first request: its last words are the apply's failure, and it is recovered as a dead agent", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const said = "2026-12-01T10:00:00.000Z chaos-agent: first request (apply r1-s1) failed: no-interface: the pod has no interface eth9";
    cluster.script = (req, where) => {
      if (req.op !== "renew") return undefined;
      cluster.agentDies(where.pod, where.container, { reason: "Error", exitCode: 1, message: `some line\n${said}\n` });
      return { kind: "drop", error: `container ${where.container} is not running` };
    };
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain(
      `step 1 (slow): the agent in pod default/web-a could not apply netem delay 100ms; all traffic: the agent chaos-agent-r1 started with it and ended (Error 1): ${said}`,
    );
    expect(cluster.requests((r) => r.op === "apply")).toEqual([]);
    expect(run.events.some((e) => e.type === "fault:applied")).toBe(false);
    // whatever it may have left is reverted by a fresh agent, as for any agent that died
    expect(cluster.calls.filter((c) => c.op === "add-agent").map((c) => c.container)).toEqual(["chaos-agent-r1", "chaos-agent-r1-2"]);
  });

  it("an agent that ended before it was seen running, refusing its first request: the same failure, in its words", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const said = "2026-12-01T10:00:00.000Z chaos-agent: first request (apply r1-s1) failed: no-interface: the pod has no interface eth9";
    cluster.agentEndsAtStart = { reason: "Error", exitCode: 1, message: `serving on @chaos-agent/v1/chaos-agent-r1\n${said}\n` };
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe(`step 1 (slow): the agent in pod default/web-a could not apply netem delay 100ms; all traffic: the agent chaos-agent-r1 started with it and ended (Error 1): ${said}`);
    expect(cluster.requests((r) => r.op === "apply")).toEqual([]);
  });

  it("not confirmed in time: the agent lets its lease lapse, and the runner says the fault was lost", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    // the confirmation is slower than the lease: the agent has reverted it by then
    cluster.script = (req) => (req.op === "renew" ? { kind: "slow", afterMs: 3500 } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toMatch(/lease-lapsed/);
    expect(cluster.agents.get("web-a/chaos-agent-r1")?.ended.get("r1-s1")).toBe("lease-lapsed");
    expect(run.events.some((e) => e.type === "fault:applied")).toBe(false);
  });
});

describe("while the other pods' agents start", () => {
  it("each fault is confirmed as soon as its agent runs and renewed until its step takes it: a slow pod does not let the first one's lease lapse", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    // one pod at a time; web-b's agent runs 5 s after it was added, longer than the 3 s lease
    // web-a's agent started holding its fault under
    cluster.agentStartMs.set("web-b", 5000);
    const run = start(cluster, scenarioOf(ONE_FAULT), { ...travelling, concurrency: 1 });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(cluster.agents.get("web-a/chaos-agent-r1")?.ended.get("r1-s1")).not.toBe("lease-lapsed");
    // web-a was renewed while web-b started: more than the one confirming renewal before the step
    const renewalsOfA = cluster.requests((r) => r.op === "renew" && r.faultId === "r1-s1").filter((r) => r.pod === "web-a");
    expect(renewalsOfA.length).toBeGreaterThan(3);
    expect(cluster.requests((r) => r.op === "apply")).toEqual([]);
  });
});

describe("early renewals whose round trips are slow", () => {
  it("keep a fixed schedule from the confirmation on, a third of a lease apart, so a round trip of over two thirds of a lease does not let the lease lapse", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    // while web-b's agent starts (5 s), every renewal lands 2.1 s after it is sent (lease 3 s):
    // one sent a third of a lease after the previous reply would land 3.1 s after the previous one,
    // web-a's lease over by then
    const t0 = Date.now();
    cluster.script = (req) => (req.op === "renew" && Date.now() - t0 < 4500 ? { kind: "slow", afterMs: 2100 } : undefined);
    cluster.agentStartMs.set("web-b", 5000);
    const run = start(cluster, scenarioOf(ONE_FAULT), { ...travelling, concurrency: 1 });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(cluster.agents.get("web-a/chaos-agent-r1")?.ended.get("r1-s1")).not.toBe("lease-lapsed");
  }, 30_000);
});

describe("it goes by exec, as before", () => {
  const afterWait = ONE_FAULT.replace("steps:\n", "steps:\n  - name: first\n    wait: 2s\n");

  it("when the first step is not the fault (the agent must not hold it early)", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(afterWait), travelling);
    expect((await finish(run)).exitCode).toBe(0);
    expect(firstRequestOf(cluster, "web-a")).toBeUndefined();
    expect(ops(cluster)).toEqual(["apply web-a", "revert web-a"]);
    expect(run.events.find((e) => e.type === "fault:applied")).not.toHaveProperty("withAgent");
  });

  it("to a reused agent", async () => {
    const old = {
      name: "chaos-agent-old",
      image: "docker.io/library/chaos-agent:latest",
      state: "running" as const,
      reason: undefined,
      message: undefined,
      exitCode: undefined,
      runId: "old",
      capabilities: ["NET_ADMIN", "NET_RAW"],
    };
    const cluster = new RecordingCluster([pod("web-a", { ephemeralContainers: [old] }), pod("web-b")]);
    cluster.agents.set("web-a/chaos-agent-old", new SimAgent("chaos-agent-old", "old", 400_000));
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    expect((await finish(run)).exitCode).toBe(0);
    // web-a's agent is reused: asked by exec; web-b's is fresh: it starts holding the fault
    expect(ops(cluster).sort()).toEqual(["apply web-a", "revert web-a", "revert web-b", "status web-a"]);
    expect(firstRequestOf(cluster, "web-b")?.fault.id).toBe("r1-s1");
  });
});
