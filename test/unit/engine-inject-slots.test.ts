// --concurrency bounds the pods worked on at once while the agents are added, not the pods whose
// agent is starting: a pod gives its slot to the next once its container was added and it waits
// for it to run (on the namespace's one watch), so the node starts the containers side by side.
// The work itself — the reuse check's exec, the patch — still goes `concurrency` at a time.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ContainerInfo, PodInfo } from "../../src/kube/types.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, SimAgent, pod } from "./recording-cluster.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

/** A node that takes `startMs` to start an agent's container once it was added. */
class SlowStart extends RecordingCluster {
  constructor(
    pods: readonly PodInfo[],
    private readonly startMs: number,
  ) {
    super(pods);
  }

  override async waitContainerRunning(namespace: string, podName: string, container: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<PodInfo> {
    await new Promise((r) => setTimeout(r, this.startMs));
    return super.waitContainerRunning(namespace, podName, container, options);
  }
}

const at = (c: RecordingCluster, op: string, t0: number): number[] => c.calls.filter((x) => x.op === op).map((x) => x.at - t0);

describe("adding the agents, --concurrency 1", () => {
  it("a pod waiting for its agent to run holds no slot: every agent is added at once, and all start side by side", async () => {
    const cluster = new SlowStart([pod("web-a"), pod("web-b"), pod("web-c")], 1000);
    const run = start(cluster, scenarioOf(ONE_FAULT), { concurrency: 1 });
    expect((await finish(run)).exitCode).toBe(0);
    // in waves of one (the slot held through the wait) they were added at 0, 1000 and 2000 ms
    expect(at(cluster, "add-agent", run.t0)).toEqual([0, 0, 0]);
    const ready = run.events.filter((e) => e.type === "agent:ready");
    expect(ready.map((e) => e.at - run.t0)).toEqual([1000, 1000, 1000]);
    // in the pods' order, as before
    expect(ready.map((e) => e.type === "agent:ready" && e.pod.name)).toEqual(["web-a", "web-b", "web-c"]);
  });

  it("the work still goes one pod at a time: the reuse checks' status execs one after the other", async () => {
    // a running agent of the image, with the capabilities and the TTL the run needs: reused after a status exec
    const running = pod("x").containers[0] as ContainerInfo;
    const old: ContainerInfo = { ...running, name: "chaos-agent-old", image: "docker.io/library/chaos-agent:latest", runId: "old", capabilities: ["NET_ADMIN", "NET_RAW"] };
    const names = ["web-a", "web-b", "web-c"];
    const cluster = new SlowStart(
      names.map((n) => pod(n, { ephemeralContainers: [old] })),
      1000,
    );
    for (const n of names) cluster.agents.set(`${n}/chaos-agent-old`, new SimAgent("chaos-agent-old", "old", 400_000));
    cluster.script = (req, _where, agent) => (req.op === "status" ? { kind: "reply", reply: agent.answer(req, Date.now()), afterMs: 300 } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT), { concurrency: 1 });
    expect((await finish(run)).exitCode).toBe(0);
    const statuses = cluster.requests((r) => r.op === "status").map((r) => r.at - run.t0);
    expect(statuses).toEqual([0, 300, 600]);
  });
});
