// The Cluster port on @kubernetes/client-node: the only file that imports it. Loaded with a
// dynamic import by connectCluster (index.ts), so verbs that never touch a cluster never pay for it.
import { Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { CouldNotRunError, UsageError } from "../errors.js";
import { apiError, statusMessage, type ApiOperation } from "./api-errors.js";
import { execOutcome } from "./exec-status.js";
import type {
  AccessCheck,
  AgentContainerSpec,
  Cluster,
  ClusterIdentity,
  ConnectOptions,
  ContainerInfo,
  ExecOptions,
  ExecResult,
  PodInfo,
  PodSpecForTools,
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

function loadConfig(options: ConnectOptions): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
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
  return kc;
}

function containerInfo(spec: { name: string; image?: string | undefined; env?: k8s.V1EnvVar[] | undefined } | undefined, status: k8s.V1ContainerStatus | undefined, name: string): ContainerInfo {
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
  };
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
  };
}

class ClientNodeCluster implements Cluster {
  readonly identity: ClusterIdentity;
  private readonly core: k8s.CoreV1Api;
  private readonly authz: k8s.AuthorizationV1Api;
  private readonly execer: k8s.Exec;
  private readonly watcher: k8s.Watch;
  private readonly watches = new Set<AbortController>();

  constructor(private readonly kc: k8s.KubeConfig) {
    const ctx = kc.getContextObject(kc.getCurrentContext());
    this.identity = {
      context: kc.getCurrentContext(),
      server: kc.getCurrentCluster()?.server ?? "",
      user: kc.getCurrentUser()?.name ?? "",
      namespace: ctx?.namespace ?? "default",
    };
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.authz = kc.makeApiClient(k8s.AuthorizationV1Api);
    this.execer = new k8s.Exec(kc);
    this.watcher = new k8s.Watch(kc);
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

  async getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    try {
      return podInfo(await this.core.readNamespacedPod({ name, namespace }));
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return undefined;
      throw apiError({ doing: "read", verb: "get", resource: "pods", namespace, name }, this.failure(e));
    }
  }

  async addEphemeralContainer(namespace: string, pod: string, spec: AgentContainerSpec): Promise<void> {
    const container: k8s.V1EphemeralContainer = {
      name: spec.name,
      image: spec.image,
      args: [...spec.args],
      env: [{ name: "CHAOS_RUN_ID", value: spec.runId }],
      securityContext: { capabilities: { add: [...spec.capabilities] } },
      terminationMessagePolicy: "FallbackToLogsOnError",
      ...(spec.targetContainerName === undefined ? {} : { targetContainerName: spec.targetContainerName }),
    };
    // A strategic merge patch (merge key: name) appends to the existing list, as kubectl debug
    // does. A JSON/merge patch of the whole list would drop containers already there: a 422.
    await this.call({ doing: "add the agent to", verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace, name: pod }, () =>
      this.core.patchNamespacedPodEphemeralcontainers({ name: pod, namespace, body: { spec: { ephemeralContainers: [container] } } }, strategicMerge),
    );
  }

  waitContainerRunning(namespace: string, pod: string, container: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<PodInfo> {
    return new Promise<PodInfo>((resolve, reject) => {
      let settled = false;
      let watch: AbortController | undefined;
      const finish = (err: Error | undefined, info?: PodInfo): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal.removeEventListener("abort", onAbort);
        if (watch !== undefined) {
          watch.abort();
          this.watches.delete(watch);
        }
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
          finish(new CouldNotRunError(`container ${container} in pod ${namespace}/${pod} exited (${c.reason ?? "exit"} ${c.exitCode ?? ""}) instead of running${c.message !== undefined ? `: ${c.message}` : ""}`));
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
        () => finish(new CouldNotRunError(`container ${container} in pod ${namespace}/${pod} did not start within ${Math.round(options.timeoutMs / 1000)} s`, { hint: `kubectl describe pod ${pod} -n ${namespace}` })),
        options.timeoutMs,
      );
      options.signal.addEventListener("abort", onAbort, { once: true });
      // Watch first, then read once: no transition can fall between the two.
      this.watcher
        .watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { fieldSelector: `metadata.name=${pod}` },
          (phase: string, obj: k8s.V1Pod) => {
            if (phase === "DELETED") check(undefined);
            else if (phase === "ADDED" || phase === "MODIFIED") check(podInfo(obj));
          },
          (err: unknown) => {
            if (!settled && err !== null && err !== undefined) finish(apiError({ doing: "watch", verb: "watch", resource: "pods", namespace, name: pod }, this.failure(err)));
          },
        )
        .then((w) => {
          watch = w;
          if (settled) w.abort();
          else this.watches.add(w);
          return this.getPod(namespace, pod).then(check);
        })
        .catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }

  async exec(namespace: string, pod: string, container: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    const out = new Writable({ write: (chunk: Buffer, _enc, cb) => ((stdout += chunk.toString("utf8")), cb()) });
    const err = new Writable({ write: (chunk: Buffer, _enc, cb) => ((stderr += chunk.toString("utf8")), cb()) });
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

  async canI(check: AccessCheck): Promise<boolean> {
    const review = await this.call({ doing: "check permissions in", verb: "create", resource: "selfsubjectaccessreviews", namespace: check.namespace }, () =>
      this.authz.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              namespace: check.namespace,
              verb: check.verb,
              group: "",
              resource: check.resource,
              ...(check.subresource === undefined ? {} : { subresource: check.subresource }),
            },
          },
        },
      }),
    );
    return review.status?.allowed === true;
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
          metadata: { name: spec.name, labels: { ...spec.labels } },
          spec: {
            containers: [{ name: "tools", image: spec.image, command: [...spec.command] }],
            restartPolicy: "Always",
            terminationGracePeriodSeconds: 1,
          },
        },
      }),
    );
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace, body: { gracePeriodSeconds: 1 } });
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return;
      throw apiError({ doing: "delete", verb: "delete", resource: "pods", namespace, name }, this.failure(e));
    }
  }

  onPodGone(namespace: string, name: string, callback: (reason: string) => void): () => void {
    let stopped = false;
    let fired = false;
    let controller: AbortController | undefined;
    const fire = (reason: string): void => {
      if (fired || stopped) return;
      fired = true;
      callback(reason);
    };
    this.watcher
      .watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { fieldSelector: `metadata.name=${name}` },
        (phase: string, obj: k8s.V1Pod) => {
          if (phase === "DELETED") fire("deleted");
          else if (obj.metadata?.deletionTimestamp !== undefined) fire("terminating");
        },
        () => undefined,
      )
      .then((w) => {
        controller = w;
        if (stopped) w.abort();
        else this.watches.add(w);
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
      if (controller !== undefined) {
        controller.abort();
        this.watches.delete(controller);
      }
    };
  }

  close(): void {
    for (const w of this.watches) w.abort();
    this.watches.clear();
  }
}

export function connect(options: ConnectOptions): Cluster {
  return new ClientNodeCluster(loadConfig(options));
}
