// The runner's RBAC, derived from the access checks a run makes (src/engine/preflight.ts's
// runAccess and the probes' reads, src/results/access.ts for recording): exactly what those checks
// ask, merged into PolicyRules — per namespace for a Role, cluster-wide (a ClusterRole) only for
// a probe's read of a cluster-scoped kind. Never a wildcard. Pure.
import type { AccessCheck } from "../kube/types.js";

/** An access check and why the run needs it (the rule's comment in the manifest). */
export interface Grant {
  readonly check: AccessCheck;
  readonly why: string;
}

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly resourceNames?: readonly string[] | undefined;
  readonly verbs: readonly string[];
}

export interface ExplainedRule {
  readonly rule: PolicyRule;
  /** why each of its grants is there, once each */
  readonly why: readonly string[];
}

export interface DerivedRbac {
  /** a Role's rules per namespace, namespaces sorted */
  readonly namespaced: ReadonlyMap<string, readonly ExplainedRule[]>;
  /** a ClusterRole's rules; empty: no ClusterRole */
  readonly cluster: readonly ExplainedRule[];
}

const VERB_ORDER = ["get", "list", "watch", "create", "update", "patch", "delete"];

const verbRank = (v: string): number => {
  const i = VERB_ORDER.indexOf(v);
  return i < 0 ? VERB_ORDER.length : i;
};

function resourceOf(c: AccessCheck): string {
  return c.subresource === undefined ? c.resource : `${c.resource}/${c.subresource}`;
}

/** A named grant whose verb the same resource has without a name is covered by it. */
function covered(grants: readonly Grant[]): Grant[] {
  const whole = new Set(grants.filter((g) => g.check.name === undefined).map((g) => `${g.check.namespace}|${g.check.group ?? ""}|${resourceOf(g.check)}|${g.check.verb}`));
  return grants.filter((g) => g.check.name === undefined || !whole.has(`${g.check.namespace}|${g.check.group ?? ""}|${resourceOf(g.check)}|${g.check.verb}`));
}

interface Bucket {
  readonly namespace: string;
  readonly group: string;
  readonly resource: string;
  readonly names: Set<string>;
  readonly verbs: Set<string>;
  readonly why: string[];
}

/**
 * Grants → rules: one rule per namespace, group and resource for what it may do to all of them,
 * and one per verb set for what it may do to named objects only (resourceNames).
 */
export function deriveRbac(grants: readonly Grant[]): DerivedRbac {
  const buckets = new Map<string, Bucket>();
  // first the verbs per named object, then objects that share their verbs into one rule
  const namedVerbs = new Map<string, Set<string>>();
  const kept = covered(grants);
  for (const g of kept) {
    if (g.check.name === undefined) continue;
    const key = `${g.check.namespace}|${g.check.group ?? ""}|${resourceOf(g.check)}|${g.check.name}`;
    namedVerbs.set(key, (namedVerbs.get(key) ?? new Set()).add(g.check.verb));
  }
  for (const g of kept) {
    const c = g.check;
    const base = `${c.namespace}|${c.group ?? ""}|${resourceOf(c)}`;
    const verbs = c.name === undefined ? undefined : [...(namedVerbs.get(`${base}|${c.name}`) ?? [])].sort().join(",");
    const key = verbs === undefined ? `${base}|*` : `${base}|${verbs}`;
    const bucket = buckets.get(key) ?? { namespace: c.namespace, group: c.group ?? "", resource: resourceOf(c), names: new Set<string>(), verbs: new Set<string>(), why: [] };
    bucket.verbs.add(c.verb);
    if (c.name !== undefined) bucket.names.add(c.name);
    if (!bucket.why.includes(g.why)) bucket.why.push(g.why);
    buckets.set(key, bucket);
  }
  const ordered = [...buckets.values()].sort((a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource) || a.names.size - b.names.size);
  const explained = (b: Bucket): ExplainedRule => ({
    rule: {
      apiGroups: [b.group],
      resources: [b.resource],
      ...(b.names.size === 0 ? {} : { resourceNames: [...b.names].sort() }),
      verbs: [...b.verbs].sort((x, y) => verbRank(x) - verbRank(y)),
    },
    why: b.why,
  });
  const namespaced = new Map<string, ExplainedRule[]>();
  for (const ns of [...new Set(ordered.filter((b) => b.namespace !== "").map((b) => b.namespace))].sort()) {
    namespaced.set(ns, ordered.filter((b) => b.namespace === ns).map(explained));
  }
  return { namespaced, cluster: ordered.filter((b) => b.namespace === "").map(explained) };
}

/** Why the run asks for each of its own permissions (the probes' reads and recording say their own). */
const WHY: Readonly<Record<string, string>> = {
  "get pods": "read the target pods (and the tools pod the probes run in)",
  "watch pods": "follow the target pods through the run, and wait for each container it adds",
  "list pods": "find the target pods by their selector (and a deleted pod's replacement)",
  "create pods/exec": "hand the agents their faults and reverts, and run the probes in the tools pod",
  "get pods/exec": "the same execs, over a websocket: an HTTP GET, authorized as get",
  "create pods/attach": "hold a line to each agent's stdin for its applies, renewals and reverts, instead of an exec each (without it: by exec)",
  "get pods/attach": "the same line, over a websocket: an HTTP GET, authorized as get",
  "patch pods/ephemeralcontainers": "add the agent (and kill or stress agents) to the target pods, as kubectl debug does",
  "create pods": "the chaos-tools pod the probes run in",
  "delete pods": "delete the tools pod at the end (and the pods a podDelete fault deletes)",
  "get namespaces": "read the namespace's Pod Security level at preflight (only this namespace: resourceNames)",
  "create events": "an Event on each target pod: fault applied, reverted, the verdict",
  "create configmaps": "the run's result (its journal, compressed)",
  "list configmaps": "find the scenario's older results, to keep the last N",
  "delete configmaps": "prune the scenario's results beyond the last N",
  "get configmaps": "read the scenario's last good result, to judge the run against it (--compare-to-last)",
};

/** A grant with the run's reason for it, or `fallback` when the table has none. */
export function explain(check: AccessCheck, fallback: string): Grant {
  return { check, why: WHY[`${check.verb} ${resourceOf(check)}`] ?? fallback };
}
