// The Cluster port on @kubernetes/client-node: the only file that imports it. Loaded with a
// dynamic import by connectCluster (index.ts), so verbs that never touch a cluster never pay for it.
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { PassThrough, Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { CouldNotRunError, UsageError } from "../errors.js";
import { apiError, statusMessage, type ApiOperation } from "./api-errors.js";
import { execOutcome } from "./exec-status.js";
import { LineSplitter } from "./lines.js";
import { cpuMilli, memoryBytes, podLimit } from "./quantity.js";
import { ClientNodeRecords } from "./records.js";
import { requestWhole, type Answer } from "./request.js";
import type {
  AccessCheck,
  AddedContainerSecurity,
  AgentContainerSpec,
  ApiResource,
  AttachedStream,
  AttachHandlers,
  ClusterIdentity,
  ConfigMapMeta,
  ConfigMapSpec,
  ConnectedCluster,
  ConnectOptions,
  ContainerInfo,
  DeleteOptions,
  ExecOptions,
  ExecResult,
  ObjectQuery,
  PodFollower,
  PodInfo,
  PodEvent,
  PodSpecForTools,
  StoredConfigMap,
} from "./types.js";

const strategicMerge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

/** Container waiting reasons after which a container will not start without a change. */
const HOPELESS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

/** Text of whatever a library rejected with: an Error, a ws ErrorEvent, a Status, anything. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null) {
    if ("message" in e && typeof e.message === "string" && e.message !== "") return e.message;
    if ("error" in e && e.error instanceof Error) return e.error.message;
    try {
      return JSON.stringify(e);
    } catch {
      return Object.prototype.toString.call(e);
    }
  }
  return String(e);
}

/**
 * client-node makes a new https.Agent for every request, so every call pays a TLS handshake.
 * This KubeConfig hands out one keep-alive agent per run instead (for API calls and the exec
 * websockets' upgrade requests alike). Clusters reached through a proxy keep the library's own.
 */
class KeepAliveKubeConfig extends k8s.KubeConfig {
  private shared: https.Agent | undefined;

  private agentFor(opts: https.RequestOptions): https.Agent | undefined {
    const cluster = this.getCurrentCluster();
    if (cluster === null || cluster.proxyUrl !== undefined || !cluster.server.startsWith("https:")) return undefined;
    if (this.shared === undefined) {
      const credentials = {
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        ...(opts.cert === undefined ? {} : { cert: opts.cert }),
        ...(opts.key === undefined ? {} : { key: opts.key }),
        ...(opts.pfx === undefined ? {} : { pfx: opts.pfx }),
        ...(opts.passphrase === undefined ? {} : { passphrase: opts.passphrase }),
      };
      this.shared = new https.Agent({
        keepAlive: true,
        maxSockets: 64,
        ...credentials,
        // parsed once: each exec is a websocket on a connection of its own, and building the
        // context from the PEMs again for each was a tenth of a wide fan-out's CPU
        secureContext: tls.createSecureContext(credentials),
        ...(cluster.skipTLSVerify === true ? { rejectUnauthorized: false } : {}),
        ...(cluster.tlsServerName === undefined ? {} : { servername: cluster.tlsServerName }),
      });
    }
    return this.shared;
  }

  override async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const agent = this.agentFor(opts);
    if (agent !== undefined) opts.agent = agent;
  }

  override async applySecurityAuthentication(context: Parameters<k8s.KubeConfig["applySecurityAuthentication"]>[0]): Promise<void> {
    await super.applySecurityAuthentication(context);
    const opts: https.RequestOptions = {};
    await super.applyToHTTPSOptions(opts);
    const agent = this.agentFor(opts);
    if (agent !== undefined) context.setAgent(agent);
  }

  /** Whether `opts` (after applyToHTTPSOptions) go through the run's one keep-alive agent: not so through a proxy. */
  keepsAlive(opts: https.RequestOptions): boolean {
    return this.shared !== undefined && opts.agent === this.shared;
  }

  destroy(): void {
    this.shared?.destroy();
  }
}

/** At most this much of a response is read (a pod is tens of KiB; a log is asked with its own limit). */
const RAW_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * One request on the run's keep-alive agent, with client-node's credentials (applyToHTTPSOptions:
 * TLS, bearer or basic auth, exec plugins), without its generated API: its models, middleware
 * and fetch cost about 1 ms of CPU a call where the request itself costs less (a 50-pod fan-out
 * makes three or four per pod). Undefined where the cluster is reached through a proxy: the
 * caller takes client-node's own path then.
 */
