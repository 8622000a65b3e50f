// Requests to the agent, in the agent protocol (schemas/agent-protocol.schema.json; its types
// are generated into protocol.generated.ts). Pure: a fault is mapped to what it is (its kind
// and parameters), never to the commands that make it kernel state — the agent owns those, sees
// the pod (its interface, the tc handles free there, its address families) and reports back
// every command it ran. One request per exec: `chaos-agent request JSON`, argv, no shell.
import type {
  ApplyRequest,
  DnsParams as DnsParamsSpec,
  FaultSpec,
  HttpParams as HttpParamsSpec,
  NetemParams as NetemParamsSpec,
  RenewRequest,
  Request,
  ResolveRequest,
  RevertRequest,
  Scope as ScopeSpec,
  GrpcParams as GrpcParamsSpec,
  StatusRequest,
  SweepRequest,
} from "./protocol.generated.js";
import type { DnsAnswer, DnsParams, Fault, GrpcParams, HttpParams, KillFault, NetemParams, Scope, StressFault } from "./types.js";

export const PROTOCOL_VERSION = 1 as const;
/** The agent's program in its image (on PATH). */
export const AGENT_PROGRAM = "chaos-agent";

/** The protocol's bounds of a lease (LeaseMs). */
export const MIN_LEASE_MS = 1000;
export const MAX_LEASE_MS = 86_400_000;

/** A lease the protocol admits: whole milliseconds, 1 s to 24 h. */
export function leaseMsOf(ms: number): number {
  return Math.min(MAX_LEASE_MS, Math.max(MIN_LEASE_MS, Math.ceil(ms)));
}

function netemParams(p: NetemParams): NetemParamsSpec {
  const out: NetemParamsSpec = {};
  if (p.delayMs !== undefined) out.delayMs = p.delayMs;
  if (p.jitterMs !== undefined) out.jitterMs = p.jitterMs;
  if (p.correlation !== undefined) out.correlation = p.correlation;
  if (p.distribution !== undefined) out.distribution = p.distribution;
  if (p.loss !== undefined) out.loss = p.loss;
  if (p.duplicate !== undefined) out.duplicate = p.duplicate;
  if (p.corrupt !== undefined) out.corrupt = p.corrupt;
  if (p.reorder !== undefined) out.reorder = p.reorder;
  if (p.rate !== undefined) out.rate = p.rate.text;
  if (Object.keys(out).length === 0) throw new RangeError("netem needs at least one parameter");
  return out;
}

/** The scope as the protocol has it; undefined when it selects nothing narrower than all traffic. */
function scopeSpec(s: Scope | undefined): ScopeSpec | undefined {
  if (s === undefined) return undefined;
  const out: ScopeSpec = {};
  if (s.cidr !== undefined) out.cidr = s.cidr.text;
  if (s.port !== undefined) out.port = s.port;
  if (s.protocol !== undefined) out.protocol = s.protocol;
  return Object.keys(out).length === 0 ? undefined : out;
}

function stressSpec(fault: StressFault): FaultSpec {
  if (fault.cpu === undefined && fault.memory === undefined) throw new RangeError("stress needs cpu or memory");
  return {
    kind: "stress",
    ...(fault.cpu === undefined ? {} : { cpu: { workers: fault.cpu.workers, load: fault.cpu.load } }),
    ...(fault.memory === undefined ? {} : { memory: { bytes: fault.memory.bytes } }),
  };
}

/**
 * A kill as the kill agent gets it: the container's name (for messages) and, known only at run
 * time from the pod's status, the runtime's id of the container (its main process is found by it
 * where the PID namespace is shared).
 */
export function killSpec(fault: KillFault, container: string | undefined, containerId: string | undefined): FaultSpec {
  return {
    kind: "kill",
    signal: fault.signal,
    ...(container === undefined ? {} : { container }),
    ...(containerId === undefined ? {} : { containerId }),
  };
}

function httpParams(p: HttpParams): HttpParamsSpec {
  const out: HttpParamsSpec = { port: p.port };
  if (p.delayMs !== undefined) out.delayMs = p.delayMs;
  if (p.jitterMs !== undefined) out.jitterMs = p.jitterMs;
  if (p.errorRate !== undefined) out.errorRate = p.errorRate;
  if (p.errorCode !== undefined) out.errorCode = p.errorCode;
  if (p.errorBody !== undefined) out.errorBody = p.errorBody;
  if (p.exclude.length > 0) out.exclude = [...p.exclude];
  const [first, ...rest] = p.methods;
  if (first !== undefined) out.methods = [first, ...rest];
  return out;
}

/** The health service's exclusion is the agent's default: only its opposite is sent. */
function grpcParams(p: GrpcParams): GrpcParamsSpec {
  const out: GrpcParamsSpec = { port: p.port };
  if (p.errorRate !== undefined) out.errorRate = p.errorRate;
  if (p.status !== undefined) out.status = p.status;
  if (p.message !== undefined) out.message = p.message;
  if (p.delayMs !== undefined) out.delayMs = p.delayMs;
  if (p.jitterMs !== undefined) out.jitterMs = p.jitterMs;
  if (p.exclude.length > 0) out.exclude = [...p.exclude];
  if (p.faultHealth) out.faultHealth = true;
  return out;
}

