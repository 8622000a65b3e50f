// The podDelete step: every target pod deleted through the API (no agent), then its controller
// watched for the step's window: recovery is measured, not assumed — the time until a
// replacement from the same controller (a new pod of the ReplicaSet; for a StatefulSet, the same
// name with a new UID) is Ready. A pod with no controller does not come back, and is said so.
// An event: nothing is reverted; Ctrl-C only stops the watching.
import { CouldNotRunError } from "../errors.js";
import { formatDuration } from "../expect/format.js";
import type { PodInfo } from "../kube/types.js";
import type { PlannedApiFault, PlannedFaultStep } from "../plan/types.js";
import type { PodRef } from "./events.js";
import type { EventStepContext, Observation } from "./kill.js";
import { eventWindow } from "./window.js";

export type PodDeleteStep = PlannedFaultStep & { readonly fault: PlannedApiFault };

export function isPodDeleteStep(step: PlannedFaultStep): step is PodDeleteStep {
  return step.fault.delivery === "api";
}

export interface PodDeleteContext extends EventStepContext {
  /** a deleted pod's replacement is Ready: later probes measure it instead */
  readonly replaced: (old: PodRef, replacement: PodInfo) => void;
  /** the run is about to delete this pod: its going is no surprise */
  readonly deleting: (pod: PodRef) => void;
}

const podKey = (p: PodRef): string => `${p.namespace}/${p.name}`;

interface Deleted {
  readonly pod: PodRef;
  readonly uid: string;
  /** the controller's kind, name and UID; undefined: none */
  readonly owner: { readonly kind: string; readonly name: string; readonly uid: string } | undefined;
  deletedAt: number | undefined;
  replacement: PodInfo | undefined;
  recoveredAt: number | undefined;
}

export async function runPodDeleteStep(step: PodDeleteStep, ctx: PodDeleteContext): Promise<Observation[]> {
  const f = step.fault;
  const namespaces = [...new Set(ctx.pods().map((p) => p.namespace))];
  const targets: Deleted[] = [];
  for (const p of ctx.pods()) {
    const fresh = await ctx.cluster.getPod(p.namespace, p.name);
    if (fresh === undefined || fresh.deleting) throw new CouldNotRunError(`pod ${podKey(p)} is already gone: there is nothing to delete`);
    const o = fresh.owner;
    targets.push({
      pod: { namespace: p.namespace, name: p.name },
      uid: fresh.uid,
      owner: o === undefined || o.uid === undefined ? undefined : { kind: o.kind, name: o.name, uid: o.uid },
      deletedAt: undefined,
      replacement: undefined,
      recoveredAt: undefined,
    });
  }
  /** every pod known in the namespaces, by UID: the controllers' pods are counted from it */
  const known = new Map<string, PodInfo>();
  /** pods that existed before the deletion: not replacements */
  const before = new Set<string>();
  let window: ReturnType<typeof eventWindow> | undefined;
  const claim = (pod: PodInfo): void => {
    if (!pod.ready || pod.deleting || before.has(pod.uid)) return;
    if ([...targets].some((t) => t.replacement?.uid === pod.uid)) return;
    const t = targets.find(
      (x) =>
        x.replacement === undefined &&
        x.deletedAt !== undefined &&
        x.owner !== undefined &&
        pod.namespace === x.pod.namespace &&
        pod.owner?.uid === x.owner.uid &&
        pod.uid !== x.uid &&
        // a StatefulSet's replacement has the deleted pod's name
        (x.owner.kind !== "StatefulSet" || pod.name === x.pod.name),
    );
    if (t === undefined) return;
    t.replacement = pod;
    t.recoveredAt = ctx.now();
    ctx.replaced(t.pod, pod);
  };
  const stops: (() => void)[] = [];
  const readyOf = (t: Deleted): number | undefined =>
    t.owner === undefined ? 0 : [...known.values()].filter((p) => p.owner?.uid === t.owner?.uid && p.ready && !p.deleting && p.uid !== t.uid).length;
  const observations = (): Observation[] =>
    targets
      .filter((t) => t.deletedAt !== undefined)
      .map((t) => {
        const recovery = t.recoveredAt !== undefined && t.deletedAt !== undefined ? t.recoveredAt - t.deletedAt : undefined;
        const detail =
          t.owner === undefined
            ? "deleted; it has no controller, so it does not come back"
            : recovery !== undefined
              ? `deleted; its ${t.owner.kind} ${t.owner.name} had ${t.replacement?.name ?? "a replacement"} Ready ${formatDuration(recovery)} later`
              : `deleted; its ${t.owner.kind} ${t.owner.name} had no replacement Ready within ${formatDuration(step.durationMs)}`;
        return { pod: t.pod, metrics: { "recovery.time": recovery, "pods.ready": readyOf(t) }, detail };
      });
  try {
    // watch first, then list: no replacement can appear unseen
    for (const ns of namespaces) {
      stops.push(
        await ctx.cluster.watchPods(ns, undefined, (pod, gone) => {
          if (gone) known.delete(pod.uid);
          else known.set(pod.uid, pod);
          if (!gone) claim(pod);
          window?.poke();
        }),
      );
      for (const p of await ctx.cluster.listPods(ns, undefined)) {
        known.set(p.uid, p);
        before.add(p.uid);
      }
    }
    const grace = f.fault.gracePeriodMs === undefined ? undefined : Math.ceil(f.fault.gracePeriodMs / 1000);
    for (const t of targets) {
      ctx.deleting(t.pod);
      const started = ctx.now();
      await ctx.cluster.deletePod(t.pod.namespace, t.pod.name, { gracePeriodSeconds: grace });
      t.deletedAt = started;
      const how = t.owner === undefined ? "it has no controller: it will not come back" : `its ${t.owner.kind} ${t.owner.name} should replace it`;
      ctx.emit({
        type: "fault:applied",
        at: ctx.now(),
        index: step.index,
        faultId: f.id,
        pod: t.pod,
        iface: undefined,
        families: [],
        detail: `deleted through the API${grace === undefined ? "" : ` (grace period ${grace}s)`}; ${how}`,
        commands: [],
        durationMs: ctx.now() - started,
      });
    }
    const from = ctx.now();
    // a replacement may already be Ready (a fast controller)
    for (const p of known.values()) claim(p);
    const recoverable = targets.filter((t) => t.owner !== undefined);
    window = eventWindow(from + step.durationMs, ctx.now, ctx.signal, () => ctx.untilRecovered && recoverable.every((t) => t.recoveredAt !== undefined));
    ctx.emit({ type: "fault:watching", at: from, index: step.index, faultId: f.id, summary: f.summary, pods: targets.map((t) => t.pod), untilAt: from + step.durationMs });
    if (step.during.length > 0) await ctx.during(step, ctx.signal, from + step.durationMs);
    await window.wait();
  } finally {
    for (const stop of stops) stop();
    for (const o of observations()) ctx.emit({ type: "fault:observed", at: ctx.now(), index: step.index, faultId: f.id, kind: "podDelete", pod: o.pod, metrics: o.metrics, detail: o.detail });
  }
  return observations();
}
