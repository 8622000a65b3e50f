// The Cluster port: everything chaos-run asks of Kubernetes, as plain data. The adapter on
// @kubernetes/client-node (client-node.ts) is the only implementation and the only importer of
// that library; nothing else in src/ may import it (startup: it costs ~0.5 s to load).
import type { AddedContainerSecurity } from "../faults/security.js";

export interface ConnectOptions {
  /** --kubeconfig; else $KUBECONFIG (colon-separated, merged), else ~/.kube/config, else in-cluster */
  readonly kubeconfig?: string | undefined;
  /** --context */
  readonly context?: string | undefined;
  /** the value of $KUBECONFIG, read by the CLI */
  readonly kubeconfigEnv?: string | undefined;
  /** $KUBERNETES_SERVICE_HOST and _PORT, read by the CLI: inside a pod with no kubeconfig, the API server there, with the pod's ServiceAccount */
  readonly serviceHost?: string | undefined;
  readonly servicePort?: string | undefined;
}

export interface ClusterIdentity {
  readonly context: string;
  readonly server: string;
  readonly user: string;
  /** the context's namespace, else "default" (in a pod: its ServiceAccount's) */
  readonly namespace: string;
  /** connected from inside a pod, as its ServiceAccount (no kubeconfig) */
  readonly inCluster?: boolean | undefined;
}

export type ContainerStateKind = "waiting" | "running" | "terminated" | "unknown";

export interface ContainerInfo {
  readonly name: string;
  readonly image: string;
  readonly state: ContainerStateKind;
  /** waiting or terminated reason (ErrImagePull, Error, …) */
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly exitCode: number | undefined;
  /** for ephemeral containers: the CHAOS_RUN_ID env of a chaos agent */
  readonly runId: string | undefined;
  /** capabilities the container's securityContext adds */
  readonly capabilities: readonly string[];
  /** the runtime's id, as containerStatuses[].containerID has it (`containerd://<hex>`) */
  readonly containerId?: string | undefined;
  readonly restartCount?: number | undefined;
  readonly ready?: boolean | undefined;
  /** how the container's previous run ended (lastState.terminated) */
  readonly lastTerminated?: ContainerEnd | undefined;
  /** when it terminated (state.terminated.finishedAt, the node's clock, ms since the epoch) */
  readonly finishedAt?: number | undefined;
  /** its securityContext's runAsUser, where it sets one */
  readonly runAsUser?: number | undefined;
}

/** How a container's run ended. */
export interface ContainerEnd {
  readonly exitCode: number;
  /** Error, Completed, OOMKilled… */
  readonly reason: string | undefined;
  readonly signal: number | undefined;
}

/** The pod-level securityContext facts that matter to an added container (it inherits them unless it sets its own). */
export interface PodSecurity {
  readonly runAsUser: number | undefined;
  readonly runAsGroup: number | undefined;
  readonly runAsNonRoot: boolean | undefined;
}

/** The pod's controller (the ownerReference with controller: true). */
export interface PodOwner {
  readonly kind: string;
  readonly name: string;
  readonly uid?: string | undefined;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly ip: string | undefined;
  readonly ips: readonly string[];
  readonly phase: string;
  readonly ready: boolean;
  readonly deleting: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly ContainerInfo[];
  readonly ephemeralContainers: readonly ContainerInfo[];
  /** spec.hostNetwork: the pod shares its node's network namespace */
  readonly hostNetwork: boolean;
  readonly owner: PodOwner | undefined;
  /** the API's mirror of a static pod (annotation kubernetes.io/config.mirror) */
  readonly mirror: boolean;
  readonly security: PodSecurity;
  /** the pod's limits: the sum of its containers' limits, where each container has one */
  readonly limits?: { readonly cpuMilli: number | undefined; readonly memoryBytes: number | undefined } | undefined;
  /** the pod's requests: the sum of its containers' requests (what the scheduler set aside for it on its node); undefined where none has one */
  readonly requests?: { readonly cpuMilli: number | undefined; readonly memoryBytes: number | undefined } | undefined;
  /** metadata.annotations (chaos-run reads only its own, e.g. a tools pod's expiry) */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** spec.activeDeadlineSeconds */
  readonly activeDeadlineSeconds?: number | undefined;
  /** annotation kubectl.kubernetes.io/default-container */
  readonly defaultContainer?: string | undefined;
  readonly terminationGracePeriodSeconds?: number | undefined;
  readonly shareProcessNamespace?: boolean | undefined;
}

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** The securityContext of a container chaos-run adds (src/faults/security.ts builds it). */
export type { AddedContainerSecurity } from "../faults/security.js";

