// The resources the usual kinds are served as, for `chaos-run job`: it derives the runner's Role
// offline (for a GitOps repository, with no cluster at hand), where the preflight asks the API
// server (discovery). Any other kind (a CRD's) is resolved through the cluster. Pure data.
import type { ApiResource } from "../kube/types.js";
import { defaultApiVersion, isClusterScoped, KNOWN_KINDS } from "../scenario/kinds.js";

/** Kubernetes' plural for each kind the scenario language knows by name. */
const PLURALS: Readonly<Record<string, string>> = {
  Pod: "pods",
  Service: "services",
  Endpoints: "endpoints",
  Node: "nodes",
  Namespace: "namespaces",
  ConfigMap: "configmaps",
  PersistentVolumeClaim: "persistentvolumeclaims",
  PersistentVolume: "persistentvolumes",
  ReplicationController: "replicationcontrollers",
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  DaemonSet: "daemonsets",
  ReplicaSet: "replicasets",
  Job: "jobs",
  CronJob: "cronjobs",
  HorizontalPodAutoscaler: "horizontalpodautoscalers",
  PodDisruptionBudget: "poddisruptionbudgets",
  Ingress: "ingresses",
};

/**
 * The resource a known kind is served as, when asked in its usual apiVersion's group (any version
 * of that group serves the same plural); undefined for any other kind or group.
 */
export function knownResource(apiVersion: string, kind: string): ApiResource | undefined {
  const usual = defaultApiVersion(kind);
  const plural = PLURALS[kind];
  if (usual === undefined || plural === undefined) return undefined;
  const groupOf = (v: string): string => (v.includes("/") ? (v.split("/")[0] ?? "") : "");
  if (groupOf(usual) !== groupOf(apiVersion)) return undefined;
  return { group: groupOf(usual), resource: plural, namespaced: !isClusterScoped(kind) };
}

/** Every kind the table knows (a test keeps it in step with the scenario language's list). */
export const RESOLVED_KINDS: readonly string[] = KNOWN_KINDS.filter((k) => PLURALS[k] !== undefined);
