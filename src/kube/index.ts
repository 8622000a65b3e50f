// The way in to the cluster: loads the client-node adapter only when a verb needs a cluster.
import type { Cluster, ConnectOptions } from "./types.js";

export type { Cluster, ConnectOptions, PodInfo, ExecResult, ContainerInfo, AgentContainerSpec, ClusterIdentity } from "./types.js";

export async function connectCluster(options: ConnectOptions): Promise<Cluster> {
  const adapter = await import("./client-node.js");
  return adapter.connect(options);
}
