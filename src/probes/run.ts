// Probes: the chaos-tools pod they run in, and one probe run (ab by argv in that pod, once per
// target pod when its URL names the target, plus an aggregate). What the system does is
// measured, never an error; only a probe that cannot run at all is (exit 3).
import { CouldNotRunError } from "../errors.js";
import type { Cluster, PodInfo, PullPolicy } from "../kube/types.js";
import type { PlannedProbeRun } from "../plan/types.js";
import { renderTemplate } from "../scenario/template.js";
import { parseAb, type AbFailures } from "./ab.js";

export const TOOLS_LABELS = { "app.kubernetes.io/name": "chaos-tools", "app.kubernetes.io/managed-by": "chaos-run" } as const;

export type Metrics = Readonly<Record<string, number | undefined>>;

export interface ProbeOutcome {
  readonly probe: string;
  readonly kind: "ab";
  /** the target pod this run measured; undefined when the URL names no target */
  readonly pod: string | undefined;
  /** true for the aggregate of several per-pod runs */
  readonly aggregate: boolean;
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly metrics: Metrics;
  readonly failures: AbFailures | undefined;
  readonly keepAlive: boolean;
  /** ab stopped early (a socket timeout): every request was counted as failed */
  readonly stoppedEarly: string | undefined;
}

export interface ToolsPod {
  readonly namespace: string;
  readonly name: string;
  /** the container the probes exec in */
  readonly container: string;
  readonly image: string;
  /** made by this run (and deleted at its end) rather than found running */
  readonly created: boolean;
}

export interface ToolsPodRequest {
  readonly namespace: string;
  readonly image: string;
  /** this run's own: `chaos-tools-<runId>` (never another run's, which that run deletes at its end) */
  readonly name: string;
  readonly runId: string;
  readonly pullPolicy: PullPolicy;
}

/** Creates this run's chaos-tools pod and waits for it to run; deletes it again if it cannot. */
export async function createToolsPod(cluster: Cluster, req: ToolsPodRequest, signal: AbortSignal, timeoutMs: number): Promise<ToolsPod> {
  await cluster.createPod(req.namespace, { name: req.name, image: req.image, pullPolicy: req.pullPolicy, labels: { ...TOOLS_LABELS, "chaos-run.dev/run": req.runId }, command: ["sleep", "infinity"] });
  try {
    await cluster.waitContainerRunning(req.namespace, req.name, "tools", { signal, timeoutMs });
  } catch (e) {
    await cluster.deletePod(req.namespace, req.name).catch(() => undefined);
    throw e;
  }
  return { namespace: req.namespace, name: req.name, container: "tools", image: req.image, created: true };
}

/**
 * Combines per-pod results: counts and throughput add up, the mean is weighted by completed
 * requests, min is the least and the other percentiles the worst (the largest) of the pods —
 * percentiles of different pods cannot be merged exactly, so the aggregate errs towards alarm.
 */
export function aggregateMetrics(results: readonly Metrics[]): Metrics {
  const values = (k: string): number[] => results.map((r) => r[k]).filter((v): v is number => v !== undefined);
  const sum = (k: string): number | undefined => (values(k).length === 0 ? undefined : values(k).reduce((a, b) => a + b, 0));
  const keys = new Set(results.flatMap((r) => Object.keys(r)));
  const out: Record<string, number | undefined> = {};
  for (const k of keys) {
    const vs = values(k);
    if (vs.length === 0) out[k] = undefined;
    else if (k === "latency.mean") {
      const weighted = results.filter((r) => r[k] !== undefined && (r["completeRequests"] ?? 0) - (r["failedRequests"] ?? 0) > 0);
      const weight = (r: Metrics): number => (r["completeRequests"] ?? 0) - (r["failedRequests"] ?? 0);
      const total = weighted.reduce((a, r) => a + weight(r), 0);
      out[k] = total === 0 ? undefined : weighted.reduce((a, r) => a + (r[k] ?? 0) * weight(r), 0) / total;
    } else if (k === "latency.min") out[k] = Math.min(...vs);
    else if (k.startsWith("latency.")) out[k] = Math.max(...vs);
    else out[k] = sum(k);
  }
  return out;
}