async function rawRequest(
  kc: KeepAliveKubeConfig,
  method: "GET" | "PATCH",
  path: string,
  body?: { readonly type: string; readonly text: string },
  /** the request is given up (its socket destroyed) when no answer has come within this; undefined: none, as client-node's calls */
  timeoutMs?: number,
): Promise<Answer | undefined> {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const server = kc.getCurrentCluster()?.server;
  if (!kc.keepsAlive(opts) || server === undefined) return undefined;
  const base = new URL(server);
  const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined), accept: "application/json, */*" };
  if (body !== undefined) {
    headers["content-type"] = body.type;
    headers["content-length"] = String(Buffer.byteLength(body.text));
  }
  return requestWhole(https.request, {
    options: {
      ...opts,
      method,
      protocol: "https:",
      hostname: base.hostname.replace(/^\[|\]$/g, ""),
      port: base.port === "" ? 443 : Number(base.port),
      path: `${base.pathname.replace(/\/$/, "")}${path}`,
      headers,
    },
    body: body?.text,
    timeoutMs,
    limitBytes: RAW_LIMIT_BYTES,
  });
}

/** Where a pod's ServiceAccount credentials are mounted. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Inside a pod with no kubeconfig: the API server of $KUBERNETES_SERVICE_HOST/_PORT, its CA and
 * the pod's ServiceAccount token (re-read as it rotates), in the ServiceAccount's namespace.
 * Undefined when this is not a pod (no service address, or no token mounted).
 */
export function inClusterConfig(options: ConnectOptions, dir = SERVICE_ACCOUNT_DIR): { kc: KeepAliveKubeConfig; user: string } | undefined {
  const host = options.serviceHost;
  if (host === undefined || host === "" || !existsSync(join(dir, "token"))) return undefined;
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${options.servicePort ?? "443"}`;
  const namespaceFile = join(dir, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : "default";
  const kc = new KeepAliveKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "in-cluster", server, caFile: join(dir, "ca.crt"), skipTLSVerify: false }],
    users: [{ name: "service-account", authProvider: { name: "tokenFile", config: { tokenFile: join(dir, "token") } } }],
    contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "service-account", namespace }],
    currentContext: "in-cluster",
  });
  return { kc, user: serviceAccountOf(readFileSync(join(dir, "token"), "utf8")) ?? "service-account" };
}

/** The `sub` of a ServiceAccount token (system:serviceaccount:NS:NAME): who the run acts as, for its messages. Not verified: the API server does that. */
export function serviceAccountOf(token: string): string | undefined {
  const payload = token.trim().split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return typeof claims === "object" && claims !== null && "sub" in claims && typeof claims.sub === "string" ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

/** The kubeconfig kubectl would use, else (in a pod) the pod's ServiceAccount; which it was, and as whom. */
function loadConfig(options: ConnectOptions): { kc: KeepAliveKubeConfig; inCluster?: { user: string } } {
  const noKubeconfig = options.kubeconfig === undefined && (options.kubeconfigEnv ?? "") === "" && !existsSync(join(homedir(), ".kube", "config"));
  const pod = noKubeconfig ? inClusterConfig(options) : undefined;
  if (pod !== undefined) {
    if (options.context !== undefined) throw new UsageError(`--context ${options.context}: there is no kubeconfig here, only this pod's ServiceAccount`);
    return { kc: pod.kc, inCluster: { user: pod.user } };
  }
  if (noKubeconfig) {
    throw new CouldNotRunError("no Kubernetes cluster to talk to: no kubeconfig ($KUBECONFIG, ~/.kube/config) and this is not a pod with a ServiceAccount", {
      hint: "pass --kubeconfig FILE, or set KUBECONFIG",
    });
  }
  const kc = new KeepAliveKubeConfig();
  try {
    if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new UsageError(`cannot read the kubeconfig ${options.kubeconfig ?? options.kubeconfigEnv ?? "~/.kube/config"}: ${e instanceof Error ? e.message : String(e)}`, {
      hint: "pass --kubeconfig FILE, or set KUBECONFIG",
    });
  }
  if (options.context !== undefined) {
    if (kc.getContextObject(options.context) === null) {
      const known = kc.getContexts().map((c) => c.name);
      throw new UsageError(`no context ${JSON.stringify(options.context)} in the kubeconfig`, {
        hint: known.length > 0 ? `known contexts: ${known.join(", ")}` : "the kubeconfig has no contexts",
      });
    }
    kc.setCurrentContext(options.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new CouldNotRunError("no Kubernetes cluster to talk to: the kubeconfig has no current context", {
      hint: "pass --kubeconfig FILE or --context NAME, or set KUBECONFIG (kubectl config get-contexts lists them)",
    });
  }
  return { kc };
}

/** The securityContext chaos-run sends for a container it adds: every field, as the port has it. */
export function securityContextOf(sc: AddedContainerSecurity): k8s.V1SecurityContext {
  return {
    runAsUser: sc.runAsUser,
    ...(sc.runAsGroup === undefined ? {} : { runAsGroup: sc.runAsGroup }),
    runAsNonRoot: sc.runAsNonRoot,
    allowPrivilegeEscalation: sc.allowPrivilegeEscalation,
    capabilities: { drop: [...sc.drop], ...(sc.capabilities.length > 0 ? { add: [...sc.capabilities] } : {}) },
    seccompProfile: { type: sc.seccompProfile },
  };
}

