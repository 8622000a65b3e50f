// The way in to the cluster: loads the client-node adapter only when a verb needs a cluster.
// `npm run build` also bundles the adapter with client-node into one file (scripts/bundle.mjs):
// loading it takes ~100 ms where client-node's hundreds of modules take ~400 ms, and ~50 ms with
// its V8 code cache (src/code-cache.ts). Without a (fresh) bundle — tests from src/, a build
// without bundles — the module itself is imported.
import { fileURLToPath } from "node:url";
import { loadFreshBundle } from "../code-cache.js";
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
  const bundle = fileURLToPath(new URL("./client-node.bundle.cjs", import.meta.url));
  const exports = loadFreshBundle(bundle, fileURLToPath(new URL("./client-node.js", import.meta.url)))?.exports;
  return exports === undefined ? import("./client-node.js") : (exports as Adapter);
}

export async function connectCluster(options: ConnectOptions): Promise<ConnectedCluster> {
  const adapter = await loadAdapter();
  return adapter.connect(options);
}
