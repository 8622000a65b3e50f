// A probe run's context for unit tests: the recording cluster's pods as the targets, a chaos-tools
// pod that is already there, the environment and the runner's HTTP given.
import type { HttpGet } from "../../src/probes/fetch.js";
import type { ProbeRunContext } from "../../src/probes/run.js";
import type { RecordingCluster } from "./recording-cluster.js";

export function probeContext(cluster: RecordingCluster, env: Readonly<Record<string, string>>, httpGet: HttpGet = async () => ({ status: 200, body: "" })): ProbeRunContext {
  return {
    cluster,
    tools: async () => ({ namespace: "default", name: "chaos-tools-r1", container: "tools", image: "chaos-tools:latest", created: true }),
    targets: [...cluster.pods.values()],
    env,
    signal: new AbortController().signal,
    timeoutMs: 10_000,
    namespace: "default",
    httpGet,
    now: () => Date.parse("2026-12-01T10:00:00.000Z"),
  };
}