type ContainerSpecLike = { name: string; image?: string | undefined; env?: k8s.V1EnvVar[] | undefined; securityContext?: k8s.V1SecurityContext | undefined };

function containerInfo(spec: ContainerSpecLike | undefined, status: k8s.V1ContainerStatus | undefined, name: string): ContainerInfo {
  const st = status?.state;
  const state = st?.running !== undefined ? "running" : st?.terminated !== undefined ? "terminated" : st?.waiting !== undefined ? "waiting" : "unknown";
  return {
    name,
    image: spec?.image ?? status?.image ?? "",
    state,
    reason: st?.waiting?.reason ?? st?.terminated?.reason,
    message: st?.waiting?.message ?? st?.terminated?.message,
    exitCode: st?.terminated?.exitCode,
    runId: spec?.env?.find((e) => e.name === "CHAOS_RUN_ID")?.value,
    capabilities: spec?.securityContext?.capabilities?.add ?? [],
    containerId: status?.containerID,
    restartCount: status?.restartCount,
    ready: status?.ready,
    lastTerminated:
      status?.lastState?.terminated === undefined
        ? undefined
        : { exitCode: status.lastState.terminated.exitCode, reason: status.lastState.terminated.reason, signal: status.lastState.terminated.signal },
    finishedAt: timeOf(st?.terminated?.finishedAt),
    runAsUser: spec?.securityContext?.runAsUser,
  };
}

/** A time of the API (client-node gives a Date, or the text where it did not parse one) in ms. */
function timeOf(t: Date | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The pod's total of one resource over its containers' requests (a limit without a request is its request); undefined where none sets one. */
function podRequest(containers: readonly k8s.V1Container[], resource: string, parse: (text: string) => number | undefined): number | undefined {
  let sum: number | undefined;
  for (const c of containers) {
    const text = c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource];
    const v = text === undefined ? undefined : parse(text);
    if (v !== undefined) sum = (sum ?? 0) + v;
  }
  return sum;
}

export function podInfo(pod: k8s.V1Pod): PodInfo {
  const spec = pod.spec;
  const status = pod.status;
  const statusOf = (list: k8s.V1ContainerStatus[] | undefined, name: string) => list?.find((s) => s.name === name);
  return {
    namespace: pod.metadata?.namespace ?? "",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
    ip: status?.podIP,
    ips: (status?.podIPs ?? []).map((p) => p.ip),
    phase: status?.phase ?? "Unknown",
    ready: status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    labels: pod.metadata?.labels ?? {},
    containers: (spec?.containers ?? []).map((c) => containerInfo(c, statusOf(status?.containerStatuses, c.name), c.name)),
    ephemeralContainers: (spec?.ephemeralContainers ?? []).map((c) => containerInfo(c, statusOf(status?.ephemeralContainerStatuses, c.name), c.name)),
    hostNetwork: spec?.hostNetwork === true,
    owner: ownerOf(pod.metadata?.ownerReferences),
    mirror: pod.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined,
    security: {
      runAsUser: spec?.securityContext?.runAsUser,
      runAsGroup: spec?.securityContext?.runAsGroup,
      runAsNonRoot: spec?.securityContext?.runAsNonRoot,
    },
    limits: {
      cpuMilli: podLimit(
        (spec?.containers ?? []).map((c) => c.resources?.limits?.["cpu"]),
        cpuMilli,
      ),
      memoryBytes: podLimit(
        (spec?.containers ?? []).map((c) => c.resources?.limits?.["memory"]),
        memoryBytes,
      ),
    },
    requests: {
      cpuMilli: podRequest(spec?.containers ?? [], "cpu", cpuMilli),
      memoryBytes: podRequest(spec?.containers ?? [], "memory", memoryBytes),
    },
    annotations: pod.metadata?.annotations ?? {},
    activeDeadlineSeconds: spec?.activeDeadlineSeconds,
    defaultContainer: pod.metadata?.annotations?.["kubectl.kubernetes.io/default-container"],
    terminationGracePeriodSeconds: spec?.terminationGracePeriodSeconds,
    shareProcessNamespace: spec?.shareProcessNamespace,
  };
}

function ownerOf(refs: k8s.V1OwnerReference[] | undefined): PodInfo["owner"] {
  const c = refs?.find((r) => r.controller === true);
  return c === undefined ? undefined : { kind: c.kind, name: c.name, uid: c.uid };
}

type PodListener = (phase: "ADDED" | "MODIFIED" | "DELETED", pod: PodInfo) => void;

/** The hub's key for listeners of every pod of a namespace (no pod name has a slash). */
const EVERY_POD = "/";

interface WatchedNamespace {
  listeners: Map<string, Set<PodListener>>;
  /** the last state the watch delivered of each pod listened to, kept while it has listeners */
  latest: Map<string, PodInfo>;
  controller: Promise<AbortController | undefined>;
  failed: ((err: Error) => void)[];
}