function dnsAnswer(a: DnsAnswer): NonNullable<DnsParamsSpec["answer"]> {
  if (a.kind !== "addresses") return a.kind;
  const [first, ...rest] = a.addresses;
  if (first === undefined) throw new RangeError("a dns answer of addresses needs at least one");
  return { addresses: [first, ...rest] };
}

/** A DNS fault's parameters as the agent takes them; the rate only where it is not the agent's default, every query. */
function dnsParams(p: DnsParams): DnsParamsSpec {
  const [first, ...rest] = p.names;
  if (first === undefined) throw new RangeError("dns needs at least one name");
  const out: DnsParamsSpec = { names: [first, ...rest] };
  if (p.answer !== undefined) out.answer = dnsAnswer(p.answer);
  if (p.delayMs !== undefined) out.delayMs = p.delayMs;
  if (p.jitterMs !== undefined) out.jitterMs = p.jitterMs;
  if (p.rate !== 100) out.rate = p.rate;
  if (out.answer === undefined && out.delayMs === undefined) throw new RangeError("dns needs an answer or a delay");
  return out;
}

/** The scenario's normalised fault → the protocol's FaultSpec (only the fields that are set). */
export function faultSpec(fault: Fault): FaultSpec {
  switch (fault.kind) {
    case "netem":
    case "partition": {
      const scope = scopeSpec(fault.scope);
      const where = { ...(fault.interface === undefined ? {} : { interface: fault.interface }), ...(scope === undefined ? {} : { scope }) };
      return fault.kind === "netem" ? { kind: "netem", ...where, netem: netemParams(fault.netem) } : { kind: "partition", ...where };
    }
    case "http":
      return { kind: "http", ...(fault.interface === undefined ? {} : { interface: fault.interface }), http: httpParams(fault.http) };
    case "grpc":
      return { kind: "grpc", ...(fault.interface === undefined ? {} : { interface: fault.interface }), grpc: grpcParams(fault.grpc) };
    case "dns":
      return { kind: "dns", dns: dnsParams(fault.dns) };
    case "stress":
      return stressSpec(fault);
    case "kill":
      return killSpec(fault, fault.container, undefined);
    case "podDelete":
      throw new TypeError("podDelete goes through the API: no agent gets it");
    default: {
      const never: never = fault;
      throw new TypeError(`unknown fault ${JSON.stringify(never)}`);
    }
  }
}

const FAULT_ID = /^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/;
const RUN_ID = /^[a-z0-9]{1,16}$/;

function checkIds(runId: string, faultId?: string): void {
  if (!RUN_ID.test(runId)) throw new RangeError(`run id ${JSON.stringify(runId)} must match ${RUN_ID.source}`);
  if (faultId !== undefined && !FAULT_ID.test(faultId)) throw new RangeError(`fault id ${JSON.stringify(faultId)} must match ${FAULT_ID.source}`);
}

export function applyRequest(runId: string, faultId: string, leaseMs: number, fault: Fault): ApplyRequest {
  checkIds(runId, faultId);
  return { protocol: PROTOCOL_VERSION, op: "apply", runId, fault: { id: faultId, leaseMs: leaseMsOf(leaseMs), spec: faultSpec(fault) } };
}

/** The same request with another spec (a kill's, filled in per pod) and, for a dry run, `dryRun`. */
export function withSpec(request: ApplyRequest, spec: FaultSpec, dryRun: boolean): ApplyRequest {
  return { ...request, fault: { ...request.fault, spec }, ...(dryRun ? { dryRun: true } : {}) };
}

export function revertRequest(runId: string, faultId: string): RevertRequest {
  checkIds(runId, faultId);
  return { protocol: PROTOCOL_VERSION, op: "revert", runId, faultId };
}

export function renewRequest(runId: string, faultId: string, leaseMs: number): RenewRequest {
  checkIds(runId, faultId);
  return { protocol: PROTOCOL_VERSION, op: "renew", runId, faultId, leaseMs: leaseMsOf(leaseMs) };
}

/** Lookups from inside the agent's pod, as its application makes them (the dns probe). */
export function resolveRequest(
  runId: string,
  o: { readonly names: readonly string[]; readonly type: "A" | "AAAA"; readonly count: number; readonly timeoutMs: number; readonly tcp: boolean; readonly containerId?: string | undefined },
): ResolveRequest {
  checkIds(runId);
  const [first, ...rest] = o.names;
  if (first === undefined) throw new RangeError("resolve needs at least one name");
  return {
    protocol: PROTOCOL_VERSION,
    op: "resolve",
    runId,
    names: [first, ...rest],
    type: o.type,
    count: o.count,
    timeoutMs: Math.max(1, Math.round(o.timeoutMs)),
    ...(o.tcp ? { tcp: true } : {}),
    ...(o.containerId === undefined ? {} : { containerId: o.containerId }),
  };
}

