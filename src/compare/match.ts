// What of two runs can be compared: steps matched by their place, name, kind and fault shape
// (runs of different scenarios, or of one scenario with other faults, are compared only where
// their steps match); pods by name, or by their place in the plan when the names differ (a
// Deployment's pods are new in every run); probes by what they run. What does not match is
// listed with the reason, never silently left out.
import { stepLabel } from "./figures.js";
import type { PodKey } from "./figures.js";
import type { PlanView, StepView } from "./plan-view.js";
import type { Journal, Origin, Unmatched } from "./types.js";

export interface StepPair {
  readonly base: StepView;
  readonly new: StepView;
}

export interface StepMatch {
  readonly pairs: readonly StepPair[];
  readonly unmatched: readonly Unmatched[];
}

function stepDifference(b: StepView, n: StepView): string | undefined {
  if (b.name !== n.name) return `named "${b.name}" in base and "${n.name}" in new`;
  if (b.kind !== n.kind) return `a ${b.kind} step in base and a ${n.kind} step in new`;
  if (b.faultShape !== n.faultShape) return `its fault differs: base ${b.faultSummary ?? b.faultShape ?? "none"}; new ${n.faultSummary ?? n.faultShape ?? "none"}`;
  return undefined;
}

export function matchSteps(base: PlanView, next: PlanView): StepMatch {
  const pairs: StepPair[] = [];
  const unmatched: Unmatched[] = [];
  const indexes = [...new Set([...base.steps, ...next.steps].map((s) => s.index))].sort((a, b) => a - b);
  for (const index of indexes) {
    const b = base.steps.find((s) => s.index === index);
    const n = next.steps.find((s) => s.index === index);
    if (b === undefined || n === undefined) {
      const only = (b ?? n) as StepView;
      const side = b === undefined ? "new" : "base";
      unmatched.push({ section: stepLabel(only), what: "step", side, reason: `only the ${side} run's plan has a step ${index + 1}` });
      continue;
    }
    const why = stepDifference(b, n);
    if (why === undefined) pairs.push({ base: b, new: n });
    else unmatched.push({ section: stepLabel(b), what: "step", side: "both", reason: `not compared: ${why}` });
  }
  return { pairs, unmatched };
}

export interface PodMatch {
  readonly base: PodKey;
  readonly new: PodKey;
  /** the pods were matched by place: which with which */
  readonly note: string | null;
  readonly unmatched: readonly Unmatched[];
}

const AGGREGATE = "(all pods)";

/** Every pod a run names: the plan's targets first, in order, then any other its journal names. */
function podsOf(j: Journal, plan: PlanView): string[] {
  const seen = new Set(plan.pods);
  for (const p of j.probes) if (p.pod !== null) seen.add(p.pod);
  for (const f of j.faults) seen.add(f.pod);
  return [...seen];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function matchPods(base: Journal, basePlan: PlanView, next: Journal, nextPlan: PlanView): PodMatch {
  const b = podsOf(base, basePlan);
  const n = podsOf(next, nextPlan);
  const byName: PodKey = (pod) => pod ?? AGGREGATE;
  if (sameSet(b, n)) return { base: byName, new: byName, note: null, unmatched: [] };
  // by place: the i-th pod of one run is compared with the i-th of the other
  const place = (list: readonly string[]): PodKey => {
    const at = new Map(list.map((p, i) => [p, `#${i + 1}`]));
    return (pod) => (pod === null ? AGGREGATE : (at.get(pod) ?? pod));
  };
  const pairs = b.slice(0, Math.min(b.length, n.length)).map((p, i) => `${p} ↔ ${n[i] ?? ""}`);
  const unmatched: Unmatched[] = [...b.slice(n.length).map((p) => ({ pod: p, side: "base" as const })), ...n.slice(b.length).map((p) => ({ pod: p, side: "new" as const }))].map(({ pod, side }) => ({
    section: "target",
    what: `pod ${pod}`,
    side,
    reason: `the ${side === "base" ? "new" : "base"} run targeted fewer pods`,
  }));
  return { base: place(b), new: place(n), note: `the runs' pods differ: matched by their place in each plan (${pairs.join(", ")})`, unmatched };
}

/** A probe's shape in one run, where the figure was measured: the steady state's probes, or the step's own. */
export function probeShape(plan: PlanView, step: StepView | undefined, basis: Origin, probe: string): string | undefined {
  if (basis === "fault") return "fault";
  if (basis === "step" || basis === "during") return step?.probes.get(probe);
  return plan.steadyState.get(probe);
}
