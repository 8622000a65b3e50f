// The way in to the cluster: loads the client-node adapter only when a verb needs a cluster.
// `npm run build` also bundles the adapter with client-node into one file (scripts/bundle.mjs):
// importing it takes ~90 ms where client-node's hundreds of modules take ~400 ms. Without a
// (fresh) bundle — tests from src/, a build without bundles — the module itself is imported.
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ConnectedCluster, ConnectOptions } from "./types.js";

export type {
  Cluster,
  ClusterRecords,
  ConnectedCluster,
  ConnectOptions,
  PodInfo,
  ExecResult,
  ContainerInfo,
  ContainerEnd,
  AgentContainerSpec,
  ClusterIdentity,
  DeleteOptions,
  PodOwner,
  PodSecurity,
  PullPolicy,
} from "./types.js";

type Adapter = typeof import("./client-node.js");

async function loadAdapter(): Promise<Adapter> {
  const bundle = new URL("./client-node.bundle.mjs", import.meta.url);
  try {
    const compiled = statSync(fileURLToPath(new URL("./client-node.js", import.meta.url)));
    if (statSync(fileURLToPath(bundle)).mtimeMs >= compiled.mtimeMs) return (await import(bundle.href)) as Adapter;
  } catch {
    // no bundle here
  }
  return import("./client-node.js");
}

export async function connectCluster(options: ConnectOptions): Promise<ConnectedCluster> {
  const adapter = await loadAdapter();
  return adapter.connect(options);
}
