// The usual apiVersion of the kinds k8s probes read, so a scenario can say `kind: Deployment`
// alone; any other kind needs its `apiVersion`. Pure data.

const API_VERSIONS: Readonly<Record<string, string>> = {
  Pod: "v1",
  Service: "v1",
  Endpoints: "v1",
  Node: "v1",
  Namespace: "v1",
  ConfigMap: "v1",
  PersistentVolumeClaim: "v1",
  PersistentVolume: "v1",
  ReplicationController: "v1",
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  ReplicaSet: "apps/v1",
  Job: "batch/v1",
  CronJob: "batch/v1",
  HorizontalPodAutoscaler: "autoscaling/v2",
  PodDisruptionBudget: "policy/v1",
  Ingress: "networking.k8s.io/v1",
};

/** Kinds that live outside namespaces. */
const CLUSTER_SCOPED: ReadonlySet<string> = new Set(["Node", "Namespace", "PersistentVolume"]);

export function defaultApiVersion(kind: string): string | undefined {
  return API_VERSIONS[kind];
}

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export const KNOWN_KINDS: readonly string[] = Object.keys(API_VERSIONS);
