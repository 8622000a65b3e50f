// The lab harness: the duties of a scheduler, a kubelet's pod workers and a
// container runtime, for the one node `lab-node` that kwok plays.
//  - binds pending pods to lab-node (there is no scheduler);
//  - creates each namespace's `default` ServiceAccount, and empties and finalizes
//    deleted namespaces (there is no controller-manager);
//  - per pod bound here: a network namespace with eth0 and the pod's IPs, each
//    container (and ephemeral container) started as a real process, an `Exec`
//    object telling kwok how to exec into it, and an honest pods/status;
//  - on delete: stops the processes, removes the namespace, confirms the deletion.
//
//   node --import tsx test/lab/harness/main.ts --kubeconfig F --state DIR --node lab-node
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import https from "node:https";
import { Writable } from "node:stream";
import tls from "node:tls";
import * as k8s from "@kubernetes/client-node";
import { Container, type ContainerSpec, type ContainerState } from "./containers.js";
import { knownImages, lookupImage } from "./images.js";
import { addressIndex, createPodNetwork, deletePodNetwork, ensureBridge, podAddresses, type PodAddresses } from "./network.js";

const { values: opts } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    state: { type: "string" },
    node: { type: "string", default: "lab-node" },
    "kubelet-port": { type: "string", default: "10250" },
    "container-init": { type: "string" },
    "lab-bin": { type: "string" },
    "shim-dir": { type: "string" },
    shim: { type: "string" },
  },
});
if (
  opts.kubeconfig === undefined ||
  opts.state === undefined ||
  opts["container-init"] === undefined ||
  opts["lab-bin"] === undefined ||
  opts["shim-dir"] === undefined ||
  opts.shim === undefined
) {
  console.error("usage: main.ts --kubeconfig F --state DIR --container-init F --lab-bin DIR --shim F --shim-dir DIR [--node lab-node]");
  process.exit(2);
}
const nodeName = opts.node;
const stateDir = resolve(opts.state);
const podsDir = join(stateDir, "pods");
mkdirSync(podsDir, { recursive: true });
const runtimeEnv = {
  path: `${resolve(opts["lab-bin"])}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  containerInit: resolve(opts["container-init"]),
  labDir: dirname(resolve(opts["container-init"])),
};

/**
 * One keep-alive TLS agent, with its credentials parsed once, for every call: client-node makes
 * a new agent (a new connection, a new TLS context) per request, and a pod's start is several
 * calls — the cost that dominated the lab's CPU when 50 pods got an agent at once.
 */
class LabKubeConfig extends k8s.KubeConfig {
  private agent: https.Agent | undefined;

  private shared(opts: https.RequestOptions): https.Agent {
    if (this.agent === undefined) {
      const credentials = {
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        ...(opts.cert === undefined ? {} : { cert: opts.cert }),
        ...(opts.key === undefined ? {} : { key: opts.key }),
      };
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 128, ...credentials, secureContext: tls.createSecureContext(credentials) });
    }
    return this.agent;
  }

  override async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    opts.agent = this.shared(opts);
  }

  override async applySecurityAuthentication(context: Parameters<k8s.KubeConfig["applySecurityAuthentication"]>[0]): Promise<void> {
    await super.applySecurityAuthentication(context);
    const opts: https.RequestOptions = {};
    await super.applyToHTTPSOptions(opts);
    context.setAgent(this.shared(opts));
  }
}

const kc = new LabKubeConfig();
kc.loadFromFile(opts.kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
const exec = new k8s.Exec(kc);
const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

function statusCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return err.code;
  return undefined;
}

// ---------------------------------------------------------------------------
// pods

interface LabPod {
  uid: string;
  namespace: string;
  name: string;
  dir: string;
  netns: string;
  addr: PodAddresses;
  index: number;
  containers: Map<string, Container>;
  startTime: string;
  deleting: boolean;
  patchQueued: boolean;
  /** resourceVersion of the pod's Exec object as last written here */
  execVersion: string | undefined;
}

const pods = new Map<string, LabPod>();
const usedIndexes = new Set<number>();
let nextIndex = 2;
/** one promise chain per pod uid: events for one pod are handled in order */
const queues = new Map<string, Promise<void>>();
const bindingsSent = new Set<string>();

function enqueue(uid: string, work: () => Promise<void>): void {
  const prev = queues.get(uid) ?? Promise.resolve();
  const next = prev
    .then(work)
    .catch((err: unknown) => log(`pod ${uid}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
  queues.set(uid, next);
  void next.then(() => {
    if (queues.get(uid) === next) queues.delete(uid);
  });
}