/**
 * The ephemeral container that carries the agent. Everything is explicit: a container added to a
 * pod otherwise inherits the pod's securityContext (runAsUser 1000: capabilities not effective;
 * runAsNonRoot: the agent cannot start) and Kubernetes' pull policy default (Always for :latest).
 */
export interface AgentContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly args: readonly string[];
  /** CHAOS_AGENT_NAME (its container name) and CHAOS_RUN_ID */
  readonly env: Readonly<Record<string, string>>;
  readonly securityContext: AddedContainerSecurity;
  /** for faults that act on one container (kill, stress): shares its process namespace */
  readonly targetContainerName?: string | undefined;
  /** given a stdin (never closed after an attach: stdinOnce false): the runner holds a stream to it for its requests */
  readonly stdin?: boolean | undefined;
}

/** A stream held to a container's stdin and stdout (pods/attach): lines in, lines out. */
export interface AttachedStream {
  /** writes one line (a newline is added) to the container's stdin; false when the stream is closed */
  send(line: string): boolean;
  /** closes the stream (the container's stdin stays open for the next attach) */
  close(): void;
}

export interface AttachHandlers {
  /** each whole line of the container's stdout, without its newline */
  readonly line: (text: string) => void;
  /** once, when the stream ended (closed here, by the server, or broken): why, in words */
  readonly closed: (why: string) => void;
}

/** One exec's outcome, the same shape whether it succeeded or not (execa's habit). */
export interface ExecResult {
  readonly argv: readonly string[];
  readonly pod: string;
  readonly container: string;
  /** the command's exit code; undefined when it did not run to an exit (timed out, canceled, stream error) */
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
  readonly canceled: boolean;
  /** why it did not run, when it did not (the API's message) */
  readonly error: string | undefined;
}

export interface ExecOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

export interface DeleteOptions {
  /** undefined: the pod's own terminationGracePeriodSeconds */
  readonly gracePeriodSeconds?: number | undefined;
}

export interface AccessCheck {
  readonly verb: string;
  /** the API group: undefined or "" for the core group */
  readonly group?: string | undefined;
  readonly resource: string;
  readonly subresource?: string | undefined;
  /** "" for a cluster-scoped resource */
  readonly namespace: string;
  /** one object by its name (a Role's resourceNames may allow it where the whole resource is not) */
  readonly name?: string | undefined;
  /** the run goes on without it, more slowly (the preflight warns): granted by `chaos-run job`, never required */
  readonly optional?: boolean | undefined;
}

/** What the API server serves a kind as (discovery). */
export interface ApiResource {
  readonly group: string;
  /** the plural, e.g. `deployments` */
  readonly resource: string;
  readonly namespaced: boolean;
}

export interface PodSpecForTools {
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly labels: Readonly<Record<string, string>>;
  /** what says whose it is and until when (chaos-run.dev/expires), for sweep */
  readonly annotations: Readonly<Record<string, string>>;
  /** a command that ends by itself (never `sleep infinity`): the pod runs once (restartPolicy Never) */
  readonly command: readonly string[];
  /** the kubelet ends the pod this long after it started, whatever its command does */
  readonly activeDeadlineSeconds: number;
  readonly securityContext: AddedContainerSecurity;
}

/** Which API objects a k8s probe reads: one by name, or several by label selector. */
export interface ObjectQuery {
  readonly apiVersion: string;
  readonly kind: string;
  /** undefined for cluster-scoped kinds (Node, Namespace, …) */
  readonly namespace: string | undefined;
  readonly name?: string | undefined;
  /** `a=b,c=d` */
  readonly selector?: string | undefined;
}

export interface PodFollower {
  readonly changed?: ((pod: PodInfo) => void) | undefined;
  readonly gone: (reason: string) => void;
}

