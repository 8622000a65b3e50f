// Faults are data: typed values with fields only, defaults filled in before anything is built.
// src/scenario normalises a scenario's `fault:` into these; src/faults maps them to the agent
// protocol's FaultSpec (requests.ts).

export type Distribution = "uniform" | "normal" | "pareto" | "paretonormal";

export interface Rate {
  readonly bitsPerSecond: number;
  /** as written in the scenario (`1mbit`): the agent gets exactly this */
  readonly text: string;
}

/** netem parameters; every value is optional but at least one is set. */
export interface NetemParams {
  readonly delayMs: number | undefined;
  readonly jitterMs: number | undefined;
  /** delay correlation, percent */
  readonly correlation: number | undefined;
  readonly distribution: Distribution | undefined;
  readonly loss: number | undefined;
  readonly duplicate: number | undefined;
  readonly corrupt: number | undefined;
  readonly reorder: number | undefined;
  readonly rate: Rate | undefined;
}

export interface ScopeCidr {
  readonly family: 4 | 6;
  /** address/prefix, e.g. `10.0.0.0/8`, `fd00::/64` */
  readonly text: string;
}

/** Which traffic a fault applies to. `port` matches source OR destination port. */
export interface Scope {
  readonly cidr: ScopeCidr | undefined;
  readonly port: number | undefined;
  readonly protocol: "tcp" | "udp" | undefined;
}

export interface NetemFault {
  readonly kind: "netem";
  readonly netem: NetemParams;
  readonly scope: Scope | undefined;
  /** undefined: the pod's default-route interface, resolved by the agent */
  readonly interface: string | undefined;
}

export interface PartitionFault {
  readonly kind: "partition";
  readonly scope: Scope | undefined;
  readonly interface: string | undefined;
}

/** What the agent's HTTP proxy does to each request the fault covers. */
export interface HttpParams {
  /** the TCP port the pod serves HTTP on */
  readonly port: number;
  readonly delayMs: number | undefined;
  /** ± around the delay, uniform */
  readonly jitterMs: number | undefined;
  /** percent of the covered requests answered with errorCode instead of being forwarded */
  readonly errorRate: number | undefined;
  /** set (default 500) when errorRate is */
  readonly errorCode: number | undefined;
  readonly errorBody: string | undefined;
  /** request paths that pass untouched: an entry and what is under it */
  readonly exclude: readonly string[];
  /** only these methods are faulted; empty: every method */
  readonly methods: readonly string[];
}

export interface HttpFault {
  readonly kind: "http";
  readonly http: HttpParams;
  /** where the port's incoming connections are redirected; undefined: the pod's default-route interface */
  readonly interface: string | undefined;
}

/** What a DNS fault answers a faulted query: an error rcode, no answer at all, or addresses. */
export const DNS_ERROR_ANSWERS = ["nxdomain", "servfail", "refused", "timeout"] as const;
export type DnsErrorAnswer = (typeof DNS_ERROR_ANSWERS)[number];
export type DnsAnswer = { readonly kind: DnsErrorAnswer } | { readonly kind: "addresses"; readonly addresses: readonly string[] };

/** What the agent's resolver does to the pod's queries for names that match. */
export interface DnsParams {
  /** globs: a label that is `*` stands for one or more whole labels, a `*` inside a label for any characters of that label; lower-case, without the final dot */
  readonly names: readonly string[];
  /** undefined: only the delay, before the real answer */
  readonly answer: DnsAnswer | undefined;
  readonly delayMs: number | undefined;
  /** ± around the delay, uniform */
  readonly jitterMs: number | undefined;
  /** percent of the matching queries faulted (the rest forwarded untouched) */
  readonly rate: number;
}

export interface DnsFault {
  readonly kind: "dns";
  readonly dns: DnsParams;
}

/** A DNS name or a glob of one, as the agent takes it: labels of letters, digits, `-`, `_` and `*`, an optional final dot (at most 254 characters). */
export const DNS_NAME_GLOB = /^[A-Za-z0-9_*-]{1,63}(\.[A-Za-z0-9_*-]{1,63})*\.?$/;
/** The most names one DNS fault matches. */
export const MAX_DNS_NAMES = 64;
/** The longest delay (and jitter) the agent's resolver holds a query for. */
export const MAX_DNS_DELAY_MS = 60_000;
/** The longest delay (and jitter) the agent takes for netem, http and grpc faults (the protocol's `delayMs`, `jitterMs` maximum). */
export const MAX_DELAY_MS = 3_600_000;

/** A name or a glob as the agent matches it: lower-case, without the final dot (DNS names are case-insensitive). */
export function dnsNameOf(text: string): string {
  return text.toLowerCase().replace(/\.$/, "");
}

/** An answer as written (a word, or addresses) → the fault's; null when it is neither. Addresses are checked elsewhere (src/scenario/cidr.ts). */
export function dnsAnswerOf(given: string | readonly string[]): DnsAnswer | null {
  if (typeof given !== "string") return given.length === 0 ? null : { kind: "addresses", addresses: [...given] };
  const word = DNS_ERROR_ANSWERS.find((a) => a === given.toLowerCase());
  return word === undefined ? null : { kind: word };
}

