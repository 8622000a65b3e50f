// What the runner of a scenario needs, from its plan: the rights (every check its run makes,
// each with its reason) and its deadlines. The same rules as the run's preflight and the
// recorder's: src/engine/preflight.ts (runAccess, probeReads), src/results/access.ts.
import { probeReads, readsNamespace, runAccess, type KindResolver, type PreflightNeeds } from "../engine/preflight.js";
import { toolsLifeMs } from "../engine/tools-pod.js";
import type { Plan } from "../plan/types.js";
import { RECORD_DEADLINE_MS, recordAccess } from "../results/access.js";
import { defaultApiVersion } from "../scenario/kinds.js";
import { explain, type Grant } from "./rbac.js";

export interface RunnerNeeds {
  readonly plan: Plan;
  readonly needs: PreflightNeeds;
  readonly targetNamespace: string;
  /** where the runner runs and keeps its results */
  readonly namespace: string;
  readonly resolve: KindResolver;
  /** run --compare-to-last: the runner reads the scenario's last good result */
  readonly compareToLast?: boolean;
}

/** Every right the runner's run checks for, with why: the run's own, its probes' reads, recording. */
export async function runnerGrants(n: RunnerNeeds): Promise<Grant[]> {
  // besides pods: the target's Service or workload, read for its selector (by name)
  const own = runAccess(n.needs, n.targetNamespace).map((c) => explain(c, c.resource === "pods" ? "the run" : `read the target's selector (${n.needs.via ?? "?"}, by name)`));
  const namespace = readsNamespace(n.needs) ? [explain({ verb: "get", resource: "namespaces", namespace: n.targetNamespace, name: n.targetNamespace }, "the preflight")] : [];
  // no pods are known before the run: a read by a target pod's name is granted for the whole resource
  const reads = await probeReads(n.plan, n.resolve, n.targetNamespace, [], {});
  const readers = await probesReading(n.plan, n.resolve);
  const probes = reads.map((c) => explain(c, `the k8s probes read it (probe ${readers.get(`${c.group ?? ""}/${c.resource}`)?.join(", ") ?? "?"})`));
  const record = recordAccess(n.targetNamespace, n.namespace).map((c) => explain(c, "recording the run"));
  const base = n.compareToLast === true ? [explain({ verb: "get", resource: "configmaps", namespace: n.namespace }, "--compare-to-last")] : [];
  return [...own, ...namespace, ...probes, ...record, ...base];
}

/** Which probes read each resource (`group/resource`), for the reasons in the Role. */
async function probesReading(plan: Plan, resolve: KindResolver): Promise<Map<string, string[]>> {
  const runs = [...plan.steadyState, ...plan.steps.flatMap((s) => (s.kind === "probe" ? [s.run] : s.kind === "fault" ? s.during : []))];
  const out = new Map<string, string[]>();
  for (const r of runs) {
    if (r.spec.kind !== "k8s") continue;
    const served = await resolve(r.spec.k8s.apiVersion ?? defaultApiVersion(r.spec.k8s.kind) ?? "v1", r.spec.k8s.kind);
    if (served === undefined) continue;
    const key = `${served.group}/${served.resource}`;
    const names = out.get(key) ?? [];
    if (!names.includes(r.probe)) names.push(r.probe);
    out.set(key, names);
  }
  return out;
}

export interface EngineBounds {
  readonly probeTimeoutMs: number;
  readonly injectTimeoutMs: number;
  readonly revertDeadlineMs: number;
}

export interface RunnerDeadlines {
  readonly activeDeadlineSeconds: number;
  readonly terminationGracePeriodSeconds: number;
}

/**
 * The runner's SIGTERM grace covers a step's revert and the teardown's, each within the revert
 * deadline, then the record; its active deadline is the run's longest possible life (the same
 * bound as its tools pod's: the timeline, each probe at its own bound, each injection, a margin)
 * and that grace.
 */
export function runnerDeadlines(plan: Plan, bounds: EngineBounds): RunnerDeadlines {
  const graceMs = 2 * bounds.revertDeadlineMs + RECORD_DEADLINE_MS;
  const lifeMs = toolsLifeMs(plan, bounds.probeTimeoutMs, bounds.injectTimeoutMs);
  return { activeDeadlineSeconds: Math.ceil((lifeMs + graceMs) / 1000), terminationGracePeriodSeconds: Math.ceil(graceMs / 1000) };
}