export interface ProbeRunContext {
  readonly cluster: Cluster;
  readonly tools: ToolsPod;
  readonly targets: readonly PodInfo[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  /** ab's own bound is requests × -s; this bounds the exec as a whole */
  readonly timeoutMs: number;
}

/** Runs a planned probe: one outcome per target pod (if the URL names the target) plus an aggregate, or one. */
export async function runProbe(run: PlannedProbeRun, ctx: ProbeRunContext): Promise<ProbeOutcome[]> {
  const template = run.argv[run.argv.length - 1] ?? "";
  const requests = Number(run.argv[run.argv.indexOf("-n") + 1] ?? "1");
  const keepAlive = run.argv.includes("-k");
  const once = async (target: PodInfo | undefined): Promise<ProbeOutcome> => {
    let url: string;
    try {
      url = renderTemplate(template, { ...(target === undefined ? {} : { target: { ip: target.ip ?? "", name: target.name } }), env: ctx.env });
    } catch (e) {
      throw new CouldNotRunError(`probe ${run.probe}: cannot fill in its URL ${template}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (target !== undefined && (target.ip === undefined || target.ip === "")) throw new CouldNotRunError(`probe ${run.probe}: target pod ${target.name} has no IP`);
    const argv = [...run.argv.slice(0, -1), url];
    const r = await ctx.cluster.exec(ctx.tools.namespace, ctx.tools.name, ctx.tools.container, argv, { signal: ctx.signal, timeoutMs: ctx.timeoutMs });
    if (r.canceled) throw ctx.signal.reason;
    if (r.exitCode === undefined && r.stdout === "") {
      throw new CouldNotRunError(`probe ${run.probe} could not run in pod ${ctx.tools.namespace}/${ctx.tools.name}: ${r.error ?? "no exit status"}`);
    }
    const parsed = parseAb(r.stdout, r.stderr, r.exitCode, requests);
    if (!parsed.ok) {
      throw new CouldNotRunError(`probe ${run.probe} could not run in pod ${ctx.tools.namespace}/${ctx.tools.name}: ${parsed.error}`, {
        hint: `the command was: ${argv.join(" ")}`,
      });
    }
    return {
      probe: run.probe,
      kind: "ab",
      pod: target?.name,
      aggregate: false,
      argv,
      exitCode: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      durationMs: r.durationMs,
      metrics: parsed.metrics,
      failures: parsed.failures,
      keepAlive,
      stoppedEarly: parsed.stoppedEarly,
    };
  };
  if (!run.perTargetPod) return [await once(undefined)];
  const outcomes: ProbeOutcome[] = [];
  // one at a time: probes from one tools pod must not compete with each other for the network
  for (const t of ctx.targets) outcomes.push(await once(t));
  if (outcomes.length <= 1) return outcomes;
  const failures = outcomes.reduce<AbFailures>(
    (a, o) => ({
      connect: a.connect + (o.failures?.connect ?? 0),
      receive: a.receive + (o.failures?.receive ?? 0),
      length: a.length + (o.failures?.length ?? 0),
      exceptions: a.exceptions + (o.failures?.exceptions ?? 0),
      timeout: a.timeout + (o.failures?.timeout ?? 0),
    }),
    { connect: 0, receive: 0, length: 0, exceptions: 0, timeout: 0 },
  );
  outcomes.push({
    probe: run.probe,
    kind: "ab",
    pod: undefined,
    aggregate: true,
    argv: run.argv,
    exitCode: undefined,
    stdout: "",
    stderr: "",
    durationMs: outcomes.reduce((a, o) => a + o.durationMs, 0),
    metrics: aggregateMetrics(outcomes.map((o) => o.metrics)),
    failures,
    keepAlive,
    stoppedEarly: undefined,
  });
  return outcomes;
}
