// The engine's kill, podDelete and stress steps through the recording Cluster port on a fake
// clock: which containers and requests it makes, in which order (a dry run in every pod before
// any kill), what it watches and measures, the expectations it checks, and how Ctrl-C ends a
// recovery window. What the signal, the deletion and the stressors do for real is proven in the
// lab (test/cluster/roadmap.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import type { ApplyRequest, Request } from "../../src/faults/protocol.generated.js";
import type { PodInfo } from "../../src/kube/types.js";
import { fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const KILL = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: kill-test }
target: { namespace: default, selector: { run: web }, mode: all }
steps:
  - name: kill web
    fault: { kill: { container: web } }
    duration: 30s
    expect:
      restarts: 1
      exitCode: 137
      recovery.time: { below: 10s }
`;

function webPod(name: string, extra: Partial<PodInfo> = {}): PodInfo {
  const [main] = pod(name).containers;
  if (main === undefined) throw new Error("pod() gives a container");
  return pod(name, {
    containers: [{ ...main, containerId: `containerd://${"a".repeat(64)}`, restartCount: 0, ready: true }],
    ...extra,
  });
}

const isApply = (r: Request): r is ApplyRequest => r.op === "apply";
const observed = (events: readonly EngineEvent[]) => events.flatMap((e) => (e.type === "fault:observed" ? [e] : []));
const results = (events: readonly EngineEvent[]) => events.flatMap((e) => (e.type === "expect:result" ? [`${e.pod ?? "-"} ${e.outcome.metric} ${e.outcome.verdict}`] : []));

describe("kill", () => {
  it("adds a kill agent per pod in the target's PID namespace, dry-runs in every pod, then kills, and measures the restart", async () => {
    const cluster = new RecordingCluster([webPod("web-a"), webPod("web-b")]);
    const run = start(cluster, scenarioOf(KILL));
    const result = await finish(run);
    expect(result, result.message).toMatchObject({ exitCode: 0, status: "passed" });
    // no network agent: a kill needs none
    const added = cluster.calls.filter((c) => c.op === "add-agent");
    expect(added.map((c) => `${c.pod}/${c.container}`).sort()).toEqual(["web-a/chaos-kill-r1-s1", "web-b/chaos-kill-r1-s1"]);
    const spec = added[0]?.spec;
    expect(spec).toMatchObject({
      targetContainerName: "web",
      args: ["serve", "--ttl", "90s", "--kinds", "kill"],
      // SIGKILL to an init goes through ptrace: SYS_PTRACE alone, no KILL
      securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: ["SYS_PTRACE"], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" },
    });
    // every dry run answered before the first kill was sent
    const applies = cluster.requests(isApply).map((r) => ({ pod: r.pod, request: r.request as ApplyRequest }));
    expect(applies.map((a) => `${a.request.dryRun === true ? "dry" : "kill"} ${a.pod}`)).toEqual(["dry web-a", "dry web-b", "kill web-a", "kill web-b"]);
    // each pod's container id comes from its status
    expect(applies[0]?.request.fault.spec).toEqual({ kind: "kill", signal: "SIGKILL", container: "web", containerId: "a".repeat(64) });
    // nothing to revert, nothing to renew
    expect(cluster.requests((r) => r.op === "revert" || r.op === "renew")).toEqual([]);
    const obs = observed(run.events);
    expect(obs.map((o) => [o.pod.name, o.metrics])).toEqual([
      ["web-a", { restarts: 1, exitCode: 137, "recovery.time": expect.closeTo(1500, -2) }],
      ["web-b", { restarts: 1, exitCode: 137, "recovery.time": expect.closeTo(1500, -2) }],
    ]);
    expect(obs[0]?.detail).toMatch(/SIGKILL to PID 1 .*; it exited 137 \(Error\); restarts 1; Ready again 1\.5\d*s after the signal/);
    expect(results(run.events)).toEqual(["web-a restarts pass", "web-a exitCode pass", "web-a recovery.time pass", "web-b restarts pass", "web-b exitCode pass", "web-b recovery.time pass"]);
    // the window is held whole in a scenario, and no watch outlives it
    expect(Date.now() - run.t0).toBeGreaterThanOrEqual(30_000);
    expect(cluster.watching).toBe(0);
  });

  it("a signal refused in one pod: no pod is signalled, exit 3 with the reason", async () => {
    const cluster = new RecordingCluster([webPod("web-a"), webPod("web-b")]);
    cluster.script = (r, where) =>
      r.op === "apply" && r.dryRun === true && where.pod === "web-b"
        ? {
            kind: "reply",
            reply: {
              protocol: 1,
              op: "apply",
              ok: false,
              agent: { name: where.container, runId: "r1", version: "t", ttlLeftMs: 1 },
              commands: [],
              error: { code: "unsupported", message: "PID 1 (sleep) of container web is its PID namespace's init and does not handle SIGTERM; nothing was done" },
            },
          }
        : undefined;
    const run = start(cluster, scenarioOf(KILL.replace("{ container: web }", "{ container: web, signal: SIGTERM }")));
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain("pod default/web-b: refused SIGTERM to container web: PID 1 (sleep) of container web is its PID namespace's init and does not handle SIGTERM");
    expect(result.message).toContain("no pod was signalled");
    expect(result.hint).toContain("SIGKILL always can");
    expect(cluster.requests((r) => isApply(r) && r.dryRun !== true)).toEqual([]);
    expect(observed(run.events)).toEqual([]);
    // both kill agents are told the kill is off (they end now, not at their TTL)
    expect(
      cluster.calls
        .filter((c) => c.op === "exec" && c.request?.op === "revert")
        .map((c) => `${c.pod} ${c.container ?? ""}`)
        .sort(),
    ).toEqual(["web-a chaos-kill-r1-s1", "web-b chaos-kill-r1-s1"]);
  });

  it("names a container the pod does not have, touching nothing", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    const run = start(cluster, scenarioOf(KILL.replace("container: web", "container: db")));
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain("pod default/web-a has no container db (nothing was touched)");
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
  });
});

