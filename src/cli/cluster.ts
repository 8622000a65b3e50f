// kubectl's conventions for the verbs that talk to a cluster: --kubeconfig, --context,
// -n/--namespace (global flags, before or after the verb: globals.ts), $KUBECONFIG. Also the
// run id, the agent image a run uses and the engine's defaults.
import { randomBytes } from "node:crypto";
import type { ConnectedCluster } from "../kube/types.js";
import type { CliIO } from "./io.js";

export const CLUSTER_HELP = `Cluster options (kubectl's; before or after the verb):
  --kubeconfig FILE    kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config, else the pod's
                       ServiceAccount when run inside the cluster)
  --context NAME       kubeconfig context to use (default: its current context)
  -n, --namespace NS   namespace (default: the scenario's, else the context's, else default)`;

export interface ClusterFlags {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

export async function connectFromFlags(flags: ClusterFlags, io: CliIO): Promise<ConnectedCluster> {
  const { connectCluster } = await import("../kube/index.js");
  return connectCluster({
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    kubeconfigEnv: io.env["KUBECONFIG"],
    serviceHost: io.env["KUBERNETES_SERVICE_HOST"],
    servicePort: io.env["KUBERNETES_SERVICE_PORT"],
  });
}

/** 8 characters of [a-z0-9]: names this run's agents and prefixes its fault ids. */
export function newRunId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(8)].map((b) => alphabet[b % alphabet.length] ?? "a").join("");
}

export const ENGINE_DEFAULTS = {
  concurrency: 16,
  injectTimeoutMs: 120_000,
  execTimeoutMs: 30_000,
  revertDeadlineMs: 30_000,
  probeTimeoutMs: 10 * 60_000,
} as const;

/**
 * The agent image a run uses instead of the scenario's: --agent-image, else $CHAOS_RUN_AGENT_IMAGE
 * (one setting for a whole catalog, e.g. a mirror in an air-gapped registry).
 */
export function agentImageOverride(io: CliIO, flag: string | undefined): string | undefined {
  const env = io.env["CHAOS_RUN_AGENT_IMAGE"];
  return flag ?? (env === undefined || env === "" ? undefined : env);
}