/** The status of an injected error when the scenario names none. */
export const DEFAULT_HTTP_ERROR_CODE = 500;

/** The gRPC status codes a fault may answer with, by number (OK, 0, is not a fault). */
export const GRPC_STATUS_NAMES = {
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
} as const satisfies Readonly<Record<number, string>>;

export type GrpcStatusCode = keyof typeof GRPC_STATUS_NAMES;

/** UNAVAILABLE: what a client sees of a server that is down, and retries. */
export const DEFAULT_GRPC_STATUS: GrpcStatusCode = 14;

/** The service whose calls the kubelet's gRPC probes make: excluded unless the fault asks for it. */
export const GRPC_HEALTH_SERVICE = "grpc.health.v1.Health";

/** A status code by its number (1..16) or its name, any case (`unavailable`); undefined for anything else, OK included. */
export function grpcStatusOf(given: number | string): GrpcStatusCode | undefined {
  if (typeof given === "number") return Number.isInteger(given) && given >= 1 && given <= 16 ? (given as GrpcStatusCode) : undefined;
  const upper = given.trim().toUpperCase();
  if (/^[0-9]+$/.test(upper)) return grpcStatusOf(Number(upper));
  const found = Object.entries(GRPC_STATUS_NAMES).find(([, name]) => name === upper);
  return found === undefined ? undefined : (Number(found[0]) as GrpcStatusCode);
}

/** `14 UNAVAILABLE` */
export function grpcStatusWords(code: GrpcStatusCode): string {
  return `${code} ${GRPC_STATUS_NAMES[code]}`;
}

/** What the agent's proxy does to each gRPC call (h2c) the fault covers. */
export interface GrpcParams {
  /** the TCP port the pod serves gRPC on */
  readonly port: number;
  readonly delayMs: number | undefined;
  /** ± around the delay, uniform */
  readonly jitterMs: number | undefined;
  /** percent of the covered calls answered with `status` in trailers instead of being forwarded */
  readonly errorRate: number | undefined;
  /** set (default UNAVAILABLE) when errorRate is */
  readonly status: GrpcStatusCode | undefined;
  /** grpc-message of those errors */
  readonly message: string | undefined;
  /** services (`pkg.Service`) or methods (`pkg.Service/Method`) whose calls pass untouched */
  readonly exclude: readonly string[];
  /** the health service is faulted too (by default its calls pass untouched, so the kubelet's gRPC probes do not restart the pod) */
  readonly faultHealth: boolean;
}

export interface GrpcFault {
  readonly kind: "grpc";
  readonly grpc: GrpcParams;
  /** where the port's incoming connections are redirected; undefined: the pod's default-route interface */
  readonly interface: string | undefined;
}

/** The signals chaos-run offers for a kill: those whose default action ends a process. */
export const KILL_SIGNALS = ["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGABRT", "SIGUSR1", "SIGUSR2"] as const;
export type KillSignal = (typeof KILL_SIGNALS)[number];

/** A signal to a container's main process: an event, delivered by a kill agent of its own. */
export interface KillFault {
  readonly kind: "kill";
  /** undefined: the pod's default container (kubectl.kubernetes.io/default-container, else the first) */
  readonly container: string | undefined;
  readonly signal: KillSignal;
}

/** CPU and memory consumed by the agent, in the pod's cgroup. */
export interface StressFault {
  readonly kind: "stress";
  readonly cpu:
    | {
        readonly workers: number;
        /** percent of one CPU per worker */
        readonly load: number;
        /** stress.cpu.allowBeyondLimit: more than the pod's CPU limit (or, without one, its request) is asked for on purpose */
        readonly allowBeyondLimit?: boolean | undefined;
      }
    | undefined;
  readonly memory:
    | {
        readonly bytes: number;
        /** as written, e.g. `64Mi` */
        readonly text: string;
        /** stress.memory.allowBeyondLimit: more than the pod's memory limit (or, without one, its request) is asked for on purpose */
        readonly allowBeyondLimit?: boolean | undefined;
      }
    | undefined;
}

/** The pod deleted through the API: an event, watched for its controller's replacement. */
export interface PodDeleteFault {
  readonly kind: "podDelete";
  /** undefined: the pod's own terminationGracePeriodSeconds */
  readonly gracePeriodMs: number | undefined;
}

export type Fault = NetemFault | PartitionFault | HttpFault | GrpcFault | DnsFault | KillFault | StressFault | PodDeleteFault;

/**
 * Faults in the pod's network namespace, held by the pod's agent: an interface (netem and
 * partition also a scope). The others act on processes or on the pod.
 */
export type NetworkFault = NetemFault | PartitionFault | HttpFault | GrpcFault;

export function isNetworkFault(f: Fault): f is NetworkFault {
  return f.kind === "netem" || f.kind === "partition" || f.kind === "http" || f.kind === "grpc";
}
