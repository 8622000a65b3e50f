// The podDelete step: every target pod deleted through the API (no agent), then its controller
// watched for the step's window: recovery is measured, not assumed — the time until a
// replacement from the same controller (a new pod of the ReplicaSet; for a StatefulSet, the same
// name with a new UID) is Ready. A pod with no controller does not come back, and is said so.
// An event: nothing is reverted; Ctrl-C only stops the watching.
import { CouldNotRunError } from "../../errors.js";
import { formatDuration } from "../../expect/format.js";
import type { PodInfo } from "../../kube/types.js";
import type { PlannedApiFault } from "../../plan/types.js";
import { podKey, type PodRef } from "../events.js";
import { eventWindow, watchWindow, type Window } from "./event-window.js";
import { emitApplied, emitObserved, type FaultStepOf, type Observation, type StepContext, type StepRunner } from "./step-runner.js";

export type PodDeleteStep = FaultStepOf<PlannedApiFault>;

interface Deleted {
  readonly pod: PodRef;
  readonly uid: string;
  /** the controller's kind, name and UID; undefined: none */
  readonly owner: { readonly kind: string; readonly name: string; readonly uid: string } | undefined;
  deletedAt: number | undefined;
  replacement: PodInfo | undefined;
  recoveredAt: number | undefined;
}

/** Each target pod as it is now, with the controller that should replace it; one already gone stops the step. */
async function readTargets(ctx: StepContext): Promise<Deleted[]> {
  const targets: Deleted[] = [];
  for (const p of ctx.targets.live()) {
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
  return targets;
}

/** One deletion step: its targets, and the pods of their namespaces as the watch shows them. */
class PodDeletion {
  /** every pod known in the namespaces, by UID: the controllers' pods are counted from it */
  private readonly known = new Map<string, PodInfo>();
  /** pods that existed before the deletion: not replacements */
  private readonly before = new Set<string>();
  private readonly stops: (() => void)[] = [];
  private window: Window | undefined;

  constructor(
    private readonly step: PodDeleteStep,
    private readonly targets: readonly Deleted[],
    private readonly ctx: StepContext,
  ) {}

  /** Watch first, then list: no replacement can appear unseen. */
  async watch(namespaces: readonly string[]): Promise<void> {
    for (const ns of namespaces) {
      this.stops.push(
        await this.ctx.cluster.watchPods(ns, undefined, (pod, gone) => {
          if (gone) this.known.delete(pod.uid);
          else this.known.set(pod.uid, pod);
          if (!gone) this.claim(pod);
          this.window?.poke();
        }),
      );
      for (const p of await this.ctx.cluster.listPods(ns, undefined)) {
        this.known.set(p.uid, p);
        this.before.add(p.uid);
      }
    }
  }

  unwatch(): void {
    for (const stop of this.stops) stop();
  }

  /** A new Ready pod of a deleted target's controller is its replacement (the first one only). */
  private claim(pod: PodInfo): void {
    if (!pod.ready || pod.deleting || this.before.has(pod.uid)) return;
    if (this.targets.some((t) => t.replacement?.uid === pod.uid)) return;
    const t = this.targets.find(
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
    t.recoveredAt = this.ctx.now();
    this.ctx.targets.replaced(t.pod, pod);
  }

  async deleteAll(): Promise<void> {
    const f = this.step.fault;
    const grace = f.fault.gracePeriodMs === undefined ? undefined : Math.ceil(f.fault.gracePeriodMs / 1000);
    for (const t of this.targets) {
      this.ctx.targets.deleting(t.pod);
      const started = this.ctx.now();
      await this.ctx.cluster.deletePod(t.pod.namespace, t.pod.name, { gracePeriodSeconds: grace });
      t.deletedAt = started;
      const how = t.owner === undefined ? "it has no controller: it will not come back" : `its ${t.owner.kind} ${t.owner.name} should replace it`;
      const detail = `deleted through the API${grace === undefined ? "" : ` (grace period ${grace}s)`}; ${how}`;
      emitApplied(this.ctx, this.step, t.pod, { iface: undefined, families: [], detail, commands: [] }, started);
    }
  }

  /** The step's window, from the last deletion: over once it ends (or, for the seed verbs, once every pod that can come back has). */
  async watchRecovery(): Promise<void> {
    const from = this.ctx.now();
    // a replacement may already be Ready (a fast controller)
    for (const p of this.known.values()) this.claim(p);
    const recoverable = this.targets.filter((t) => t.owner !== undefined);
    this.window = eventWindow(from + this.step.durationMs, this.ctx.now, this.ctx.signal, () => this.ctx.options.untilRecovered === true && recoverable.every((t) => t.recoveredAt !== undefined));
    await watchWindow(
      this.step,
      this.ctx,
      this.targets.map((t) => t.pod),
      from,
      this.window,
    );
  }

  private readyOf(t: Deleted): number | undefined {
    return t.owner === undefined ? 0 : [...this.known.values()].filter((p) => p.owner?.uid === t.owner?.uid && p.ready && !p.deleting && p.uid !== t.uid).length;
  }

  /** What the deletion measured in each pod deleted. */
  observations(): Observation[] {
    return this.targets
      .filter((t) => t.deletedAt !== undefined)
      .map((t) => {
        const recovery = t.recoveredAt !== undefined && t.deletedAt !== undefined ? t.recoveredAt - t.deletedAt : undefined;
        const detail =
          t.owner === undefined
            ? "deleted; it has no controller, so it does not come back"
            : recovery !== undefined
              ? `deleted; its ${t.owner.kind} ${t.owner.name} had ${t.replacement?.name ?? "a replacement"} Ready ${formatDuration(recovery)} later`
              : `deleted; its ${t.owner.kind} ${t.owner.name} had no replacement Ready within ${formatDuration(this.step.durationMs)}`;
        return { pod: t.pod, metrics: { "recovery.time": recovery, "pods.ready": this.readyOf(t) }, detail };
      });
  }
}

export const podDeleteStep: StepRunner<PodDeleteStep> = {
  accepts: (step): step is PodDeleteStep => step.kind === "fault" && step.fault.delivery === "api",
  run: async (step, ctx) => {
    const namespaces = [...new Set(ctx.targets.live().map((p) => p.namespace))];
    const deletion = new PodDeletion(step, await readTargets(ctx), ctx);
    try {
      await deletion.watch(namespaces);
      await deletion.deleteAll();
      await deletion.watchRecovery();
    } finally {
      deletion.unwatch();
      for (const o of deletion.observations()) emitObserved(ctx, step, "podDelete", o);
    }
    ctx.checks.evaluateFault(step, deletion.observations());
  },
};
