// The target pods as the run knows them while it goes: read once when the plan was made, then
// followed on the namespace's one watch — a pod that goes away (deleted, terminating) is gone for
// every later step and revert; a pod this run deleted (podDelete) is no news; a deleted pod's Ready
// replacement is what later probes measure instead.
import type { Cluster, PodInfo } from "../kube/types.js";
import { podKey, type EventSink, type PodRef } from "./events.js";

export class Targets {
  /** pods that went away (deleted or terminating), by namespace/name: how */
  private readonly goneHow = new Map<string, string>();
  /** pods this run deleted (podDelete): their going is the fault, not news */
  private readonly deletedByRun = new Set<string>();
  /** a deleted pod's Ready replacement, which later probes measure instead */
  private readonly replacements = new Map<string, PodInfo>();
  private readonly followers: (() => void)[] = [];

  constructor(
    /** as read when the plan was made */
    readonly pods: readonly PodInfo[],
    private readonly emit: EventSink,
    private readonly now: () => number,
  ) {}

  /** Pods that went away (deleted or terminating), by namespace/name: how. */
  get gone(): ReadonlyMap<string, string> {
    return this.goneHow;
  }

  /** The target pods still there. */
  live(): PodInfo[] {
    return this.pods.filter((p) => !this.isGone(p));
  }

  isGone(pod: PodRef): boolean {
    return this.goneHow.has(podKey(pod));
  }

  /** What probes measure: each target pod still there, or the replacement of one the run deleted. */
  measured(): PodInfo[] {
    return this.pods.flatMap((p) => {
      const replacement = this.replacements.get(podKey(p));
      return replacement !== undefined ? [replacement] : this.isGone(p) ? [] : [p];
    });
  }

  /** One follower per target pod on the namespace's one watch: the pod going, and `changed` (its agent ending). */
  follow(cluster: Cluster, changed: (pod: PodInfo) => void): void {
    for (const pod of this.pods) {
      const gone = (reason: string): void => {
        this.goneHow.set(podKey(pod), reason);
        if (!this.deletedByRun.has(podKey(pod))) this.emit({ type: "warning", at: this.now(), message: `target pod ${podKey(pod)} was ${reason} during the run` });
      };
      this.followers.push(cluster.followPod(pod.namespace, pod.name, { gone, changed }));
    }
  }

  unfollow(): void {
    for (const stop of this.followers) stop();
  }

  /** The run is about to delete this pod: its going is no surprise. */
  deleting(pod: PodRef): void {
    this.deletedByRun.add(podKey(pod));
  }

  /** A deleted pod's replacement is Ready: later probes measure it instead. */
  replaced(old: PodRef, replacement: PodInfo): void {
    this.replacements.set(podKey(old), replacement);
    this.emit({ type: "warning", at: this.now(), message: `pod ${podKey(old)} was replaced by ${replacement.name}: later probes measure ${replacement.name}` });
  }
}
