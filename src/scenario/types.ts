// The scenario in two shapes: Raw* as written (what schemas/scenario.schema.json admits) and
// the normalised Scenario the planner and engine use (durations in ms, percents as numbers,
// rates in bits/s plus the original string, defaults filled in, expressions parsed).
// test/unit/schema-types.test.ts keeps the schema, these types and the normaliser in step.
import type { Expectation } from "../expect/expectation.js";
import type { ProbeKind } from "../expect/metrics.js";
import type { Distribution, Fault, KillSignal } from "../faults/types.js";
import type { Requirement, Selector, SelectorOperator } from "./selector.js";

export type {
  Fault,
  NetemFault,
  PartitionFault,
  HttpFault,
  HttpParams,
  DnsFault,
  DnsParams,
  DnsAnswer,
  KillFault,
  StressFault,
  PodDeleteFault,
  KillSignal,
  NetemParams,
  Scope,
  ScopeCidr,
  Rate,
  Distribution,
} from "../faults/types.js";
export type { Expectation } from "../expect/expectation.js";

// ---------------------------------------------------------------- raw (as written)

export type RawDuration = string;
export type RawPercent = string;

export interface RawScenario {
  apiVersion: "chaos-run/v1";
  kind: "Scenario";
  metadata: { name: string; description?: string };
  target: RawTarget;
  agent?: { image?: string; ttl?: RawDuration; lease?: RawDuration; pullPolicy?: PullPolicy };
  probes?: Record<string, RawProbe>;
  steadyState?: RawCheck[];
  steps: RawStep[];
}

export type RawMode = "all" | "one" | { count: number } | { percent: number };

export interface RawTarget {
  namespace?: string;
  selector?: Record<string, string>;
  matchExpressions?: { key: string; operator: SelectorOperator; values?: string[] }[];
  pods?: string[];
  service?: string;
  /** `deployment/NAME` (also statefulset, daemonset, replicaset) */
  workload?: string;
  mode: RawMode;
  seed?: number;
  maxPods?: number;
  allowSystemNamespaces?: boolean;
}

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";
export type DnsRecordType = "A" | "AAAA";
export type PrometheusUnit = "number" | "seconds" | "milliseconds" | "ratio" | "percent";

export interface RawProbe {
  ab?: { url: string; requests: number; concurrency: number; keepAlive?: boolean; timeout?: RawDuration };
  http?: {
    url: string;
    method?: HttpMethod;
    headers?: Record<string, string>;
    body?: string;
    requests?: number;
    concurrency?: number;
    timeout?: RawDuration;
    expectStatus?: number[];
  };
  grpc?: { address: string; method?: string; body?: Record<string, unknown>; health?: boolean | string; requests?: number; concurrency?: number; timeout?: RawDuration };
  dns?: { names: string[]; count?: number; type?: DnsRecordType; tcp?: boolean; timeout?: RawDuration };
  k8s?: { kind: string; apiVersion?: string; namespace?: string; name?: string; selector?: Record<string, string>; field?: string; condition?: string };
  prometheus?: { url: string; query: string; unit?: PrometheusUnit; timeout?: RawDuration };
  cmd?: { pod: string; container?: string; namespace?: string; argv: string[]; stdout?: string; timeout?: RawDuration };
  tools?: { image?: string };
}

export type RawOperand = number | string;
export type RawExpectation =
  | RawOperand
  | { below?: RawOperand; above?: RawOperand; atMost?: RawOperand; atLeast?: RawOperand; equals?: RawOperand; within?: [RawOperand, RawOperand]; samples?: RawPercent };
export type RawExpect = Record<string, RawExpectation>;

export interface RawCheck {
  probe: string;
  expect: RawExpect;
  every?: RawDuration;
}

export interface RawDuringProbe {
  probe: string;
  expect?: RawExpect;
  save?: string;
  every?: RawDuration;
}

export interface RawFault {
  netem?: {
    delay?: RawDuration;
    jitter?: RawDuration;
    correlation?: RawPercent;
    distribution?: Distribution;
    loss?: RawPercent;
    duplicate?: RawPercent;
    corrupt?: RawPercent;
    reorder?: RawPercent;
    rate?: string;
  };
  partition?: Record<string, never>;
  dns?: {
    names: string[];
    /** nxdomain, servfail, refused, timeout, or addresses */
    answer?: string | string[];
    delay?: RawDuration;
    jitter?: RawDuration;
    rate?: RawPercent;
  };
  http?: {
    /** a number, or (target.service) the name of one of the Service's ports */
    port: number | string;
    delay?: RawDuration;
    jitter?: RawDuration;
    errorRate?: RawPercent;
    errorCode?: number;
    errorBody?: string;
    exclude?: string[];
    methods?: string[];
  };
  grpc?: {
    /** a number, or (target.service) the name of one of the Service's ports */
    port: number | string;
    errorRate?: RawPercent;
    /** a name in any case, or a number 1..16 */
    status?: number | string;
    message?: string;
    delay?: RawDuration;
    jitter?: RawDuration;
    exclude?: string[];
    faultHealth?: boolean;
  };
  kill?: { container?: string; signal?: KillSignal };
  stress?: { cpu?: { workers: number; load?: RawPercent; allowBeyondLimit?: boolean }; memory?: { size: string; allowBeyondLimit?: boolean } };
  podDelete?: { gracePeriod?: RawDuration };
  to?: { cidr?: string; port?: number | string; protocol?: "tcp" | "udp" };
  interface?: string;
}

