// The first fault travels with the agent: when the first step is a fault the pods' agents hold,
// each fresh agent is added holding it (its apply request in CHAOS_AGENT_FIRST_REQUEST), and the
// runner confirms it by the apply's reply the agent writes to its log (read with a GET, no exec),
// else by the agent's first renewal; it never applies it by exec. The ledger has it before the
// container is added; a reused agent, or a first step that is not such a fault, goes by exec as before.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApplyRequest } from "../../src/faults/protocol.generated.js";
import type { AgentContainerSpec } from "../../src/kube/types.js";
import { checkJournal } from "../../src/compare/load.js";
import { newJournal, recordEvent } from "../../src/report/journal.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";
import { RecordingCluster, SimAgent, pod } from "./recording-cluster.js";
import { FIRST_REPLY_PREFIX, firstReplyInLog } from "../../src/faults/reply.js";

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
  it("a fresh pod: one container start holding the fault, no exec apply; confirmed by the apply's reply in the agent's log, before any exec reaches the agent", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    expect((await finish(run)).exitCode).toBe(0);
    for (const p of ["web-a", "web-b"]) {
      const step = run.plan.steps[0];
      expect(firstRequestOf(cluster, p)).toEqual(step?.kind === "fault" && step.fault.delivery === "agent" ? step.fault.apply : "not a network step");
      // the first request the runner sends that agent is a renewal, after the fault was in effect
      expect(cluster.requests().filter((r) => r.pod === p)[0]?.request).toMatchObject({ op: "renew", faultId: "r1-s1", leaseMs: 3000 });
      const firstExec = cluster.calls.find((c) => c.op === "exec" && c.pod === p);
      const inEffect = run.events.find((e) => e.type === "fault:applied" && e.pod.name === p);
      expect(cluster.calls.some((c) => c.op === "log" && c.pod === p && c.container === "chaos-agent-r1")).toBe(true);
      expect(inEffect?.at).toBeLessThan(firstExec?.at ?? Number.POSITIVE_INFINITY);
    }
    expect(cluster.requests((r) => r.op === "apply")).toEqual([]);
    expect(cluster.podsAsked("revert")).toEqual(["web-a", "web-b"]);
    const applied = run.events.filter((e) => e.type === "fault:applied");
    expect(applied).toHaveLength(2);
    for (const e of applied) {
      expect(e).toMatchObject({ withAgent: true, confirmedFrom: "log", iface: "eth0", detail: "netem c000: on eth0" });
      expect(e.type === "fault:applied" && e.commands[0]?.argv).toEqual(["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"]);
    }
    // the journal says so, per pod, and stays valid against its schema
    const j = newJournal({ runId: "r1", version: "test", node: "v20", platform: "linux", file: "x.yaml", sha256: "0".repeat(64), startedAt: run.t0 });
    for (const e of run.events) recordEvent(j, e, () => ({}));
    expect(j.faults.map((f) => [f.pod, f.withAgent, f.confirmedFrom, f.applyCommands.length])).toEqual([
      ["web-a", true, "log", 1],
      ["web-b", true, "log", 1],
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
    // its log does not tell (an agent of an older version): the runner asks by its first renewal
    cluster.agentLogs = "silent";
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
    cluster.agentLogs = "silent";
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

describe("the reply in the agent's log", () => {
  it("is read again until the agent wrote it, and the fault is in effect without an exec", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    // the agent's orphan scan and apply take 150 ms after its container runs: the first reads find nothing yet
    const real = cluster.containerLog.bind(cluster);
    const t0 = Date.now();
    let reads = 0;
    cluster.containerLog = (ns, p, c, o) => {
      reads++;
      return Date.now() - t0 < 150 ? Promise.resolve("2026-12-07T00:00:00.000Z chaos-agent: chaos-agent-r1 (run r1) serving\n") : real(ns, p, c, o);
    };
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    expect((await finish(run)).exitCode).toBe(0);
    expect(reads).toBeGreaterThan(1);
    const inEffect = run.events.find((e) => e.type === "fault:applied");
    expect(inEffect?.at).toBeLessThan(cluster.calls.find((c) => c.op === "exec")?.at ?? Number.POSITIVE_INFINITY);
  });

  it("where the runner may not read logs, or the agent does not write it, the first renewal confirms the fault", async () => {
    for (const logs of ["denied", "silent"] as const) {
      const cluster = new RecordingCluster([pod("web-a")]);
      cluster.agentLogs = logs;
      const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
      expect((await finish(run)).exitCode, logs).toBe(0);
      const inEffect = run.events.find((e) => e.type === "fault:applied");
      // reads of the log for a quarter of the 3 s lease at most, then the renewal that confirms it
      const firstRenewal = cluster.calls.find((c) => c.op === "exec" && c.request?.op === "renew");
      const added = cluster.calls.find((c) => c.op === "add-agent")?.at ?? 0;
      expect(firstRenewal?.at, logs).toBeLessThanOrEqual(added + 750);
      expect(inEffect?.at, logs).toBeGreaterThanOrEqual(firstRenewal?.at ?? 0);
      expect(inEffect).toMatchObject({ withAgent: true, confirmedFrom: "renewal", detail: "netem c000: on eth0" });
    }
  });

  it("is trusted only as a whole reply to an apply of this fault: a line the pod wrote is passed over", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.agentLogs = "silent";
    const forged = [`${FIRST_REPLY_PREFIX}{"op":"apply","ok":true}`, `${FIRST_REPLY_PREFIX}not json`, `  ${FIRST_REPLY_PREFIX}{}`].join("\n");
    cluster.containerLog = () => Promise.resolve(forged);
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    expect((await finish(run)).exitCode).toBe(0);
    // none of them counted: the fault was confirmed by the agent itself, by exec
    const inEffect = run.events.find((e) => e.type === "fault:applied");
    expect(inEffect?.at).toBeGreaterThanOrEqual(cluster.calls.find((c) => c.op === "exec" && c.request?.op === "renew")?.at ?? Number.POSITIVE_INFINITY);
  });
});

describe("a stress step's own agents", () => {
  // after a wait, so the pods' agents bring no fault with them: the stress travels with the stress agents
  const STRESS = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: s }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: settle
    wait: 1s
  - name: burn
    fault: { stress: { cpu: { workers: 1, load: "10%" } } }
    duration: 2s
`;

  it("start holding the stress: one container start each, no exec apply, confirmed from their logs, reverted by exec", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    const run = start(cluster, scenarioOf(STRESS), travelling);
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    const step = run.plan.steps[1];
    if (step?.kind !== "fault" || step.fault.delivery !== "stress-agent") throw new Error("a stress step");
    for (const p of ["web-a", "web-b"]) {
      const add = cluster.calls.find((c) => c.op === "add-agent" && c.pod === p && c.container?.startsWith("chaos-stress-") === true);
      const raw = (add?.spec as AgentContainerSpec | undefined)?.env["CHAOS_AGENT_FIRST_REQUEST"];
      expect(raw === undefined ? undefined : JSON.parse(raw)).toEqual(step.fault.apply);
    }
    expect(cluster.requests((r) => r.op === "apply")).toEqual([]);
    expect(cluster.podsAsked("revert")).toEqual(["web-a", "web-b"]);
    const applied = run.events.filter((e) => e.type === "fault:applied");
    expect(applied.map((e) => e.type === "fault:applied" && [e.pod.name, e.withAgent, e.confirmedFrom])).toEqual(
      expect.arrayContaining([
        ["web-a", true, "log"],
        ["web-b", true, "log"],
      ]),
    );
    // its rights: the agents' logs, though no first fault travels with the pods' agents
    expect(cluster.accessChecks).toContain("get pods/log");
  });

  it("one the API refused to add holds nothing: its stress leaves the ledger, and nothing is said unreverted", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.refuseContainer = (name) => (name.startsWith("chaos-stress-") ? "admission webhook denied the request" : undefined);
    const run = start(cluster, scenarioOf(STRESS), travelling);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain("admission webhook denied the request");
    // no revert was sent for it, none reported failed
    expect(cluster.requests((r) => r.op === "revert" && r.faultId !== "")).toEqual([]);
    expect(run.events.filter((e) => e.type === "fault:reverted")).toEqual([]);
  });

  it("a pods' agent the API refused to add holds nothing: its first fault leaves the ledger, no agent is added to revert it, nothing is said unreverted", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.refuseContainer = (name) => (name.startsWith("chaos-agent-") ? "admission webhook denied the request" : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain("admission webhook denied the request");
    // one attempt per pod, no fresh agent added to revert a fault that never existed
    expect(cluster.calls.filter((c) => c.op === "add-agent").map((c) => c.pod)).toEqual(["web-a", "web-b"]);
    expect(cluster.requests((r) => r.op === "revert")).toEqual([]);
    expect(run.events.filter((e) => e.type === "fault:reverted" || (e.type === "warning" && /revert|unreverted|recover/i.test(e.message)))).toEqual([]);
  });

  it.each([
    ["no answer came", undefined, "socket hang up"],
    ["a timeout's 504 came", 504, "the request did not complete within the allowed duration"],
    ["a proxy's 502 came", 502, "bad gateway"],
  ])("a pods' agent added though %s to its patch holds its first fault: the ledger keeps it, and it is reverted", async (_, code, message) => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.failAfterAdding = (name) => (name.startsWith("chaos-agent-") ? { code, message } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT), travelling);
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain(message);
    expect(cluster.agents.get("web-a/chaos-agent-r1")?.held.size).toBe(0);
    expect(cluster.podsAsked("revert")).toEqual(["web-a"]);
  });

  it("go by exec, as before, where the run sends every fault by exec", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(STRESS), { firstFaultWithAgent: false });
    expect((await finish(run)).exitCode).toBe(0);
    expect(cluster.requests((r) => r.op === "apply").map((r) => r.pod)).toEqual(["web-a"]);
  });
});

describe("what an agent's log says of its first fault", () => {
  const reply = { op: "apply", ok: true, version: "1", agent: { name: "chaos-agent-r1", runId: "r1", version: "test", pid: 7, ttlLeftMs: 1000 } };
  it("held: a whole, valid reply to an apply of that fault, at the start of a line; failed: the agent's own last words about it; else pending", () => {
    const agent = new SimAgent("chaos-agent-r1", "r1", 600_000);
    const request: ApplyRequest = { protocol: 1, op: "apply", runId: "r1", fault: { id: "r1-s1", leaseMs: 3000, spec: { kind: "netem", netem: { delayMs: 100 } } } };
    agent.startWith(request, Date.now());
    const log = `2026-12-07T00:00:00.000Z chaos-agent: serving\n${agent.log.join("\n")}\n`;
    const expected = { faultId: "r1-s1", agent: "chaos-agent-r1", runId: "r1", kind: "netem" };
    expect(firstReplyInLog(log, expected)).toMatchObject({ state: "held", reply: { op: "apply", ok: true, fault: { id: "r1-s1" } } });
    expect(firstReplyInLog(log, { ...expected, faultId: "r1-s2" }).state).toBe("pending");
    // a line the pod wrote, of another agent, run or kind: passed over
    for (const other of [{ agent: "chaos-agent-r2" }, { runId: "r9" }, { kind: "stress" }]) expect(firstReplyInLog(log, { ...expected, ...other }).state, JSON.stringify(other)).toBe("pending");
    expect(firstReplyInLog(`${FIRST_REPLY_PREFIX}${JSON.stringify(reply)}`, expected).state).toBe("pending");
    const failed = "2026-12-07T00:00:00.000Z chaos-agent: first request (apply r1-s1) failed: no-interface: the pod has no interface eth9";
    expect(firstReplyInLog(`x\n${failed}\n`, expected)).toEqual({ state: "failed", said: "no-interface: the pod has no interface eth9" });
    expect(firstReplyInLog(`x\n${failed}\n`, { ...expected, faultId: "r1-s9" }).state).toBe("pending");
    // refused before it served: its one first request, whatever its id
    const refused = 'chaos-agent serve: CHAOS_AGENT_FIRST_REQUEST: bad-request: the first request is of run "x"; this agent serves run "r1"; nothing was done';
    expect(firstReplyInLog(`${refused}\n`, expected)).toEqual({ state: "failed", said: 'bad-request: the first request is of run "x"; this agent serves run "r1"' });
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

/**
 * Two pods, one at a time: web-b's agent runs 5 s after it is added, so web-a's fault (lease 3 s)
 * is renewed early meanwhile; every renewal `slow(now)` says lands 2.1 s after it is sent. What
 * became of web-a's fault, and the run's result.
 */
async function slowRenewalsWhileWebBStarts(slow: () => boolean): Promise<{ exitCode: number; message: string | undefined; webA: string | undefined }> {
  const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
  cluster.script = (req) => (req.op === "renew" && slow() ? { kind: "slow", afterMs: 2100 } : undefined);
  cluster.agentStartMs.set("web-b", 5000);
  const result = await finish(start(cluster, scenarioOf(ONE_FAULT), { ...travelling, concurrency: 1 }));
  return { exitCode: result.exitCode, message: result.message, webA: cluster.agents.get("web-a/chaos-agent-r1")?.ended.get("r1-s1") };
}

describe("early renewals whose round trips are slow", () => {
  it("keep a fixed schedule from the confirmation on, a third of a lease apart, so a round trip of over two thirds of a lease does not let the lease lapse", async () => {
    // while web-b's agent starts (5 s), every renewal lands 2.1 s after it is sent (lease 3 s):
    // one sent a third of a lease after the previous reply would land 3.1 s after the previous one,
    // web-a's lease over by then
    const t0 = Date.now();
    const r = await slowRenewalsWhileWebBStarts(() => Date.now() - t0 < 4500);
    expect(r.exitCode, r.message).toBe(0);
    expect(r.webA).not.toBe("lease-lapsed");
  }, 30_000);
});

describe("the step taking over the early renewals", () => {
  it("leaves a renewal that is out to land, and keeps their schedule: renewals as slow as two thirds of a lease do not let it lapse", async () => {
    // every renewal lands 2.1 s after it is sent (lease 3 s); web-a's agent waits 5 s for web-b's.
    // When the step takes web-a's fault, two renewals are out: aborted, the last one landed would
    // leave the lease 2.6 s, less than a renewal the step sends a third of a lease later needs
    const r = await slowRenewalsWhileWebBStarts(() => true);
    expect(r.exitCode, r.message).toBe(0);
    expect(r.webA).not.toBe("lease-lapsed");
  }, 30_000);
});

describe("the step's end", () => {
  it("leaves a renewal that is out to land: a revert slower than what is left of the lease still finds the fault held (the kernel lab's execs take seconds)", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    // lease 3 s, renewed a second after the apply; each renewal reaches the agent 1.5 s after it
    // is sent, the revert 2 s after: aborted at the step's end (2 s), the renewal out would leave
    // the lease of the apply, over at 3 s, before the revert reaches the agent at 4 s
    cluster.script = (req) => (req.op === "renew" ? { kind: "slow", afterMs: 1500 } : req.op === "revert" ? { kind: "slow", afterMs: 2000 } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT.replace("duration: 10s", "duration: 2s")), { firstFaultWithAgent: false });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(cluster.agents.get("web-a/chaos-agent-r1")?.ended.get("r1-s1")).toBe("requested");
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