function allocateIndex(): number {
  while (usedIndexes.has(nextIndex)) nextIndex += 1;
  const n = nextIndex;
  usedIndexes.add(n);
  nextIndex += 1;
  return n;
}

function specsOf(pod: k8s.V1Pod): ContainerSpec[] {
  const restartPolicy = (pod.spec?.restartPolicy ?? "Always") as ContainerSpec["restartPolicy"];
  const regular = (pod.spec?.containers ?? []).map((c) => ({
    name: c.name,
    image: c.image ?? "",
    command: c.command,
    args: c.args,
    ephemeral: false,
    restartPolicy,
  }));
  const ephemeral = (pod.spec?.ephemeralContainers ?? []).map((c) => ({
    name: c.name,
    image: c.image ?? "",
    command: c.command,
    args: c.args,
    ephemeral: true,
    restartPolicy: "Never" as const,
  }));
  return [...regular, ...ephemeral];
}

async function reconcile(pod: k8s.V1Pod): Promise<void> {
  const uid = pod.metadata?.uid;
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace;
  if (uid === undefined || name === undefined || namespace === undefined) return;

  if (pod.spec?.nodeName === undefined || pod.spec.nodeName === "") {
    if (!bindingsSent.has(uid) && pod.metadata?.deletionTimestamp === undefined) {
      bindingsSent.add(uid);
      await core.createNamespacedBinding({
        namespace,
        body: { metadata: { name, namespace, uid }, target: { apiVersion: "v1", kind: "Node", name: nodeName } },
      }).catch((err: unknown) => log(`bind ${namespace}/${name}: ${String(err)}`));
    }
    return;
  }
  if (pod.spec.nodeName !== nodeName) return;

  if (pod.metadata?.deletionTimestamp !== undefined) {
    await teardown(uid, pod.spec.terminationGracePeriodSeconds ?? 30);
    await core
      .deleteNamespacedPod({ name, namespace, body: { gracePeriodSeconds: 0, preconditions: { uid } } })
      .catch((err: unknown) => {
        if (statusCode(err) !== 404 && statusCode(err) !== 409) log(`confirm delete ${namespace}/${name}: ${String(err)}`);
      });
    return;
  }

  let lp = pods.get(uid);
  if (lp === undefined) {
    const known = pod.status?.podIP === undefined ? undefined : addressIndex(pod.status.podIP);
    const index = known ?? allocateIndex();
    usedIndexes.add(index);
    const addr = podAddresses(index);
    const dir = join(podsDir, uid);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "hostname"), `${name}\n`);
    const netns = await createPodNetwork(uid, addr);
    lp = {
      uid,
      namespace,
      name,
      dir,
      netns,
      addr,
      index,
      containers: new Map(),
      startTime: new Date().toISOString(),
      deleting: false,
      patchQueued: false,
      execVersion: undefined,
    };
    pods.set(uid, lp);
    writeFileSync(join(dir, "pod"), `${namespace}/${name}\n`);
    log(`pod ${namespace}/${name} ${addr.v4} netns ${netns}`);
  }
  const current = lp;

  const added: Container[] = [];
  for (const spec of specsOf(pod)) {
    if (current.containers.has(spec.name)) continue;
    const c = new Container(spec, lookupImage(spec.image), current.dir, current.netns, name, runtimeEnv, () => schedulePatch(current));
    current.containers.set(spec.name, c);
    added.push(c);
  }
  if (added.length === 0) return;
  await writeExecTargets(current);
  for (const c of added) c.start();
  // A container counts as running once its program runs and kwok serves exec into it: kwok
  // learns of new Exec targets through a watch, so ask it through the real exec path.
  await Promise.all(
    added
      .filter((c) => c.state.kind === "running")
      .map(async (c) => {
        await c.programStarted();
        await waitExecReady(current, c);
      }),
  );
  schedulePatch(current);
}