export interface RawStep {
  name: string;
  fault?: RawFault;
  duration?: RawDuration;
  during?: RawDuringProbe[];
  probe?: string;
  save?: string;
  expect?: RawExpect;
  wait?: RawDuration;
}

// ---------------------------------------------------------------- normalised

/**
 * Fully qualified: a short name is resolved by each node's runtime, and where a runtime searches
 * several registries (CRI-O's unqualified-search-registries) another registry's `chaos-agent`
 * could run as root with NET_ADMIN in the pods. `kind load docker-image chaos-agent` and
 * `minikube image load` store it under this name.
 */
export const DEFAULT_AGENT_IMAGE = "docker.io/library/chaos-agent:latest";
/** Never left to Kubernetes, whose default for a `:latest` tag (Always) defeats an image loaded into the nodes. */
export const DEFAULT_PULL_POLICY: PullPolicy = "IfNotPresent";
export const PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];
/** Namespaces of the cluster's own components: targeted only with target.allowSystemNamespaces. */
export const SYSTEM_NAMESPACES: readonly string[] = ["kube-system", "kube-public", "kube-node-lease"];
export const SYSTEM_NAMESPACE_HINT = "if the experiment is meant for the cluster's own components, say so in the scenario: target.allowSystemNamespaces: true (the plan then shows the opt-in in red)";
export const DEFAULT_AGENT_TTL_MS = 10 * 60_000;
export const DEFAULT_AGENT_LEASE_MS = 15_000;
/** Fully qualified, as the agent's. */
export const DEFAULT_TOOLS_IMAGE = "docker.io/library/chaos-tools:latest";
export const DEFAULT_SEED = 1;