describe("kill: the recovery window", () => {
  it("a continuous probe under `during` samples through the recovery window, to its end", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    const yaml = KILL.replace("steps:\n", 'probes:\n  web:\n    ab: { url: "http://{{ target.ip }}/", requests: 20, concurrency: 1 }\nsteps:\n').replace(
      "    duration: 30s\n",
      "    duration: 30s\n    during:\n      - probe: web\n        every: 5s\n        expect: { failedRequests: 0 }\n",
    );
    const run = start(cluster, scenarioOf(yaml));
    const result = await finish(run);
    expect(result, result.message).toMatchObject({ exitCode: 0, status: "passed" });
    const watching = run.events.find((e) => e.type === "fault:watching");
    const samples = run.events.flatMap((e) => (e.type === "probe:result" && e.where.phase === "during" && e.series !== undefined ? [e] : []));
    // one sample every 5 s from the kill to the window's end (30 s): the series is not cut at the first sample
    expect(samples.length).toBeGreaterThanOrEqual(5);
    expect(watching?.type === "fault:watching" ? samples.every((e) => e.at < watching.untilAt) : false).toBe(true);
    const judged = run.events.find((e) => e.type === "expect:result" && e.probe === "web");
    expect(judged?.type === "expect:result" ? [judged.outcome.verdict, judged.series?.samples] : []).toEqual(["pass", samples.length]);
  });

  it("a container that does not come back in the window: no recovery.time, the expectation fails, exit 1", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    cluster.killEffect = { kind: "nothing" };
    const run = start(cluster, scenarioOf(KILL));
    const result = await finish(run);
    expect(result.exitCode).toBe(1);
    const [o] = observed(run.events);
    expect(o?.metrics).toEqual({ restarts: 0, exitCode: undefined, "recovery.time": undefined });
    expect(o?.detail).toContain("the container did not exit within 30s");
    const rt = run.events.find((e) => e.type === "expect:result" && e.outcome.metric === "recovery.time");
    expect(rt?.type === "expect:result" ? [rt.outcome.verdict, rt.outcome.reason] : []).toEqual(["error", "the kill measured no recovery.time in pod web-a"]);
  });

  it("Ctrl-C while watching the recovery: the watch ends, nothing to revert, 130", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    cluster.killEffect = { kind: "restart", exitCode: 137, readyAfterMs: 20_000 };
    const run = start(cluster, scenarioOf(KILL));
    await until(() => run.events.some((e) => e.type === "fault:watching"));
    run.interrupt();
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 130, status: "interrupted" });
    expect(cluster.watching).toBe(0);
    expect(cluster.requests((r) => r.op === "revert")).toEqual([]);
    // what was seen until then is still recorded
    expect(observed(run.events).map((o) => o.metrics["restarts"])).toEqual([0]);
  });

  it("ends as soon as every pod has recovered when asked to (the seed verbs)", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    const run = start(cluster, scenarioOf(KILL), { untilRecovered: true });
    const result = await finish(run);
    expect(result.exitCode).toBe(0);
    expect(Date.now() - run.t0).toBeLessThan(5_000);
  });
});