export interface Cluster {
  readonly identity: ClusterIdentity;
  /** pods of a namespace, or of every namespace when it is undefined */
  listPods(namespace: string | undefined, selector: string | undefined): Promise<PodInfo[]>;
  getPod(namespace: string, name: string): Promise<PodInfo | undefined>;
  /** Appends the container to the pod's ephemeral containers (strategic merge patch: never replaces). */
  addEphemeralContainer(namespace: string, pod: string, spec: AgentContainerSpec): Promise<void>;
  /**
   * Resolves when the named (ephemeral or regular) container runs; rejects when it terminates or
   * cannot start, or the pod goes away, or the signal aborts. Watches (opened before the first read).
   */
  waitContainerRunning(namespace: string, pod: string, container: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<PodInfo>;
  exec(namespace: string, pod: string, container: string, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Attaches to a running container's stdin and stdout (pods/attach: a websocket of its own, held
   * until closed; the cluster's close() closes every one still open). Rejects with why it could
   * not (forbidden, a container without a stdin, no answer within timeoutMs).
   */
  attach(namespace: string, pod: string, container: string, handlers: AttachHandlers, options: { readonly timeoutMs: number }): Promise<AttachedStream>;
  /**
   * The first `limitBytes` of a container's log (stdout and stderr as the kubelet keeps them): a
   * plain GET on the API server's kept-alive connection, where an exec is a connection of its own.
   * Throws what the API server said (a container not started yet is an error too), or that no
   * answer came within `timeoutMs`.
   */
  containerLog(namespace: string, pod: string, container: string, options: { readonly limitBytes: number; readonly timeoutMs: number }): Promise<string>;
  /** SelfSubjectAccessReview: is the caller allowed? */
  canI(check: AccessCheck): Promise<boolean>;
  /** Discovery: the resource the API server serves the kind as; undefined when it serves no such kind. */
  apiResource(apiVersion: string, kind: string): Promise<ApiResource | undefined>;
  /** A namespace's labels; undefined when the namespace cannot be read (no permission) */
  namespaceLabels(name: string): Promise<Readonly<Record<string, string>> | undefined>;
  createPod(namespace: string, spec: PodSpecForTools): Promise<void>;
  /** Deletes a pod (gone already: no error). Default grace period 1 s (the tools pod's). */
  deletePod(namespace: string, name: string, options?: DeleteOptions): Promise<void>;
  /**
   * Calls back with every change of a pod (name) or of every pod of a namespace (undefined):
   * `gone` when it was deleted. Resolves once the watch is established (read after it: no
   * change can be missed); the returned function stops it.
   */
  watchPods(namespace: string, name: string | undefined, listener: (pod: PodInfo, gone: boolean) => void, onError?: (err: Error) => void): Promise<() => void>;
  /**
   * The objects a k8s probe reads, as the API returns them (plain JSON): none when the named one
   * does not exist. Other failures (no such kind, forbidden, unreachable) throw, saying which.
   */
  getObjects(query: ObjectQuery, options?: { signal?: AbortSignal | undefined }): Promise<unknown[]>;
  /**
   * Follows one pod through the namespace's shared watch (no stream of its own): `changed` with
   * each new state of it (its containers' too), `gone` once when it is deleted or starts
   * terminating. Returns a function that stops following.
   */
  followPod(namespace: string, name: string, on: PodFollower): () => void;
  close(): void;
}

/** An Event about a pod, in the core v1 API (what kubectl describe, get events and events read). */
export interface PodEvent {
  readonly pod: { readonly namespace: string; readonly name: string; readonly uid: string };
  readonly type: "Normal" | "Warning";
  /** CamelCase: FaultApplied, FaultReverted, ExperimentPassed… */
  readonly reason: string;
  /** what was done: Apply, Revert, Judge */
  readonly action: string;
  readonly message: string;
  readonly at: number;
  /** which runner: its pod, or its host */
  readonly reportingInstance: string;
}

/** A ConfigMap to create: text in data, bytes in binaryData. */
export interface ConfigMapSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly data?: Readonly<Record<string, string>> | undefined;
  readonly binaryData?: Readonly<Record<string, Uint8Array>> | undefined;
}

/** A ConfigMap as a list of metadata has it. */
export interface ConfigMapMeta {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** metadata.creationTimestamp, ms since the epoch */
  readonly createdAt: number | undefined;
}

export interface StoredConfigMap extends ConfigMapMeta {
  readonly data: Readonly<Record<string, string>>;
  readonly binaryData: Readonly<Record<string, Uint8Array>>;
}

/** What a run leaves in the cluster besides its faults' reverts (src/results): Events, and results kept as ConfigMaps. */
export interface ClusterRecords {
  createEvent(event: PodEvent): Promise<void>;
  createConfigMap(namespace: string, spec: ConfigMapSpec): Promise<void>;
  /** metadata only (the journals stay on the server), of a namespace or of every one (undefined) */
  listConfigMaps(namespace: string | undefined, selector: string): Promise<ConfigMapMeta[]>;
  /** undefined when there is none by that name */
  readConfigMap(namespace: string, name: string): Promise<StoredConfigMap | undefined>;
  /** gone already: no error */
  deleteConfigMap(namespace: string, name: string): Promise<void>;
}

/** What connecting gives: the port the engine runs on, and the records the results room keeps. */
export type ConnectedCluster = Cluster & ClusterRecords;
