// The stress guard: a stress asks a pod for no more than the pod has, unless the scenario says so
// by name (stress.memory.allowBeyondLimit, stress.cpu.allowBeyondLimit). Memory beyond the pod's
// memory limit measures nothing the limit does not already decide (the pod's cgroup OOM-kills at
// the limit). On a pod without a limit the stress takes its memory from the node — node
// MemoryPressure, neighbours evicted — so there the bound is the pod's request: what the
// scheduler set aside for this pod on its node out of the node's allocatable (the requests of
// the node's pods together stay within it), so that stressing up to it takes nothing promised to
// another pod or to the node's own headroom; a pod without a request has nothing set aside, and
// gets no stress without the opt-in. The same for CPU: workers × load against the pod's CPU limit
// (its CFS quota), else its request (what its cpu.weight guarantees it among its neighbours). No
// permission beyond reading the pod is needed: its spec says all of it. The app uses part of
// what the pod has already, so the bound is an upper bound, not a promise that all of it is free.
// Pure.
import { formatSize } from "../scenario/units.js";
import type { StressFault } from "../faults/types.js";
import type { PlannedPod } from "./types.js";

/** What the guard reads of a pod: its limits and requests (undefined: not known, an offline plan). */
export type PodWithResources = Pick<PlannedPod, "name" | "limits" | "requests">;

export type Resource = "cpu" | "memory";

export interface StressBound {
  /** undefined: the pod has neither a limit nor a request of it */
  readonly bound: number | undefined;
  readonly of: "limit" | "request" | undefined;
}

/** A pod's bound of one resource: its limit, else its request. */
export function boundOf(pod: PodWithResources, resource: Resource): StressBound {
  const key = resource === "cpu" ? "cpuMilli" : "memoryBytes";
  const limit = pod.limits?.[key];
  if (limit !== undefined) return { bound: limit, of: "limit" };
  const request = pod.requests?.[key];
  return request !== undefined ? { bound: request, of: "request" } : { bound: undefined, of: undefined };
}

/** CPU in the words the plan uses: `500m`, `2 CPUs`. */
export function cpuText(milli: number): string {
  return milli % 1000 === 0 ? `${milli / 1000} CPU${milli === 1000 ? "" : "s"}` : `${milli}m`;
}

/** What a stress asks of one resource: millicores (workers × load) or bytes. */
export function asked(fault: StressFault, resource: Resource): number | undefined {
  if (resource === "cpu") return fault.cpu === undefined ? undefined : Math.round(fault.cpu.workers * fault.cpu.load * 10);
  return fault.memory?.bytes;
}

function amount(resource: Resource, v: number): string {
  return resource === "cpu" ? cpuText(v) : formatSize(v);
}

function optedIn(fault: StressFault, resource: Resource): boolean {
  return (resource === "cpu" ? fault.cpu?.allowBeyondLimit : fault.memory?.allowBeyondLimit) === true;
}

export interface StressRefusal {
  readonly resource: Resource;
  readonly pod: string;
  readonly message: string;
}

/** What a stress asks beyond a known pod's bound, without the opt-in: one refusal per pod and resource. */
export function stressRefusals(fault: StressFault, pods: readonly PodWithResources[]): StressRefusal[] {
  const out: StressRefusal[] = [];
  for (const resource of ["memory", "cpu"] as const) {
    const want = asked(fault, resource);
    if (want === undefined || optedIn(fault, resource)) continue;
    for (const p of pods) {
      if (p.limits === undefined && p.requests === undefined) continue;
      const b = boundOf(p, resource);
      const what = resource === "cpu" ? `${fault.cpu?.workers ?? 0} CPU worker${fault.cpu?.workers === 1 ? "" : "s"} at ${fault.cpu?.load ?? 0}% (${cpuText(want)})` : `${formatSize(want)} of memory`;
      if (b.bound === undefined) {
        out.push({
          resource,
          pod: p.name,
          message: `pod ${p.name} has neither a ${resource} limit nor a ${resource} request: nothing of the node's ${resource} is set aside for it, and ${what} would be taken from its node's other pods${resource === "memory" ? " (node MemoryPressure, neighbours evicted)" : ""}`,
        });
      } else if (want > b.bound) {
        const why =
          b.of === "limit"
            ? resource === "memory"
              ? "the pod's cgroup OOM-kills at its limit, so more measures nothing"
              : "its CFS quota throttles at its limit, so more measures nothing but throttling"
            : `it has no ${resource} limit, and beyond its request the stress takes what the scheduler promised the node's other pods${resource === "memory" ? " (node MemoryPressure, neighbours evicted)" : ""}`;
        out.push({ resource, pod: p.name, message: `${what} is beyond pod ${p.name}'s ${resource} ${b.of} of ${amount(resource, b.bound)}: ${why}` });
      }
    }
  }
  return out;
}

/** The bounds as the plan shows them: per known pod, or the rule where the pods are not known yet. */
export function stressBoundNotes(fault: StressFault, pods: readonly (PodWithResources & { readonly placeholder?: boolean | undefined })[]): string[] {
  const resources = (["memory", "cpu"] as const).filter((r) => asked(fault, r) !== undefined);
  const rule = `bound: a stress asks for no more than the pod's limit (or, without one, its request: what the scheduler set aside for it on its node)${resources.some((r) => optedIn(fault, r)) ? "" : ", unless the scenario opts in with stress.memory/cpu.allowBeyondLimit"}`;
  const notes = [rule];
  for (const p of pods) {
    if (p.placeholder === true || (p.limits === undefined && p.requests === undefined)) continue;
    const parts = resources.map((r) => {
      const b = boundOf(p, r);
      const want = asked(fault, r) ?? 0;
      const beyond = b.bound === undefined || want > b.bound;
      const of = b.bound === undefined ? `no ${r} limit or request` : `up to ${amount(r, b.bound)} (its ${b.of})`;
      return `${r} ${of}, ${amount(r, want)} asked${beyond ? (optedIn(fault, r) ? ": beyond it, opted in" : ": REFUSED") : ""}`;
    });
    notes.push(`pod ${p.name}: ${parts.join("; ")}`);
  }
  if (pods.every((p) => p.placeholder === true || (p.limits === undefined && p.requests === undefined))) notes.push("each pod's bound is read from its spec at run time");
  return notes;
}