export function statusRequest(runId: string): StatusRequest {
  checkIds(runId);
  return { protocol: PROTOCOL_VERSION, op: "status", runId };
}

/** `own: false` reverts only orphans (objects of agents that are gone); `own: true` also what this agent holds. */
export function sweepRequest(runId: string, own: boolean): SweepRequest {
  checkIds(runId);
  return { protocol: PROTOCOL_VERSION, op: "sweep", runId, own };
}

/** The exec argv of a request: the JSON is one argument, never seen by a shell. */
export function requestArgv(request: Request): string[] {
  return [AGENT_PROGRAM, "request", JSON.stringify(request)];
}

/** The agent container's arguments: it serves for `ttlMs` (whole seconds, at least 1), then reverts everything and exits. */
export function agentServeArgs(ttlMs: number): string[] {
  return ["serve", "--ttl", `${Math.max(1, Math.ceil(ttlMs / 1000))}s`];
}

/** A kill agent's arguments: it serves one kill (and nothing else), then exits; its TTL bounds it if the kill never comes. */
export function killAgentServeArgs(ttlMs: number): string[] {
  return [...agentServeArgs(ttlMs), "--kinds", "kill"];
}

/** A stress agent's arguments: it holds one stress fault (and nothing else), and exits once it is over. */
export function stressAgentServeArgs(ttlMs: number): string[] {
  return [...agentServeArgs(ttlMs), "--kinds", "stress"];
}

/**
 * What the pod's agent needs for every network fault (and an agent added for later runs, or to
 * sweep): tc, iptables and sock_destroy need NET_ADMIN; iptables' legacy backend, which the
 * agent falls back to where the node's kernel has no nf_tables, opens a raw socket to read and
 * write its tables (NET_RAW). Which backend works is known only inside the pod.
 */
export const NETWORK_CAPABILITIES: readonly string[] = ["NET_ADMIN", "NET_RAW"];

/** netem alone: tc speaks netlink, NET_ADMIN is all it needs (no iptables, so no raw socket). */
export const NETEM_CAPABILITIES: readonly string[] = ["NET_ADMIN"];

/**
 * What a kill agent needs: a kill the agent sends with kill(2) — to a process that is not its
 * namespace's init (shareProcessNamespace), or a signal an init handles — needs KILL, since the
 * process may run as another user than the agent's root; SIGKILL to an init goes through ptrace
 * (PTRACE_ATTACH, then PTRACE_CONT with SIGKILL), which needs SYS_PTRACE and no KILL.
 */
export function killCapabilities(signal: KillFault["signal"], targetIsInit: boolean): readonly string[] {
  return signal === "SIGKILL" && targetIsInit ? ["SYS_PTRACE"] : ["KILL"];
}

/** Every capability a kill agent may be given (the preflight's RBAC-free view of a kill). */
export const KILL_CAPABILITIES: readonly string[] = ["SYS_PTRACE", "KILL"];

/**
 * How a fault reaches the pod: the pod's agent holds it (network faults); a stress agent of its
 * own holds it — a container of its own, since where the kubelet has the OOM killer take a
 * container's processes together (cgroup v2, memory.oom.group) a memory stressor must not share
 * one with the agent that holds the network faults; a kill agent of its own delivers it; or the
 * API does it.
 */
export type Delivery = "agent" | "stress-agent" | "kill-agent" | "api";

export function deliveryOf(fault: Fault): Delivery {
  switch (fault.kind) {
    case "kill":
      return "kill-agent";
    case "stress":
      return "stress-agent";
    case "podDelete":
      return "api";
    default:
      return "agent";
  }
}

/**
 * The Linux capabilities the agent that delivers a fault needs; nothing more is asked for. An HTTP
 * or gRPC fault needs what iptables needs for its redirect, and NET_ADMIN again to reset the connections
 * opened before it (sock_destroy); its proxy listens on an unprivileged port. A kill's depend on
 * the pod too (killCapabilities): this is the common case, a main process that is its init.
 */
export function capabilitiesFor(fault: Fault): readonly string[] {
  switch (fault.kind) {
    case "netem":
      return NETEM_CAPABILITIES;
    case "partition":
    case "http":
    case "grpc":
      return NETWORK_CAPABILITIES;
    case "dns":
      // nftables only (no iptables fallback, so no raw socket); its resolver's upstream queries are marked (SO_MARK)
      return NETEM_CAPABILITIES;
    case "kill":
      // where the container's main process is its namespace's init (no shareProcessNamespace)
      return killCapabilities(fault.signal, true);
    case "stress":
    case "podDelete":
      // the stressors need no privilege; a pod deletion needs no agent at all
      return [];
  }
}