async function waitExecReady(lp: LabPod, c: Container): Promise<void> {
  // kwok learns of new Exec targets through a watch, which lags when many pods start at once:
  // keep asking (for as long as the container runs) rather than leave the pod not ready
  const started = Date.now();
  let last = "";
  for (let attempt = 0; ; attempt++) {
    if (c.state.kind !== "running" || lp.deleting) return;
    const r = await execTrue(lp, c.spec.name);
    if (r === undefined) {
      c.ready = true;
      return;
    }
    last = r;
    if (attempt === 50) log(`pod ${lp.namespace}/${lp.name}: exec into ${c.spec.name} not ready yet after ${Date.now() - started} ms: ${last}`);
    if (Date.now() - started > 120_000) {
      log(`pod ${lp.namespace}/${lp.name}: exec into ${c.spec.name} never became ready: ${last}`);
      return;
    }
    await new Promise((r2) => setTimeout(r2, attempt < 20 ? 20 : 200));
  }
}

/**
 * Runs `true` in the container through the real exec path: undefined when it worked, else why
 * not. Asking kwok for a program it cannot find would spare the process, and was tried: in the
 * kernel lab, from a checkout under /tmp, the runner's first exec into a new agent then failed
 * to open chaos-agent in 3 full kernel runs of 3 (cause not found; with `true` they pass).
 */
function execTrue(lp: LabPod, container: string): Promise<string | undefined> {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return new Promise((resolveOk) => {
    exec
      .exec(lp.namespace, lp.name, container, ["true"], sink, sink, null, false, (status) => resolveOk(status.status === "Success" ? undefined : (status.message ?? "failed")))
      .then((ws) => ws.on("close", () => resolveOk("the exec stream closed without a status")))
      .catch((e: unknown) => resolveOk(e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)));
  });
}

