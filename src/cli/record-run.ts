// What a run leaves besides its report directory, wired for the run verb: inside the cluster (and
// with --record) Events on its target pods and its result kept as a ConfigMap (src/results), and
// with --pushgateway its metrics pushed. Rights are checked before anything is touched; what
// fails at the end is said, and the run's exit status stays its own.
import type { EngineEvent, PodRef } from "../engine/events.js";
import type { Cluster, ConnectedCluster, PodInfo } from "../kube/types.js";
import type { Journal } from "../report/journal.js";
import type { CliIO } from "./io.js";

export interface RecordFlags {
  /** --record: true; --no-record: false; neither: only inside the cluster */
  readonly record: boolean | undefined;
  readonly keep: number | undefined;
  readonly pushgateway: string | undefined;
}

export interface Recording {
  readonly observe: (e: EngineEvent) => void;
  /** the target pods as resolved (their UIDs, for the Events) */
  readonly targets: (pods: readonly PodInfo[]) => void;
  /** after the run: the result kept and pruned, the metrics pushed; each said on stdout, a failure on stderr */
  readonly finish: (journal: Journal) => Promise<void>;
}

/** The pod this CLI runs in, inside the cluster: the Job's downward API, else the pod's hostname in its ServiceAccount's namespace. */
export function runnerPodOf(io: CliIO, cluster: ConnectedCluster): PodRef | undefined {
  const name = io.env["CHAOS_RUN_POD_NAME"];
  const namespace = io.env["CHAOS_RUN_POD_NAMESPACE"];
  if (name !== undefined && name !== "" && namespace !== undefined && namespace !== "") return { namespace, name };
  const host = io.env["HOSTNAME"];
  return cluster.identity.inCluster === true && host !== undefined && host !== "" ? { namespace: cluster.identity.namespace, name: host } : undefined;
}

/** How long a run inside the cluster waits for the API server to show its own pod Running. */
const RUNNER_SEEN_MS = 10_000;

/**
 * The runner's own pod as the API server shows it once Running, when its namespace is the targets'
 * (elsewhere it can be no target); else as soon as it waited RUNNER_SEEN_MS, or could not read it.
 * The runner starts before the kubelet reports its pod Running: read before then, a selector that
 * matches it skips it as Pending with the pods not running, and the preflight, which refuses a run
 * whose target candidates hold its own pod, would not see it (a run of it alone then said "no pods";
 * one that matched others too went on without it). Waiting lets the refusal say what it is.
 */
export async function awaitRunnerSeen(cluster: Cluster, runner: PodRef | undefined, targetNamespace: string, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))): Promise<void> {
  if (runner === undefined || runner.namespace !== targetNamespace) return;
  const deadline = Date.now() + RUNNER_SEEN_MS;
  while (Date.now() < deadline) {
    let pod: PodInfo | undefined;
    try {
      pod = await cluster.getPod(runner.namespace, runner.name);
    } catch {
      return; // not allowed to read it: the preflight says so
    }
    if (pod === undefined || pod.phase === "Running") return;
    await sleep(200);
  }
}

const PUSH_TIMEOUT_MS = 10_000;

/** Starts what the run records (undefined: nothing to do); refuses, before anything is touched, a record it may not make. */
export async function startRecording(io: CliIO, cluster: ConnectedCluster, targetNamespace: string, runId: string, flags: RecordFlags): Promise<Recording | undefined> {
  const record = flags.record ?? cluster.identity.inCluster === true;
  if (!record && flags.pushgateway === undefined) return undefined;
  const warn = (m: string): void => io.stderr.write(`chaos-run: ${m}\n`);
  const runner = runnerPodOf(io, cluster);
  let recorder: import("../results/record.js").RunRecorder | undefined;
  if (record) {
    const { DEFAULT_KEEP, RunRecorder } = await import("../results/record.js");
    const instance = io.env["CHAOS_RUN_INSTANCE"];
    const settings = {
      namespace: runner?.namespace ?? targetNamespace,
      keep: flags.keep ?? DEFAULT_KEEP,
      instance: instance === undefined || instance === "" ? undefined : instance,
      reporter: runner?.name ?? io.env["HOSTNAME"] ?? "chaos-run",
    };
    recorder = new RunRecorder(cluster, runId, settings, warn);
    await recorder.checkAccess(cluster, targetNamespace);
  }
  return {
    observe: (e) => recorder?.events.observe(e),
    targets: (pods) => recorder?.events.targets(pods),
    finish: async (journal) => {
      const kept = await recorder?.finish(journal);
      if (kept !== undefined) {
        io.stdout.write(`result: configmap ${kept.name} in namespace ${kept.namespace} (chaos-run report --from-cluster ${kept.name} -n ${kept.namespace})\n`);
        if (kept.trimmed.length > 0) warn(`the result ${kept.name} holds a trimmed journal, to fit the API's 1 MiB: ${kept.trimmed.join("; ")}`);
      }
      if (flags.pushgateway !== undefined) await push(io, flags.pushgateway, journal, warn);
    },
  };
}

async function push(io: CliIO, url: string, journal: Journal, warn: (m: string) => void): Promise<void> {
  const { pushMetrics } = await import("../results/metrics.js");
  const { processRedactor } = await import("../scenario/redact.js");
  try {
    const where = await pushMetrics(url, processRedactor().value(journal), PUSH_TIMEOUT_MS);
    io.stdout.write(`metrics: pushed to ${where}\n`);
  } catch (e) {
    warn(`could not push the run's metrics to ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
