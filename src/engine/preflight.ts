// Preflight: everything that can be known to fail is checked before anything is touched, and a
// failure says the fix. Nothing here writes to the cluster.
import { CouldNotRunError } from "../errors.js";
import { formatDuration } from "../expect/format.js";
import type { AccessCheck, Cluster } from "../kube/types.js";
import type { Plan } from "../plan/types.js";
import type { EventSink } from "./events.js";

export interface PreflightNeeds {
  /** probes run in a chaos-tools pod that chaos-run creates and deletes */
  readonly toolsPod: boolean;
  /** agents are added (else only existing ones are used) */
  readonly injectAgents: boolean;
}

function describe(check: AccessCheck): string {
  return `${check.verb} ${check.resource}${check.subresource === undefined ? "" : `/${check.subresource}`}`;
}

/** The margin an agent's TTL must leave beyond the run's timeline (probes and reverts take time too). */
export const TTL_MARGIN_MS = 60_000;

export async function preflight(plan: Plan, cluster: Cluster, namespace: string, needs: PreflightNeeds, emit: EventSink, now: () => number): Promise<void> {
  const checks: AccessCheck[] = [
    { verb: "get", resource: "pods", namespace },
    { verb: "create", resource: "pods", subresource: "exec", namespace },
  ];
  if (needs.injectAgents) checks.push({ verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace });
  if (needs.toolsPod) checks.push({ verb: "create", resource: "pods", namespace }, { verb: "delete", resource: "pods", namespace });
  const answers = await Promise.all(checks.map(async (c) => ({ check: c, allowed: await cluster.canI(c) })));
  const denied = answers.filter((a) => !a.allowed).map((a) => describe(a.check));
  emit({ type: "preflight", at: now(), check: "rbac", ok: denied.length === 0, detail: denied.length === 0 ? `allowed: ${checks.map(describe).join(", ")}` : `denied: ${denied.join(", ")}` });
  if (denied.length > 0) {
    throw new CouldNotRunError(`${cluster.identity.user || "this user"} may not ${denied.join(", ")} in namespace ${namespace} (nothing was touched)`, {
      hint: `grant the ClusterRole in deploy/rbac.yaml: kubectl apply -f deploy/rbac.yaml && kubectl create rolebinding chaos-run --clusterrole chaos-run --user ${cluster.identity.user || "<you>"} -n ${namespace}`,
    });
  }

  if (needs.injectAgents) {
    const labels = await cluster.namespaceLabels(namespace);
    if (labels === undefined) {
      emit({ type: "preflight", at: now(), check: "pod-security", ok: true, detail: `cannot read namespace ${namespace}: Pod Security is checked when the agent is added` });
    } else {
      const level = labels["pod-security.kubernetes.io/enforce"];
      const ok = level === undefined || level === "privileged";
      emit({ type: "preflight", at: now(), check: "pod-security", ok, detail: `namespace ${namespace} enforces ${level ?? "no level (privileged)"}` });
      if (!ok) {
        throw new CouldNotRunError(`namespace ${namespace} enforces Pod Security "${level}", which refuses the agent's NET_ADMIN capability (nothing was touched)`, {
          hint: `only the "privileged" level admits it. If that is acceptable for this namespace: kubectl label namespace ${namespace} pod-security.kubernetes.io/enforce=privileged --overwrite`,
        });
      }
    }
  }

  const needed = plan.timelineMs + TTL_MARGIN_MS;
  const ttlOk = plan.agent.ttlMs >= needed;
  emit({ type: "preflight", at: now(), check: "agent-ttl", ok: ttlOk, detail: `ttl ${formatDuration(plan.agent.ttlMs)}, run ${formatDuration(plan.timelineMs)}` });
  if (!ttlOk) {
    throw new CouldNotRunError(`agent.ttl ${formatDuration(plan.agent.ttlMs)} is shorter than the run's timeline ${formatDuration(plan.timelineMs)} plus ${formatDuration(TTL_MARGIN_MS)}: the agent would revert mid-run`, {
      hint: `set agent.ttl to at least ${formatDuration(needed)} in the scenario`,
    });
  }
}