async function writeExecTargets(lp: LabPod): Promise<void> {
  const body = {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "Exec",
    metadata: { name: lp.name, namespace: lp.namespace },
    spec: {
      execs: [...lp.containers.values()].map((c) => ({
        containers: [c.spec.name],
        local: { envs: [{ name: "CHAOS_LAB_CONTAINER_DIR", value: c.dir }] },
      })),
    },
  };
  const ref = { group: "kwok.x-k8s.io", version: "v1alpha1", namespace: lp.namespace, plural: "execs", name: lp.name };
  const version = (o: unknown): string | undefined => (o as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
  // the harness is this object's only writer: replace it with the version it last wrote, and
  // read it back only when that is refused (first write, or an object left by a restart)
  if (lp.execVersion !== undefined) {
    try {
      lp.execVersion = version(await custom.replaceNamespacedCustomObject({ ...ref, body: { ...body, metadata: { ...body.metadata, resourceVersion: lp.execVersion } } }));
      return;
    } catch (err) {
      if (statusCode(err) !== 409 && statusCode(err) !== 404) throw err;
    }
  }
  try {
    const existing = await custom.getNamespacedCustomObject(ref);
    lp.execVersion = version(await custom.replaceNamespacedCustomObject({ ...ref, body: { ...body, metadata: { ...body.metadata, resourceVersion: version(existing) } } }));
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    lp.execVersion = version(await custom.createNamespacedCustomObject({ ...ref, body }));
  }
}

async function teardown(uid: string, graceSeconds: number): Promise<void> {
  const lp = pods.get(uid);
  if (lp === undefined) return;
  lp.deleting = true;
  const graceMs = Math.min(Math.max(graceSeconds, 0), 10) * 1000;
  await Promise.all([...lp.containers.values()].map((c) => c.stop(graceMs)));
  await deletePodNetwork(uid);
  await custom
    .deleteNamespacedCustomObject({ group: "kwok.x-k8s.io", version: "v1alpha1", namespace: lp.namespace, plural: "execs", name: lp.name })
    .catch(() => undefined);
  rmSync(lp.dir, { recursive: true, force: true });
  pods.delete(uid);
  usedIndexes.delete(lp.index);
  log(`pod ${lp.namespace}/${lp.name} removed`);
}

// ---------------------------------------------------------------------------
// status

function k8sState(s: ContainerState): k8s.V1ContainerState {
  switch (s.kind) {
    case "waiting":
      return { waiting: { reason: s.reason, ...(s.message === undefined ? {} : { message: s.message }) } };
    case "running":
      return { running: { startedAt: new Date(s.startedAt) } };
    case "terminated":
      return {
        terminated: {
          exitCode: s.exitCode,
          ...(s.signal === undefined ? {} : { signal: s.signal }),
          reason: s.reason,
          startedAt: new Date(s.startedAt),
          finishedAt: new Date(s.finishedAt),
          containerID: "",
        },
      };
  }
}

function containerStatus(lp: LabPod, c: Container): Record<string, unknown> {
  const running = c.state.kind === "running" && c.ready;
  // exec readiness gates "running" so a client never sees a container it cannot exec into yet
  const state = c.state.kind === "running" && !c.ready ? { kind: "waiting" as const, reason: "ContainerCreating" } : c.state;
  return {
    name: c.spec.name,
    image: c.spec.image,
    imageID: `lab://${c.spec.image}`,
    containerID: `lab://${lp.uid}/${c.spec.name}/${c.restartCount}`,
    ready: running,
    started: running,
    restartCount: c.restartCount,
    state: k8sState(state),
    ...(c.lastState === undefined ? {} : { lastState: k8sState(c.lastState) }),
  };
}

function schedulePatch(lp: LabPod): void {
  if (lp.patchQueued || lp.deleting) return;
  lp.patchQueued = true;
  setImmediate(() => {
    lp.patchQueued = false;
    if (lp.deleting) return;
    void patchStatus(lp).catch((err: unknown) => {
      if (statusCode(err) !== 404) log(`status ${lp.namespace}/${lp.name}: ${String(err)}`);
    });
  });
}

async function patchStatus(lp: LabPod): Promise<void> {
  const all = [...lp.containers.values()];
  const regular = all.filter((c) => !c.spec.ephemeral);
  const ephemeral = all.filter((c) => c.spec.ephemeral);
  const allReady = regular.length > 0 && regular.every((c) => c.state.kind === "running" && c.ready);
  const anyRunning = regular.some((c) => c.state.kind === "running");
  const allDone = regular.length > 0 && regular.every((c) => c.state.kind === "terminated");
  const phase = allDone
    ? regular.every((c) => c.state.kind === "terminated" && c.state.exitCode === 0)
      ? "Succeeded"
      : "Failed"
    : anyRunning || regular.some((c) => c.restartCount > 0)
      ? "Running"
      : "Pending";
  const now = new Date().toISOString();
  const cond = (type: string, ok: boolean): Record<string, unknown> => ({
    type,
    status: ok ? "True" : "False",
    lastTransitionTime: now,
    ...(ok ? {} : { reason: type === "Ready" || type === "ContainersReady" ? "ContainersNotReady" : "Unknown" }),
  });
  const body = {
    status: {
      phase,
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: lp.addr.v4,
      podIPs: [{ ip: lp.addr.v4 }, { ip: lp.addr.v6 }],
      startTime: lp.startTime,
      conditions: [cond("PodScheduled", true), cond("Initialized", true), cond("ContainersReady", allReady), cond("Ready", allReady)],
      containerStatuses: regular.map((c) => containerStatus(lp, c)),
      ...(ephemeral.length === 0 ? {} : { ephemeralContainerStatuses: ephemeral.map((c) => containerStatus(lp, c)) }),
    },
  };
  await core.patchNamespacedPodStatus({ name: lp.name, namespace: lp.namespace, body }, mergePatch);
}

// ---------------------------------------------------------------------------
// node, namespaces

async function ensureNode(): Promise<void> {
  try {
    await core.readNode({ name: nodeName });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    await core.createNode({
      body: {
        metadata: {
          name: nodeName,
          labels: { "kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
          annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        },
        spec: {},
      },
    });
    log(`node ${nodeName} created`);
  }
}

async function ensureDefaultServiceAccount(ns: string): Promise<void> {
  try {
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "default" } } });
  } catch (err) {
    if (statusCode(err) !== 409) log(`serviceaccount ${ns}/default: ${String(err)}`);
  }
}