/** The kinds of workload a target may name, as kubectl names them (`deployment/web`). */
export const WORKLOAD_KINDS = ["deployment", "statefulset", "daemonset", "replicaset"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export type TargetSelection =
  | { readonly kind: "selector"; readonly matchLabels: Readonly<Record<string, string>>; readonly matchExpressions?: readonly Requirement[] | undefined }
  | { readonly kind: "pods"; readonly names: readonly string[] }
  /** the pods the Service's selector picks; a fault's port may be one of the Service's, mapped to each pod's targetPort */
  | { readonly kind: "service"; readonly name: string }
  /** the pods the workload's spec.selector picks */
  | { readonly kind: "workload"; readonly workload: WorkloadKind; readonly name: string };

export type TargetMode = { readonly kind: "all" } | { readonly kind: "one" } | { readonly kind: "count"; readonly count: number } | { readonly kind: "percent"; readonly percent: number };

export interface Target {
  /** undefined: --namespace, else the kubeconfig context's namespace */
  readonly namespace: string | undefined;
  readonly selection: TargetSelection;
  readonly mode: TargetMode;
  /** undefined: --seed, else DEFAULT_SEED */
  readonly seed: number | undefined;
  readonly maxPods: number | undefined;
  /** target.allowSystemNamespaces: pods in SYSTEM_NAMESPACES may be hit */
  readonly allowSystemNamespaces: boolean;
  /** a Service or workload target as the run resolved it: its selector, and how it was found (and its ports mapped), in words for the plan */
  readonly resolved?: { readonly selector: Selector; readonly lines: readonly string[] } | undefined;
}

export interface AgentSettings {
  readonly image: string;
  readonly ttlMs: number;
  readonly leaseMs: number;
  /** imagePullPolicy of the agent container and the tools pod */
  readonly pullPolicy: PullPolicy;
}

export interface AbProbe {
  readonly kind: "ab";
  readonly name: string;
  readonly ab: {
    /** may contain {{ target.ip }}, {{ target.name }}, {{ env.NAME }}: see template.ts */
    readonly url: string;
    readonly requests: number;
    readonly concurrency: number;
    readonly keepAlive: boolean;
    readonly timeoutMs: number | undefined;
  };
  readonly tools: { readonly image: string };
}

export const DEFAULT_HTTP_REQUESTS = 10;
export const DEFAULT_HTTP_TIMEOUT_MS = 5_000;
export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 10_000;
export const DEFAULT_DNS_COUNT = 10;
export const DEFAULT_DNS_TIMEOUT_MS = 2_000;
export const MAX_DNS_TIMEOUT_MS = 30_000;
export const DEFAULT_CMD_TIMEOUT_MS = 10_000;

export interface HttpProbe {
  readonly kind: "http";
  readonly name: string;
  readonly http: {
    /** may contain {{ target.ip }}, {{ target.name }}, {{ env.NAME }} */
    readonly url: string;
    readonly method: HttpMethod;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string | undefined;
    readonly requests: number;
    readonly concurrency: number;
    readonly timeoutMs: number;
    /** the statuses that count as success; undefined: every 2xx and 3xx */
    readonly expectStatus: readonly number[] | undefined;
  };
  readonly tools: { readonly image: string };
}

export const DEFAULT_GRPC_REQUESTS = 10;
export const DEFAULT_GRPC_TIMEOUT_MS = 5_000;
export const MAX_GRPC_TIMEOUT_MS = 60_000;

/** Unary gRPC calls (or health checks) from the chaos-tools pod, by its grpc-load client. */
export interface GrpcProbe {
  readonly kind: "grpc";
  readonly name: string;
  readonly grpc: {
    /** HOST:PORT; may contain {{ target.ip }}, {{ target.name }}, {{ env.NAME }} */
    readonly address: string;
    /** package.Service/Method; undefined for a health check */
    readonly method: string | undefined;
    /** the request as JSON text (protojson); "{}" when none was given */
    readonly body: string;
    /** a health check: the service asked about ("" for the server); undefined for a method's calls */
    readonly health: string | undefined;
    readonly requests: number;
    readonly concurrency: number;
    readonly timeoutMs: number;
  };
  readonly tools: { readonly image: string };
}

/** Lookups from inside a target pod's network namespace, through its agent (once per target pod). */
export interface DnsProbe {
  readonly kind: "dns";
  readonly name: string;
  readonly dns: {
    /** as written: the pod's search list applies unless it ends with a dot */
    readonly names: readonly string[];
    readonly count: number;
    readonly type: DnsRecordType;
    readonly tcp: boolean;
    readonly timeoutMs: number;
  };
}

export interface K8sProbe {
  readonly kind: "k8s";
  readonly name: string;
  readonly k8s: {
    readonly kind: string;
    /** undefined: the usual one of the kind (core, apps, batch …) */
    readonly apiVersion: string | undefined;
    /** undefined: the target's namespace */
    readonly namespace: string | undefined;
    /** one object by name (may use {{ target.name }}), or several by selector */
    readonly name: string | undefined;
    readonly selector: Readonly<Record<string, string>> | undefined;
    readonly field: string | undefined;
    readonly condition: string | undefined;
  };
}

export interface PrometheusProbe {
  readonly kind: "prometheus";
  readonly name: string;
  readonly prometheus: { readonly url: string; readonly query: string; readonly unit: PrometheusUnit; readonly timeoutMs: number };
}

export interface CmdProbe {
  readonly kind: "cmd";
  readonly name: string;
  readonly cmd: {
    /** may use {{ target.name }} */
    readonly pod: string;
    readonly container: string | undefined;
    readonly namespace: string | undefined;
    readonly argv: readonly string[];
    /** a regular expression its stdout must match */
    readonly stdout: string | undefined;
    readonly timeoutMs: number;
  };
}

export type Probe = AbProbe | HttpProbe | GrpcProbe | DnsProbe | K8sProbe | PrometheusProbe | CmdProbe;
export type { ProbeKind };

/** A probe run with expectations (steadyState entries, `during` entries, probe steps). */
export interface ProbeRun {
  readonly probe: string;
  readonly save: string | undefined;
  readonly expect: readonly Expectation[];
  /** `every:` a continuous probe, one sample per interval; undefined: run once */
  readonly everyMs?: number | undefined;
}

interface StepBase {
  /** 0-based position in `steps` */
  readonly index: number;
  readonly name: string;
  /** JSON pointer of the step in the file */
  readonly path: string;
}

export interface FaultStep extends StepBase {
  readonly kind: "fault";
  readonly fault: Fault;
  /** the fault's port by the Service's name for it (target.service): the fault's own port is 0 until the target is resolved, which maps it to the pods' targetPort */
  readonly servicePort?: string | undefined;
  readonly durationMs: number;
  readonly during: readonly ProbeRun[];
  /** expectations on what the fault itself measured (kill, podDelete, stress); none when absent */
  readonly expect?: readonly Expectation[] | undefined;
}

export interface ProbeStep extends StepBase {
  readonly kind: "probe";
  readonly run: ProbeRun;
}

export interface WaitStep extends StepBase {
  readonly kind: "wait";
  readonly durationMs: number;
}

export type Step = FaultStep | ProbeStep | WaitStep;

export interface Scenario {
  readonly apiVersion: "chaos-run/v1";
  readonly kind: "Scenario";
  readonly metadata: { readonly name: string; readonly description: string | undefined };
  readonly target: Target;
  readonly agent: AgentSettings;
  readonly probes: Readonly<Record<string, Probe>>;
  readonly steadyState: readonly ProbeRun[];
  readonly steps: readonly Step[];
}
