// The run's chaos-tools pod, where ab and http probes run. Its life is bounded whatever happens
// to the runner (a SIGKILL, a lost laptop): its command ends by itself (`sleep N`, never `sleep
// infinity`), the kubelet ends it at the same deadline (activeDeadlineSeconds), and it runs once
// (restartPolicy Never). The deadline is the run's longest possible life: the plan's timeline,
// each probe run's own bound, the agents' injection, and a margin. Its labels say whose it is
// (chaos-run.dev/run) and its annotation until when (chaos-run.dev/expires, RFC 3339): that is
// how `chaos-run sweep` knows a run is gone — its tools pod ended, or its time is past — and
// removes it. It runs as nobody with every capability dropped: the probes need no privilege, and
// it passes the "restricted" Pod Security level.
import { NOBODY, nonRootSecurity } from "../faults/index.js";
import type { Cluster, PodInfo, PodSpecForTools, PullPolicy } from "../kube/types.js";
import type { Plan, PlannedProbeRun } from "../plan/types.js";
import type { ToolsPod } from "../probes/run.js";

export const TOOLS_LABELS = { "app.kubernetes.io/name": "chaos-tools", "app.kubernetes.io/managed-by": "chaos-run" } as const;
/** The label selector of every tools pod chaos-run makes. */
export const TOOLS_SELECTOR = "app.kubernetes.io/name=chaos-tools,app.kubernetes.io/managed-by=chaos-run";
/** The run a tools pod is of. */
export const RUN_LABEL = "chaos-run.dev/run";
/** Until when a tools pod may live (RFC 3339): after it, its run is gone. */
export const EXPIRES_ANNOTATION = "chaos-run.dev/expires";

/** Beyond the run's longest life: the start of the pod, the last probe's end, the reverts. */
export const TOOLS_MARGIN_MS = 5 * 60_000;

/** The longest one probe run can take: its own bound (requests × timeout, over its concurrency), never more than the exec's. */
function probeBoundMs(run: PlannedProbeRun, probeTimeoutMs: number): number {
  const spec = run.spec;
  if (spec.kind === "ab") {
    // ab's per-request timeout as its argv has it (-s SECONDS)
    const s = Number(run.argv[run.argv.indexOf("-s") + 1]);
    return Number.isFinite(s) && s > 0 ? Math.min(probeTimeoutMs, Math.ceil(spec.ab.requests / spec.ab.concurrency) * s * 1000) : probeTimeoutMs;
  }
  if (spec.kind === "http") return Math.min(probeTimeoutMs, Math.ceil(spec.http.requests / spec.http.concurrency) * spec.http.timeoutMs);
  return probeTimeoutMs;
}

/**
 * How long the run's tools pod may live: the plan's timeline (fault durations and waits, during
 * which continuous probes sample), every probe run once — the steady state before and after,
 * probe steps, a fault's probes run once — at its own bound, each added agent's injection, and
 * TOOLS_MARGIN_MS.
 */
export function toolsLifeMs(plan: Plan, probeTimeoutMs: number, injectTimeoutMs: number): number {
  const once = [...plan.steadyState.flatMap((r) => [r, r]), ...plan.steps.flatMap((s) => (s.kind === "probe" ? [s.run] : s.kind === "fault" ? s.during.filter((r) => r.everyMs === undefined) : []))];
  const probes = once.reduce((sum, r) => sum + probeBoundMs(r, probeTimeoutMs), 0);
  const injections = 1 + plan.steps.filter((s) => s.kind === "fault" && s.fault.delivery !== "api").length;
  return plan.timelineMs + probes + injections * injectTimeoutMs + TOOLS_MARGIN_MS;
}

export interface ToolsPodRequest {
  readonly namespace: string;
  readonly image: string;
  /** this run's own: `chaos-tools-<runId>` (never another run's, which that run deletes at its end) */
  readonly name: string;
  readonly runId: string;
  readonly pullPolicy: PullPolicy;
  /** toolsLifeMs */
  readonly lifeMs: number;
  /** now, on the runner's clock (the expiry is written with it) */
  readonly now: number;
}

export function toolsPodSpec(req: ToolsPodRequest): PodSpecForTools {
  const seconds = Math.max(1, Math.ceil(req.lifeMs / 1000));
  return {
    name: req.name,
    image: req.image,
    pullPolicy: req.pullPolicy,
    labels: { ...TOOLS_LABELS, [RUN_LABEL]: req.runId },
    annotations: { [EXPIRES_ANNOTATION]: new Date(req.now + seconds * 1000).toISOString() },
    command: ["sleep", String(seconds)],
    activeDeadlineSeconds: seconds,
    securityContext: nonRootSecurity(NOBODY),
  };
}

/** Creates this run's chaos-tools pod and waits for it to run; deletes it again if it cannot. */
export async function createToolsPod(cluster: Cluster, req: ToolsPodRequest, signal: AbortSignal, timeoutMs: number): Promise<ToolsPod> {
  await cluster.createPod(req.namespace, toolsPodSpec(req));
  try {
    await cluster.waitContainerRunning(req.namespace, req.name, "tools", { signal, timeoutMs });
  } catch (e) {
    await cluster.deletePod(req.namespace, req.name).catch(() => undefined);
    throw e;
  }
  return { namespace: req.namespace, name: req.name, container: "tools", image: req.image, created: true };
}

/** Whether a tools pod's run is gone (then sweep removes it), and why; or until when it may still be in use. */
export function toolsPodFate(pod: PodInfo, now: number): { readonly gone: true; readonly why: string } | { readonly gone: false; readonly until: number } {
  if (pod.phase === "Succeeded" || pod.phase === "Failed") return { gone: true, why: `it ended (${pod.phase})` };
  const expires = pod.annotations?.[EXPIRES_ANNOTATION];
  if (expires === undefined) return { gone: true, why: "it has no expiry: an older chaos-run made it to live for ever (sleep infinity)" };
  const until = Date.parse(expires);
  if (!Number.isFinite(until)) return { gone: true, why: `its expiry ${JSON.stringify(expires)} is not a time` };
  if (until <= now) return { gone: true, why: `its time ran out at ${expires}` };
  return { gone: false, until };
}
