// What recording a run takes of the cluster, as access checks: the CLI checks them before a
// recorded run touches anything, and `chaos-run job` grants them to the runner (one list).
import type { AccessCheck } from "../kube/types.js";

/**
 * An Event on each target pod (in the targets' namespace); the run's result ConfigMap created and
 * the scenario's oldest results pruned (in the namespace results are kept in).
 */
export function recordAccess(targetNamespace: string, resultsNamespace: string): AccessCheck[] {
  return [
    { verb: "create", resource: "events", namespace: targetNamespace },
    { verb: "create", resource: "configmaps", namespace: resultsNamespace },
    { verb: "list", resource: "configmaps", namespace: resultsNamespace },
    { verb: "delete", resource: "configmaps", namespace: resultsNamespace },
  ];
}

/**
 * How long recording a run may take once it ended — the result stored and pruned, the Events and
 * the metrics sent — each call bounded on its own; a runner's SIGTERM grace period leaves room
 * for it after the reverts.
 */
export const RECORD_DEADLINE_MS = 30_000;