const DELETE = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: delete-test }
target: { namespace: default, selector: { run: web }, mode: all }
probes:
  web:
    ab: { url: "http://{{ target.ip }}/", requests: 20, concurrency: 1 }
steps:
  - name: delete
    fault: { podDelete: { gracePeriod: 0s } }
    duration: 60s
    expect:
      recovery.time: { below: 10s }
      pods.ready: 1
  - name: after
    probe: web
    expect: { failedRequests: 0 }
`;

describe("podDelete", () => {
  it("deletes through the API, watches the ReplicaSet's replacement become Ready, and later probes measure it", async () => {
    const owned = webPod("web-a", { owner: { kind: "ReplicaSet", name: "web-5d9", uid: "rs-1" } });
    const cluster = new RecordingCluster([owned]);
    const run = start(cluster, scenarioOf(DELETE));
    const result = await finish(run);
    expect(result, result.message).toMatchObject({ exitCode: 0, status: "passed" });
    expect(cluster.calls.filter((c) => c.op === "delete-pod" && c.pod === "web-a").map((c) => c.delete)).toEqual([{ gracePeriodSeconds: 0 }]);
    // no agent of any kind
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
    const [o] = observed(run.events);
    expect(o?.metrics).toEqual({ "recovery.time": expect.closeTo(3000, -2), "pods.ready": 1 });
    expect(o?.detail).toMatch(/deleted; its ReplicaSet web-5d9 had web-a-new Ready 3(\.\d+)?s later/);
    // the probe after it ran against the replacement (its own address)
    const ab = cluster.calls.filter((c) => c.op === "exec" && c.request === undefined);
    expect(ab.map((c) => c.argv?.at(-1))).toEqual(["http://198.18.0.99/"]);
    expect(run.events.some((e) => e.type === "warning" && /was (deleted|terminating) during the run/.test(e.message))).toBe(false);
    expect(cluster.watching).toBe(0);
  });

  it("a pod with no controller does not come back: no recovery.time, pods.ready 0", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    const run = start(cluster, scenarioOf(DELETE.replace(/ {2}- name: after[\s\S]*/, "")));
    const result = await finish(run);
    expect(result.exitCode).toBe(1);
    const [o] = observed(run.events);
    expect(o?.metrics).toEqual({ "recovery.time": undefined, "pods.ready": 0 });
    expect(o?.detail).toBe("deleted; it has no controller, so it does not come back");
  });

  it("a probe after deleting a pod that does not come back measures nothing, and says so: it does not pass", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    const run = start(cluster, scenarioOf(DELETE.replace(/ {4}expect:\n {6}recovery\.time[^\n]*\n {6}pods\.ready: 1\n/, "")));
    const result = await finish(run);
    expect(result.exitCode).toBe(1);
    const e = run.events.find((x) => x.type === "expect:result" && x.probe === "web");
    expect(e?.type === "expect:result" ? [e.outcome.verdict, e.outcome.reason] : []).toEqual(["error", "no target pod is left to measure: deleted, and not replaced"]);
    expect(cluster.calls.some((c) => c.op === "exec" && c.request === undefined)).toBe(false);
  });

  it("Ctrl-C while its controller replaces it: the watch ends cleanly, 130", async () => {
    const owned = webPod("web-a", { owner: { kind: "ReplicaSet", name: "web-5d9", uid: "rs-1" } });
    const cluster = new RecordingCluster([owned]);
    cluster.replacementReadyAfterMs = 40_000;
    const run = start(cluster, scenarioOf(DELETE));
    await until(() => run.events.some((e) => e.type === "fault:watching"));
    run.interrupt();
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 130, status: "interrupted" });
    expect(cluster.watching).toBe(0);
    expect(observed(run.events).map((o) => o.metrics)).toEqual([{ "recovery.time": undefined, "pods.ready": 0 }]);
  });
});

const STRESS = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: stress-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: burn
    fault: { stress: { cpu: { workers: 2, load: "50%" }, memory: { size: 8Mi } } }
    duration: 10s
    expect:
      cpu.load: { within: [42.5%, 57.5%] }
      cpu.throttled: { above: 10% }
      memory.oomKilled: 0
`;

