// A run inside the cluster waits for the API server to show its own pod Running before it
// resolves its targets (src/cli/record-run.ts): until then a selector that matches the runner
// skips it as Pending, and the preflight's refusal of a run that would target itself cannot see it.
import { describe, expect, it } from "vitest";
import { awaitRunnerSeen } from "../../src/cli/record-run.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

const runner = { namespace: "default", name: "chaos-run-x-abcde" };

describe("awaitRunnerSeen", () => {
  it("waits while the runner's own pod is Pending, and goes on once it is Running", async () => {
    const cluster = new RecordingCluster([pod(runner.name, { phase: "Pending" })]);
    let slept = 0;
    await awaitRunnerSeen(cluster, runner, "default", async () => {
      slept++;
      if (slept === 3) cluster.pods.set(runner.name, pod(runner.name, { phase: "Running" }));
    });
    expect(slept).toBe(3);
    expect(cluster.calls.filter((c) => c.op === "get-pod")).toHaveLength(4);
  });

  it("does not look when the runner runs in another namespace than its targets (it can be no target)", async () => {
    const cluster = new RecordingCluster([pod(runner.name, { phase: "Pending" })]);
    await awaitRunnerSeen(cluster, runner, "shop", async () => undefined);
    await awaitRunnerSeen(cluster, undefined, "default", async () => undefined);
    expect(cluster.calls).toEqual([]);
  });

  it("goes on when its pod is not there to read", async () => {
    const cluster = new RecordingCluster([]);
    await awaitRunnerSeen(cluster, runner, "default", async () => undefined);
    expect(cluster.calls.map((c) => c.op)).toEqual(["get-pod"]);
  });
});