/**
 * One pod watch per namespace, shared by everything that waits on pods of it (a fan-out over 50
 * pods opens one stream, not 50). Listeners are per pod name; the watch closes with the last one.
 * A pod's state is read from the watch's events only for pods someone listens to, and the last
 * one kept: a new listener of such a pod knows its state without a read of its own.
 */
class PodWatchHub {
  private readonly namespaces = new Map<string, WatchedNamespace>();

  constructor(
    private readonly watcher: k8s.Watch,
    private readonly onError: (namespace: string, err: unknown) => Error,
  ) {}

  /** Resolves once the watch is established (so a read after it cannot miss a transition). */
  async listen(namespace: string, pod: string, listener: PodListener, onFailure: (err: Error) => void): Promise<() => void> {
    let entry = this.namespaces.get(namespace);
    if (entry === undefined) {
      const listeners = new Map<string, Set<PodListener>>();
      const latest = new Map<string, PodInfo>();
      const failed: ((err: Error) => void)[] = [];
      const controller = this.watcher
        .watch(
          `/api/v1/namespaces/${namespace}/pods`,
          // resourceVersion 0: start from the API server's watch cache, with an ADDED event for
          // every pod there. Without one the server first waits (3 s) for its cache to catch up
          // with etcd's latest revision — which, when nothing in pods changed lately and etcd
          // sends no progress notifications (etcd 3.4), it never does: the watch then ends at
          // once with "Too large resource version" (504).
          { resourceVersion: "0" },
          (phase: string, obj: k8s.V1Pod) => {
            const name = obj.metadata?.name;
            if (name === undefined || (phase !== "ADDED" && phase !== "MODIFIED" && phase !== "DELETED")) return;
            const own = listeners.get(name);
            const every = listeners.get(EVERY_POD);
            // a pod nobody listens to (the namespace's other pods) costs no conversion
            if (own === undefined && every === undefined) return;
            const info = podInfo(obj);
            if (own !== undefined) {
              if (phase === "DELETED") latest.delete(name);
              else latest.set(name, info);
            }
            for (const l of own ?? []) l(phase, info);
            for (const l of every ?? []) l(phase, info);
          },
          (err: unknown) => {
            this.namespaces.delete(namespace);
            const e = this.onError(namespace, err ?? new Error("the watch ended"));
            for (const f of failed) f(e);
          },
        )
        .then(
          (c) => c,
          (err: unknown) => {
            this.namespaces.delete(namespace);
            const e = this.onError(namespace, err);
            for (const f of failed) f(e);
            return undefined;
          },
        );
      entry = { listeners, latest, controller, failed };
      this.namespaces.set(namespace, entry);
    }
    const set = entry.listeners.get(pod) ?? new Set<PodListener>();
    set.add(listener);
    entry.listeners.set(pod, set);
    entry.failed.push(onFailure);
    await entry.controller;
    const current = entry;
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        current.listeners.delete(pod);
        current.latest.delete(pod);
      }
      const i = current.failed.indexOf(onFailure);
      if (i >= 0) current.failed.splice(i, 1);
      if (current.listeners.size === 0 && this.namespaces.get(namespace) === current) {
        this.namespaces.delete(namespace);
        void current.controller.then((c) => c?.abort());
      }
    };
  }

  /**
   * The last state the watch delivered of a pod that has listeners — with the events after it,
   * all there is to know of the pod from now on; undefined when the watch said nothing of it
   * while it had listeners (read it instead).
   */
  latest(namespace: string, pod: string): PodInfo | undefined {
    return this.namespaces.get(namespace)?.latest.get(pod);
  }

  close(): void {
    for (const entry of this.namespaces.values()) void entry.controller.then((c) => c?.abort());
    this.namespaces.clear();
  }
}

/** client-node's object API, with its discovery (kind → resource, cached per apiVersion) open to the preflight. */
class ObjectApi extends k8s.KubernetesObjectApi {
  static forConfig(kc: k8s.KubeConfig): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  apiResource(apiVersion: string, kind: string): Promise<k8s.V1APIResource | undefined> {
    return this.resource(apiVersion, kind);
  }
}

class ClientNodeCluster implements ConnectedCluster {
  readonly identity: ClusterIdentity;
  private readonly core: k8s.CoreV1Api;
  private readonly authz: k8s.AuthorizationV1Api;
  private readonly execer: k8s.Exec;
  private readonly attacher: k8s.Attach;
  /** how to end each attach stream opening or open: all are ended with the cluster */
  private readonly attaches = new Set<(why: string) => void>();
  private closed = false;
  private readonly hub: PodWatchHub;
  private readonly records: ClientNodeRecords;
  private objects: ObjectApi | undefined;

