// The target pods: the selector and mode in words, and which pods a mode hits — sorted by name
// before any choice (the API's list order never matters), chosen by the seeded PRNG, refused
// rather than clamped when there are too few or more than maxPods.
import { fromLabelSelector, selectorString, type Selector } from "../scenario/selector.js";
import type { Scenario, Target, TargetMode } from "../scenario/types.js";
import { PlanError } from "./plan-error.js";
import { choose } from "./prng.js";
import type { TargetPod } from "./types.js";

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function selectorText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort(compareNames)
    .map((k) => `${k}=${labels[k] ?? ""}`)
    .join(",");
}

/**
 * The selector a target picks its pods with: as written (`selector`, `matchExpressions`) or as
 * resolved (a Service's, a workload's); undefined for named pods and for a Service or workload
 * not resolved yet (offline).
 */
export function targetSelector(target: Target): Selector | undefined {
  const sel = target.selection;
  if (sel.kind === "selector") return fromLabelSelector(sel.matchLabels, sel.matchExpressions);
  return sel.kind === "pods" ? undefined : target.resolved?.selector;
}

/** The Service or workload a target finds its pods through, as kubectl names it: `service/web`, `deployment/web`. */
export function targetVia(target: Target): string | undefined {
  const sel = target.selection;
  return sel.kind === "service" ? `service/${sel.name}` : sel.kind === "workload" ? `${sel.workload}/${sel.name}` : undefined;
}

/** Where the scenario says how its pods are found: the key a refusal points at. */
function selectionPath(target: Target): string {
  const sel = target.selection;
  if (sel.kind === "selector") return Object.keys(sel.matchLabels).length > 0 ? "/target/selector" : "/target/matchExpressions";
  return `/target/${sel.kind === "pods" ? "pods" : sel.kind}`;
}

/** The pods a target finds, in words: `pods matching app=web`, `pods of service/web (app=web)`, `listed pods`. */
function targetWhat(target: Target): string {
  const selector = targetSelector(target);
  const via = targetVia(target);
  const matching = selector === undefined ? "" : selectorString(selector);
  if (via !== undefined) return `pods of ${via}${matching === "" ? "" : ` (selector ${matching})`}`;
  return selector === undefined ? "listed pods" : `pods matching ${matching}`;
}

export function modeText(mode: TargetMode): string {
  switch (mode.kind) {
    case "all":
    case "one":
      return mode.kind;
    case "count":
      return `count ${mode.count}`;
    case "percent":
      return `${mode.percent}%`;
  }
}

/** How many of `n` candidates a mode hits (percent rounds up). */
export function modeCount(mode: TargetMode, n: number): number {
  switch (mode.kind) {
    case "all":
      return n;
    case "one":
      return 1;
    case "count":
      return mode.count;
    case "percent":
      return Math.ceil((mode.percent * n) / 100 - 1e-9);
  }
}

export function choosePods(scenario: Scenario, pods: readonly TargetPod[], seed: number): { candidates: string[]; chosen: TargetPod[] } {
  const target = scenario.target;
  const byName = new Map<string, TargetPod>();
  for (const p of pods) if (!byName.has(p.name)) byName.set(p.name, p);
  const candidates = [...byName.keys()].sort(compareNames);
  const what = targetWhat(target);
  const path = selectionPath(target);
  if (candidates.length === 0) {
    throw new PlanError("no-pods", `no ${what}${target.namespace !== undefined ? ` in namespace ${target.namespace}` : ""}`, path, "check the selector and the namespace (kubectl get pods -l …)");
  }
  // refused whatever the mode would choose: a seed must never decide whether a node is hit
  const onHost = candidates.filter((n) => byName.get(n)?.hostNetwork === true);
  if (onHost.length > 0) {
    const one = onHost.length === 1;
    throw new PlanError(
      "host-network",
      `pod${one ? "" : "s"} ${onHost.join(", ")} ${one ? "uses" : "use"} the node's network (hostNetwork: true): netem there would shape the node's own traffic and a partition would cut the kubelet off; chaos-run never targets such pods (nothing was touched)`,
      path,
      "narrow the target to pods that have a network namespace of their own",
    );
  }
  const wanted = modeCount(target.mode, candidates.length);
  if (wanted > candidates.length) {
    throw new PlanError(
      "not-enough-pods",
      `mode ${modeText(target.mode)} asks for ${wanted} pods but only ${candidates.length} ${what} exist`,
      "/target/mode",
      "the run refuses rather than hit fewer pods than asked: lower the count or add pods",
    );
  }
  if (target.maxPods !== undefined && wanted > target.maxPods) {
    throw new PlanError(
      "blast-radius",
      `mode ${modeText(target.mode)} would hit ${wanted} pods, above maxPods ${target.maxPods}`,
      "/target/maxPods",
      "the blast-radius guard refuses rather than clamps: narrow the target or raise maxPods",
    );
  }
  const picked = target.mode.kind === "all" ? candidates : choose(candidates, wanted, seed).sort(compareNames);
  return { candidates, chosen: picked.map((name) => byName.get(name) ?? { name }) };
}
