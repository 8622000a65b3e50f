// The lease keeper: per pod and per fault, independent timers; renewals that do not wait for one
// another, each given up after a lease; a reply that comes back after its step ended is ignored; an agent that says its
// lease lapsed marks that pod's fault lost — the other pods go on, and the run exits 3.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renewalTiming } from "../../src/engine/leases.js";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const TWO_FAULTS = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: first
    fault: { netem: { delay: 100ms } }
    duration: 5s
  - name: second
    fault: { netem: { loss: 5% } }
    duration: 5s
`;

describe("lease timing", () => {
  it("renews every third of the lease; a renewal gives up after a whole lease", () => {
    expect(renewalTiming(15_000)).toEqual({ everyMs: 5000, timeoutMs: 15_000 });
    expect(renewalTiming(3000)).toEqual({ everyMs: 1000, timeoutMs: 3000 });
  });

  it("a slow but working exec path (each renewal reaches the agent 1.5 s late, half a 3 s lease): the fault holds", async () => {
    // the kernel lab's exec round trips take about a second: a renewal bounded below a third of
    // the lease would give up on every one of them, and the fault would be lost
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req) => (req.op === "renew" ? { kind: "slow", afterMs: 1500 } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(result.message).toBeUndefined();
    expect(result).toMatchObject({ exitCode: 0, status: "passed", lost: [] });
    expect(run.events.filter((e) => e.type === "warning")).toEqual([]);
    expect(cluster.requests((r) => r.op === "renew").length).toBeGreaterThanOrEqual(9);
  });
});

describe("a lease too short for the node's exec round trips", () => {
  it("renewals that land but take 1.8 s of a 3 s lease: said once, with the lease to raise", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req) => (req.op === "renew" ? { kind: "slow", afterMs: 1800 } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    // each renewal reaches the agent 1.8 s after it was sent, 0.2 s before the lease would lapse
    expect(result).toMatchObject({ exitCode: 0, status: "passed", lost: [] });
    expect(run.events.filter((e) => e.type === "warning").map((e) => (e.type === "warning" ? e.message : ""))).toEqual([
      "renewing the lease of r1-s1 in pod default/web-a took 1.8s, over half its 3s lease: an exec to this pod is slow, and the agent may revert the fault by itself before a renewal reaches it; give the agent a longer lease (agent.lease in the scenario)",
    ]);
  });
});

describe("the renewal race", () => {
  it("a renewal still in flight when its step reverts comes back 'lease-lapsed' during the next step: ignored", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    let scripted = false;
    cluster.script = (req, _w, agent) => {
      // step 1's last renewal: its answer is already on its way and arrives 2 s later, in step 2
      if (req.op === "renew" && req.faultId === "r1-s1" && !scripted && Date.now() - t0 >= 4000) {
        scripted = true;
        return {
          kind: "reply",
          ignoreAbort: true,
          afterMs: 2000,
          reply: { ...agent.answer({ protocol: 1, op: "status", runId: "r1" }, Date.now()), op: "renew", ok: false, error: { code: "lease-lapsed", message: "r1-s1: its lease lapsed; reverted" } },
        };
      }
      return undefined;
    };
    const run = start(cluster, scenarioOf(TWO_FAULTS));
    const t0 = run.t0;
    const result = await finish(run);
    expect(scripted).toBe(true);
    expect(result).toMatchObject({ exitCode: 0, status: "passed", lost: [] });
    expect(run.events.filter((e) => e.type === "fault:lost")).toEqual([]);
    // step 2 held its fault for its whole duration, renewed as usual
    const second = cluster.requests((r) => r.op === "renew" && r.faultId === "r1-s2");
    expect(second.length).toBe(4);
    expect(run.events.filter((e) => e.type === "step:end").map((e) => e.type === "step:end" && e.ok)).toEqual([true, true]);
  });
});

describe("independent timers", () => {
  it("one pod's renewal hanging does not delay the others; its lapsed fault is found out at the revert, exit 3", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b"), pod("web-c")]);
    cluster.script = (req, where) => (req.op === "renew" && where.pod === "web-b" ? { kind: "hang" } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    const applied = cluster.requests((r) => r.op === "apply");
    for (const name of ["web-a", "web-c"]) {
      const at = applied.find((r) => r.pod === name)?.at ?? 0;
      expect(
        cluster
          .requests((r) => r.op === "renew")
          .filter((r) => r.pod === name)
          .map((r) => r.at - at),
      ).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    }
    // web-b's renewals hang; the next ones are sent on schedule all the same, three at most out at
    // once, each given up after a lease
    expect(cluster.requests((r) => r.op === "renew").filter((r) => r.pod === "web-b").length).toBeGreaterThanOrEqual(6);
    expect(run.events.filter((e) => e.type === "warning" && e.message.startsWith("could not renew the lease of r1-s1 in pod default/web-b"))).toHaveLength(1);
    // no renewal reached web-b's agent: it reverted the fault when its 3 s lease lapsed
    expect(result.exitCode).toBe(3);
    expect(result.lost.map((l) => l.pod.name)).toEqual(["web-b"]);
    expect(result.message).toBe(
      "1 fault ended before its step did, so what was measured is not what was planned:\n  pod default/web-b: fault r1-s1 (step 1, slow) did not hold for its 10s: the agent had already reverted it (lease-lapsed: not held)",
    );
  });
});

describe("lease-lapsed", () => {
  it("marks that pod's fault lost, stops renewing it, lets the other pods go on, and exits 3 saying which and why", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.script = (req, where, agent) => {
      if (where.pod === "web-b" && req.op === "renew") {
        // the agent lost it (say, its node stalled past the lease)
        agent.held.clear();
        agent.ended.set(req.faultId, "lease-lapsed");
      }
      return undefined;
    };
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(run.events.filter((e) => e.type === "fault:lost")).toEqual([
      expect.objectContaining({ faultId: "r1-s1", pod: { namespace: "default", name: "web-b" }, reason: expect.stringContaining("its 3s lease lapsed") as unknown as string }),
    ]);
    expect(cluster.requests((r) => r.op === "renew").filter((r) => r.pod === "web-b")).toHaveLength(1);
    expect(cluster.requests((r) => r.op === "renew").filter((r) => r.pod === "web-a")).toHaveLength(9);
    expect(cluster.podsAsked("revert")).toEqual(["web-a", "web-b"]);
    expect(result).toMatchObject({ exitCode: 3, status: "error", unreverted: [] });
    expect(result.message).toMatch(
      /^1 fault ended before its step did, so what was measured is not what was planned:\n {2}pod default\/web-b: fault r1-s1 \(step 1, slow\) did not hold for its 10s: the agent reverted it by itself: its 3s lease lapsed/,
    );
    expect(result.hint).toContain("agent.lease");
  });

  it("an expectation that failed does not hide a lost fault: exit 3, not 1", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req, _w, agent) => {
      if (req.op === "renew") {
        agent.held.clear();
        agent.ended.set(req.faultId, "lease-lapsed");
      }
      return undefined;
    };
    const yaml = ONE_FAULT.replace("    duration: 10s\n", "    duration: 10s\n    during:\n      - probe: web\n        expect: { latency.mean: { above: 10s } }\n").replace(
      "steps:",
      'probes:\n  web:\n    ab: { url: "http://{{ target.ip }}/", requests: 20, concurrency: 1 }\nsteps:',
    );
    const result = await finish(start(cluster, scenarioOf(yaml)));
    expect(result.exitCode).toBe(3);
  });

  it("--detach hands the fault to the agent's lease: nothing is renewed or reverted here", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(ONE_FAULT), { handOffToLease: true });
    const result = await finish(run);
    expect(result.exitCode).toBe(0);
    expect(cluster.requests().map((r) => r.request.op)).toEqual(["apply"]);
    expect(run.events.find((e) => e.type === "fault:held")).toMatchObject({ faultId: "r1-s1", untilMs: (cluster.requests()[0]?.at ?? 0) + 3000 });
  });
});