  constructor(
    private readonly kc: KeepAliveKubeConfig,
    inCluster: { user: string } | undefined,
  ) {
    const ctx = kc.getContextObject(kc.getCurrentContext());
    this.identity = {
      context: kc.getCurrentContext(),
      server: kc.getCurrentCluster()?.server ?? "",
      user: inCluster?.user ?? kc.getCurrentUser()?.name ?? "",
      namespace: ctx?.namespace ?? "default",
      ...(inCluster === undefined ? {} : { inCluster: true }),
    };
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.authz = kc.makeApiClient(k8s.AuthorizationV1Api);
    this.execer = new k8s.Exec(kc);
    this.attacher = new k8s.Attach(kc);
    this.hub = new PodWatchHub(new k8s.Watch(kc), (namespace, err) => apiError({ doing: "watch pods in", verb: "watch", resource: "pods", namespace }, this.failure(err)));
    // a list of results asks for their metadata only: the server leaves each journal out
    const metadataOnly = k8s.setHeaderOptions("Accept", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1");
    this.records = new ClientNodeRecords(
      this.core,
      (op, fn) => this.call(op, fn),
      (e) => (e instanceof k8s.ApiException ? e.code : undefined),
      metadataOnly,
    );
  }

  createEvent(event: PodEvent): Promise<void> {
    return this.records.createEvent(event);
  }

  createConfigMap(namespace: string, spec: ConfigMapSpec): Promise<void> {
    return this.records.createConfigMap(namespace, spec);
  }

  listConfigMaps(namespace: string | undefined, selector: string): Promise<ConfigMapMeta[]> {
    return this.records.listConfigMaps(namespace, selector);
  }

  readConfigMap(namespace: string, name: string): Promise<StoredConfigMap | undefined> {
    return this.records.readConfigMap(namespace, name);
  }

  deleteConfigMap(namespace: string, name: string): Promise<void> {
    return this.records.deleteConfigMap(namespace, name);
  }

  /** Runs an API call; turns its failure into an error that says what to do. */
  private async call<T>(op: ApiOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw apiError(op, this.failure(e));
    }
  }

  private failure(e: unknown): { code: number | undefined; message: string; server: string; context: string } {
    const base = { server: this.identity.server, context: this.identity.context };
    if (e instanceof k8s.ApiException) return { ...base, code: e.code, message: statusMessage(e.body) };
    return { ...base, code: undefined, message: e instanceof Error ? e.message : String(e) };
  }

  async listPods(namespace: string | undefined, selector: string | undefined): Promise<PodInfo[]> {
    const labels = selector === undefined ? {} : { labelSelector: selector };
    const list = await this.call({ doing: "list pods in", verb: "list", resource: "pods", namespace: namespace ?? "(all namespaces)" }, () =>
      namespace === undefined ? this.core.listPodForAllNamespaces(labels) : this.core.listNamespacedPod({ namespace, ...labels }),
    );
    return list.items.map(podInfo);
  }

  /** A request on the keep-alive agent (rawRequest), its failure an error that says what to do; undefined through a proxy. */
  private async raw(op: ApiOperation, method: "GET" | "PATCH", path: string, body?: { readonly type: string; readonly text: string }, timeoutMs?: number): Promise<Answer | undefined> {
    let r: Answer | undefined;
    try {
      r = await rawRequest(this.kc, method, path, body, timeoutMs);
    } catch (e) {
      throw apiError(op, this.failure(e));
    }
    if (r === undefined || (r.status >= 200 && r.status < 300) || (r.status === 404 && method === "GET")) return r;
    throw apiError(op, { server: this.identity.server, context: this.identity.context, code: r.status, message: statusMessage(r.text), resent: r.resent });
  }

  async getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    const op = { doing: "read", verb: "get", resource: "pods", namespace, name };
    const r = await this.raw(op, "GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`);
    if (r !== undefined) {
      if (r.status === 404) return undefined;
      try {
        return podInfo(JSON.parse(r.text) as k8s.V1Pod);
      } catch {
        throw apiError(op, { server: this.identity.server, context: this.identity.context, code: r.status, message: `the answer is not a pod: ${r.text.slice(0, 200)}` });
      }
    }
    try {
      return podInfo(await this.core.readNamespacedPod({ name, namespace }));
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return undefined;
      throw apiError(op, this.failure(e));
    }
  }