describe("stress", () => {
  it("is held by a stress agent of its own (no capability), renewed, stopped, and its reading checked", async () => {
    const cluster = new RecordingCluster([webPod("web-a", { limits: { cpuMilli: 500, memoryBytes: 64 << 20 } })]);
    const run = start(cluster, scenarioOf(STRESS));
    const result = await finish(run);
    expect(result, result.message).toMatchObject({ exitCode: 0, status: "passed" });
    // not the pod's network agent: a container of its own, which an OOM kill of it cannot take along
    const added = cluster.calls.filter((c) => c.op === "add-agent");
    expect(added.map((c) => c.container)).toEqual(["chaos-stress-r1-s1"]);
    expect(added[0]?.spec).toMatchObject({ args: ["serve", "--ttl", "70s", "--kinds", "stress"], securityContext: { capabilities: [] } });
    expect(added[0]?.spec && "targetContainerName" in added[0].spec ? added[0].spec.targetContainerName : undefined).toBeUndefined();
    expect(cluster.requests((r) => r.op !== "renew").map((r) => r.request.op)).toEqual(["apply", "revert"]);
    expect(cluster.requests((r) => r.op === "renew").length).toBeGreaterThan(5);
    const [o] = observed(run.events);
    expect(o?.metrics).toMatchObject({
      "cpu.load": 0.5,
      "cpu.usage": 1,
      "cpu.throttled": 0.5,
      "cpu.throttledTime": 5000,
      "memory.allocated": 8 << 20,
      "memory.oomKilled": 0,
      restarts: 0,
      oomKilled: 0,
    });
    expect(o?.detail).toContain("2 CPU workers: asked 50% of a CPU each, achieved 50.0% over 10.0s; the pod's CPU limit (500m) throttled the agent 50% of the time");
    expect(o?.detail).toContain("memory: 8Mi of 8Mi allocated under the pod's limit of 64Mi");
    expect(o?.detail).toContain("the stressors ran in a stress agent of their own, in the pod's cgroup, outside container web's own");
    expect(results(run.events)).toEqual(["web-a cpu.load pass", "web-a cpu.throttled pass", "web-a memory.oomKilled pass"]);
  });

  it("the OOM killer takes the stress agent's whole container (cgroup v2): the fault ended with it, said so, not exit 4", async () => {
    const cluster = new RecordingCluster([webPod("web-a", { limits: { cpuMilli: undefined, memoryBytes: 64 << 20 } })]);
    let dead = false;
    cluster.script = (_r, where) => (dead && where.container.startsWith("chaos-stress-") ? { kind: "drop", error: `container not found ("${where.container}")` } : undefined);
    const run = start(cluster, scenarioOf(STRESS.replace(/ {4}expect:[\s\S]*/, "    expect: { memory.oomKilled: 1, restarts: 0 }\n")));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    dead = true;
    cluster.setContainer("web-a", "chaos-stress-r1-s1", { state: "terminated", reason: "OOMKilled", exitCode: 137 });
    const result = await finish(run);
    expect(result, result.message).toMatchObject({ exitCode: 0, status: "passed" });
    const reverted = run.events.find((e) => e.type === "fault:reverted");
    expect(reverted?.type === "fault:reverted" ? [reverted.confirmed, reverted.detail] : []).toEqual([
      true,
      "its agent chaos-stress-r1-s1 ended (OOMKilled 137): the stressors were its processes and ended with it",
    ]);
    const [o] = observed(run.events);
    expect(o?.metrics["memory.oomKilled"]).toBe(1);
    expect(o?.detail).toContain("the OOM killer took the stress agent's container chaos-stress-r1-s1 (its processes together, as the kubelet has it on cgroup v2), under the pod's limit of 64Mi");
  });

  it("Ctrl-C: the stressors are stopped at once, 130", async () => {
    const cluster = new RecordingCluster([webPod("web-a")]);
    const run = start(cluster, scenarioOf(STRESS));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    run.interrupt();
    const result = await finish(run);
    expect(result.exitCode).toBe(130);
    expect(cluster.requests((r) => r.op === "revert").length).toBe(1);
    expect(Date.now() - run.t0).toBeLessThan(2000);
  });
});