// The namespace controller's duty: empty a Terminating namespace, then finalize it.
// The kinds are those that live in the lab's namespaces (tests and chaos-run make them).
const namespacedKinds: [string, string][] = [
  ["v1", "Pod"],
  ["v1", "ServiceAccount"],
  ["v1", "ConfigMap"],
  ["v1", "Secret"],
  ["v1", "Service"],
  ["v1", "Event"],
  ["rbac.authorization.k8s.io/v1", "Role"],
  ["rbac.authorization.k8s.io/v1", "RoleBinding"],
  ["coordination.k8s.io/v1", "Lease"],
  ["kwok.x-k8s.io/v1alpha1", "Exec"],
];
const finalizing = new Set<string>();

async function finalizeNamespace(ns: k8s.V1Namespace): Promise<void> {
  const name = ns.metadata?.name;
  if (name === undefined || finalizing.has(name)) return;
  finalizing.add(name);
  try {
    for (let round = 0; round < 600; round++) {
      let remaining = 0;
      for (const [apiVersion, kind] of namespacedKinds) {
        const list = await objects.list(apiVersion, kind, name).catch(() => ({ items: [] as k8s.KubernetesObject[] }));
        for (const item of list.items) {
          remaining += 1;
          if (item.metadata?.deletionTimestamp === undefined) {
            await objects
              .delete({ apiVersion, kind, metadata: { name: item.metadata?.name ?? "", namespace: name } })
              .catch(() => undefined);
          }
        }
      }
      if (remaining === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await core.replaceNamespaceFinalize({ name, body: { ...ns, spec: { finalizers: [] } } });
    log(`namespace ${name} finalized`);
  } catch (err) {
    if (statusCode(err) !== 404) log(`finalize namespace ${name}: ${String(err)}`);
  } finally {
    finalizing.delete(name);
  }
}

function startInformer<T extends k8s.KubernetesObject>(
  name: string,
  path: string,
  list: () => Promise<k8s.KubernetesListObject<T>>,
  onObject: (obj: T) => void,
  onDelete: (obj: T) => void,
): void {
  const informer = k8s.makeInformer<T>(kc, path, list);
  informer.on("add", onObject);
  informer.on("update", onObject);
  informer.on("delete", onDelete);
  informer.on("error", (err: unknown) => {
    log(`${name} watch ended (${String(err)}); restarting`);
    setTimeout(() => void informer.start().catch((e: unknown) => log(`${name} restart: ${String(e)}`)), 500);
  });
  void informer.start().catch((e: unknown) => log(`${name} start: ${String(e)}`));
}

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`${signal}: stopping ${pods.size} pods`);
  await Promise.all([...pods.keys()].map((uid) => teardown(uid, 2).catch(() => undefined)));
  process.exit(0);
}

/** kwok's whole PATH: one link to the shim per command name the lab's images offer. */
function makeShimDir(dir: string, shim: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const names = new Set<string>();
  for (const image of knownImages()) for (const c of lookupImage(image)?.commands ?? []) names.add(c);
  for (const name of names) symlinkSync(shim, join(dir, name));
}

async function main(): Promise<void> {
  makeShimDir(resolve(opts["shim-dir"] ?? ""), resolve(opts.shim ?? ""));
  await ensureBridge();
  await ensureNode();
  startInformer<k8s.V1Namespace>(
    "namespaces",
    "/api/v1/namespaces",
    () => core.listNamespace(),
    (ns) => {
      const n = ns.metadata?.name;
      if (n === undefined) return;
      if (ns.status?.phase === "Terminating") void finalizeNamespace(ns);
      else void ensureDefaultServiceAccount(n);
    },
    () => undefined,
  );
  startInformer<k8s.V1Pod>(
    "pods",
    "/api/v1/pods",
    () => core.listPodForAllNamespaces(),
    (pod) => {
      const uid = pod.metadata?.uid;
      if (uid !== undefined && !shuttingDown) enqueue(uid, () => reconcile(pod));
    },
    (pod) => {
      const uid = pod.metadata?.uid;
      if (uid !== undefined) enqueue(uid, () => teardown(uid, 0));
    },
  );
  log(`harness up: node ${nodeName}, state ${stateDir}`);
}

process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
main().catch((err: unknown) => {
  log(`harness failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