  async containerLog(namespace: string, pod: string, container: string, options: { readonly limitBytes: number; readonly timeoutMs: number }): Promise<string> {
    const op = { doing: "read the log of", verb: "get", resource: "pods", subresource: "log", namespace, name: pod };
    const query = `container=${encodeURIComponent(container)}&limitBytes=${Math.max(1, Math.floor(options.limitBytes))}`;
    const r = await this.raw(op, "GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log?${query}`, undefined, options.timeoutMs);
    if (r !== undefined) {
      if (r.status === 404) throw apiError(op, { server: this.identity.server, context: this.identity.context, code: 404, message: statusMessage(r.text) });
      return r.text;
    }
    return this.call(op, () => this.core.readNamespacedPodLog({ name: pod, namespace, container, limitBytes: options.limitBytes }));
  }

  async addEphemeralContainer(namespace: string, pod: string, spec: AgentContainerSpec): Promise<void> {
    const container: k8s.V1EphemeralContainer = {
      name: spec.name,
      image: spec.image,
      imagePullPolicy: spec.pullPolicy,
      args: [...spec.args],
      env: Object.entries(spec.env).map(([name, value]) => ({ name, value })),
      // explicit, never inherited from the pod: a pod-level runAsUser 1000 would leave the
      // capabilities without effect, a pod-level runAsNonRoot would stop the agent starting
      securityContext: securityContextOf(spec.securityContext),
      terminationMessagePolicy: "FallbackToLogsOnError",
      ...(spec.targetContainerName === undefined ? {} : { targetContainerName: spec.targetContainerName }),
      // stdinOnce false: the stdin stays open when an attach ends, for the next one
      ...(spec.stdin === true ? { stdin: true, stdinOnce: false, tty: false } : {}),
    };
    // A strategic merge patch (merge key: name) appends to the existing list, as kubectl debug
    // does. A JSON/merge patch of the whole list would drop containers already there: a 422.
    const op = { doing: "add the agent to", verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace, name: pod };
    const body = { spec: { ephemeralContainers: [container] } };
    // the answer (the whole pod) is not read: the pod watch follows the container from here
    const r = await this.raw(op, "PATCH", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/ephemeralcontainers`, {
      type: "application/strategic-merge-patch+json",
      text: JSON.stringify(body),
    });
    if (r === undefined) await this.call(op, () => this.core.patchNamespacedPodEphemeralcontainers({ name: pod, namespace, body }, strategicMerge));
  }

  waitContainerRunning(namespace: string, pod: string, container: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<PodInfo> {
    return new Promise<PodInfo>((resolve, reject) => {
      let settled = false;
      let stop: (() => void) | undefined;
      const finish = (err: Error | undefined, info?: PodInfo): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal.removeEventListener("abort", onAbort);
        stop?.();
        if (err !== undefined) reject(err);
        else if (info !== undefined) resolve(info);
      };
      const check = (info: PodInfo | undefined): void => {
        if (info === undefined || info.deleting) {
          finish(new CouldNotRunError(`pod ${namespace}/${pod} was deleted while chaos-run waited for its container ${container}`));
          return;
        }
        const c = [...info.ephemeralContainers, ...info.containers].find((x) => x.name === container);
        if (c === undefined) return;
        if (c.state === "running") finish(undefined, info);
        else if (c.state === "terminated") {
          finish(
            new CouldNotRunError(
              `container ${container} in pod ${namespace}/${pod} exited (${c.reason ?? "exit"} ${c.exitCode ?? ""}) instead of running${c.message !== undefined ? `: ${c.message}` : ""}`,
            ),
          );
        } else if (c.state === "waiting" && c.reason !== undefined && HOPELESS.has(c.reason)) {
          finish(
            new CouldNotRunError(`container ${container} in pod ${namespace}/${pod} cannot start: ${c.reason}${c.message !== undefined ? `: ${c.message}` : ""}`, {
              hint: `the node must be able to pull ${c.image}: push it to a registry the nodes reach (or load it into kind/minikube), or pass --agent-image`,
            }),
          );
        }
      };
      const onAbort = (): void => finish(new CouldNotRunError(`stopped waiting for container ${container} in pod ${namespace}/${pod}`));
      const timer = setTimeout(
        () =>
          finish(
            new CouldNotRunError(`container ${container} in pod ${namespace}/${pod} did not start within ${Math.round(options.timeoutMs / 1000)} s`, {
              hint: `kubectl describe pod ${pod} -n ${namespace}`,
            }),
          ),
        options.timeoutMs,
      );
      options.signal.addEventListener("abort", onAbort, { once: true });
      // Watch first, then read once: no transition can fall between the two. The watch's last
      // word on the pod (it is followed through the run) is as good as a read, and costs none.
      this.hub
        .listen(
          namespace,
          pod,
          (phase, info) => check(phase === "DELETED" ? undefined : info),
          (err) => finish(err),
        )
        .then((s) => {
          stop = s;
          if (settled) s();
          else {
            const known = this.hub.latest(namespace, pod);
            if (known !== undefined) check(known);
            else return this.getPod(namespace, pod).then(check);
          }
          return undefined;
        })
        .catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }

  async exec(namespace: string, pod: string, container: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    const out = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        stdout += chunk.toString("utf8");
        cb();
      },
    });
    const err = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        stderr += chunk.toString("utf8");
        cb();
      },
    });
    const result = (fields: Partial<ExecResult>): ExecResult => ({
      argv,
      pod,
      container,
      exitCode: undefined,
      stdout,
      stderr,
      durationMs: performance.now() - started,
      timedOut: false,
      canceled: false,
      error: undefined,
      ...fields,
    });
    if (options.signal?.aborted === true) return result({ canceled: true, error: "canceled before it started" });
    return new Promise<ExecResult>((resolve) => {
      let settled = false;
      let socket: { close(): void } | undefined;
      let outcome: ExecResult | undefined;
      const done = (r: ExecResult): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const onAbort = (): void => {
        socket?.close();
        done(result({ canceled: true, error: "canceled" }));
      };
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              socket?.close();
              done(result({ timedOut: true, error: `timed out after ${options.timeoutMs} ms` }));
            }, options.timeoutMs);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.execer
        .exec(namespace, pod, container, [...argv], out, err, null, false, (status: k8s.V1Status) => {
          const o = execOutcome(status);
          outcome = o.kind === "exited" ? result({ exitCode: o.exitCode }) : result({ error: o.message });
        })
        .then((ws) => {
          socket = ws;
          if (settled) ws.close();
          ws.on("close", () => done(outcome !== undefined ? { ...outcome, stdout, stderr, durationMs: performance.now() - started } : result({ error: "the exec stream closed without a status" })));
          ws.on("error", (e: Error) => done(result({ error: e.message })));
        })
        .catch((e: unknown) => done(result({ error: errorText(e) })));
    });
  }

  attach(namespace: string, pod: string, container: string, handlers: AttachHandlers, options: { readonly timeoutMs: number }): Promise<AttachedStream> {
    const stdin = new PassThrough();
    const lines = new LineSplitter(handlers.line, RAW_LIMIT_BYTES);
    const stdout = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        lines.push(chunk);
        cb();
      },
    });
    return new Promise<AttachedStream>((resolve, reject) => {
      let ended = false;
      let stream: AttachedStream | undefined;
      let socket: { close(): void } | undefined;
      const end = (why: string): void => {
        if (ended) return;
        ended = true;
        this.attaches.delete(end);
        clearTimeout(timer);
        stdin.destroy();
        socket?.close();
        if (stream === undefined) reject(new CouldNotRunError(`could not attach to container ${container} in pod ${namespace}/${pod}: ${why}`));
        else handlers.closed(why);
      };
      const timer = setTimeout(() => end(`no answer within ${options.timeoutMs} ms`), options.timeoutMs);
      this.attaches.add(end);
      this.attacher
        .attach(namespace, pod, container, stdout, null, stdin, false)
        .then((ws) => {
          socket = ws;
          // the cluster closed, or the wait ended, while it opened: closed here (end() may have run already)
          if (ended || this.closed) {
            ws.close();
            end("the cluster connection was closed");
            return;
          }
          clearTimeout(timer);
          ws.on("close", () => end("the stream closed"));
          ws.on("error", (e: Error) => end(e.message));
          stream = {
            send: (line) => {
              if (ended) return false;
              stdin.write(`${line}\n`);
              return true;
            },
            close: () => end("closed by the runner"),
          };
          return resolve(stream);
        })
        .catch((e: unknown) => end(errorText(e)));
    });
  }

  async canI(check: AccessCheck): Promise<boolean> {
    const review = await this.call({ doing: "check permissions in", verb: "create", resource: "selfsubjectaccessreviews", namespace: check.namespace }, () =>
      this.authz.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              namespace: check.namespace,
              verb: check.verb,
              group: check.group ?? "",
              resource: check.resource,
              ...(check.subresource === undefined ? {} : { subresource: check.subresource }),
              ...(check.name === undefined ? {} : { name: check.name }),
            },
          },
        },
      }),
    );
    return review.status?.allowed === true;
  }

  async apiResource(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    this.objects ??= ObjectApi.forConfig(this.kc);
    const api = this.objects;
    const slash = apiVersion.indexOf("/");
    const group = slash < 0 ? "" : apiVersion.slice(0, slash);
    let found: k8s.V1APIResource | undefined;
    try {
      found = await api.apiResource(apiVersion, kind);
    } catch (e) {
      // a group or version the API server does not serve: no such kind
      if (e instanceof k8s.ApiException && e.code === 404) return undefined;
      throw apiError({ doing: `discover the ${apiVersion} API of`, verb: "get", resource: `${apiVersion} discovery`, namespace: "(cluster)" }, this.failure(e));
    }
    return found === undefined ? undefined : { group, resource: found.name, namespaced: found.namespaced };
  }

  async namespaceLabels(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const ns = await this.core.readNamespace({ name });
      return ns.metadata?.labels ?? {};
    } catch (e) {
      if (e instanceof k8s.ApiException && (e.code === 403 || e.code === 401)) return undefined;
      if (e instanceof k8s.ApiException && e.code === 404) {
        throw new CouldNotRunError(`namespace ${name} does not exist`, { hint: "kubectl get namespaces" });
      }
      throw apiError({ doing: "read", verb: "get", resource: "namespaces", namespace: name }, this.failure(e));
    }
  }

  async createPod(namespace: string, spec: PodSpecForTools): Promise<void> {
    await this.call({ doing: "create the tools pod in", verb: "create", resource: "pods", namespace, name: spec.name }, () =>
      this.core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: spec.name, labels: { ...spec.labels }, annotations: { ...spec.annotations } },
          spec: {
            containers: [{ name: "tools", image: spec.image, imagePullPolicy: spec.pullPolicy, command: [...spec.command], securityContext: securityContextOf(spec.securityContext) }],
            // it runs once: its command ends by itself, and the kubelet ends it at the deadline
            restartPolicy: "Never",
            activeDeadlineSeconds: spec.activeDeadlineSeconds,
            // no token: the probes need no API access from inside
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
          },
        },
      }),
    );
  }

  async deletePod(namespace: string, name: string, options?: DeleteOptions): Promise<void> {
    // the tools pod (no options) goes at once; a pod deleted as a fault keeps its own grace period unless one is given
    const grace = options === undefined ? 1 : options.gracePeriodSeconds;
    try {
      await this.core.deleteNamespacedPod({ name, namespace, body: grace === undefined ? {} : { gracePeriodSeconds: grace } });
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return;
      throw apiError({ doing: "delete", verb: "delete", resource: "pods", namespace, name }, this.failure(e));
    }
  }

  async watchPods(namespace: string, name: string | undefined, listener: (pod: PodInfo, gone: boolean) => void, onError?: (err: Error) => void): Promise<() => void> {
    let established = false;
    let failed: Error | undefined;
    const stop = await this.hub.listen(
      namespace,
      name ?? EVERY_POD,
      (phase, info) => listener(info, phase === "DELETED"),
      (err) => {
        if (established) onError?.(err);
        else failed = err;
      },
    );
    if (failed !== undefined) {
      stop();
      throw failed;
    }
    established = true;
    return stop;
  }

  async getObjects(query: ObjectQuery): Promise<unknown[]> {
    this.objects ??= ObjectApi.forConfig(this.kc);
    const api = this.objects;
    const resource = query.kind.toLowerCase();
    const op: ApiOperation = {
      doing: `read ${query.kind} objects (a k8s probe) in`,
      verb: query.name === undefined ? "list" : "get",
      resource,
      namespace: query.namespace ?? "(cluster)",
      name: query.name,
    };
    // the object as plain JSON (client-node's typed models would rename nothing a JSONPath reads, but dates become Date objects)
    const plain = (o: unknown): unknown => JSON.parse(JSON.stringify(o)) as unknown;
    try {
      if (query.name !== undefined) {
        const meta = query.namespace === undefined ? { name: query.name } : { name: query.name, namespace: query.namespace };
        return [plain(await api.read({ apiVersion: query.apiVersion, kind: query.kind, metadata: meta }))];
      }
      const list = await api.list(query.apiVersion, query.kind, query.namespace, undefined, undefined, undefined, undefined, query.selector);
      return list.items.map(plain);
    } catch (e) {
      const body = e instanceof k8s.ApiException ? (e.body as unknown) : undefined;
      const text = `${e instanceof Error ? e.message : String(e)} ${typeof body === "string" ? body : JSON.stringify(body ?? "")}`;
      // a Status with reason NotFound is the object missing; any other 404 is the kind the API lacks
      if (e instanceof k8s.ApiException && e.code === 404 && query.name !== undefined && /"reason"\s*:\s*"NotFound"/.test(text) && /"details"/.test(text)) return [];
      if (/Unrecognized API version and kind|Failed to fetch resource metadata/.test(text)) {
        throw new CouldNotRunError(`the API server has no kind ${query.kind} in ${query.apiVersion}`, {
          hint: "kubectl api-resources lists the kinds and their apiVersion: set the probe's apiVersion",
        });
      }
      throw apiError(op, this.failure(e));
    }
  }

  followPod(namespace: string, name: string, on: PodFollower): () => void {
    let stopped = false;
    let fired = false;
    let stop: (() => void) | undefined;
    const fire = (reason: string): void => {
      if (fired || stopped) return;
      fired = true;
      on.gone(reason);
    };
    this.hub
      .listen(
        namespace,
        name,
        (phase, info) => {
          if (stopped) return;
          if (phase !== "DELETED") on.changed?.(info);
          if (phase === "DELETED") fire("deleted");
          else if (info.deleting) fire("terminating");
        },
        () => undefined,
      )
      .then((s) => {
        stop = s;
        if (stopped) s();
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
      stop?.();
    };
  }

  close(): void {
    this.closed = true;
    for (const end of [...this.attaches]) end("the cluster connection was closed");
    this.hub.close();
    this.kc.destroy();
  }
}

export function connect(options: ConnectOptions): ConnectedCluster {
  const { kc, inCluster } = loadConfig(options);
  return new ClientNodeCluster(kc, inCluster);
}
