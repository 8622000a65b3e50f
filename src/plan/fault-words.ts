// A fault in words for the plan: its one-line summary, and the notes people must read about how
// it reaches each pod and its honest limits.
import { formatDuration } from "../expect/format.js";
import { DEFAULT_HTTP_ERROR_CODE } from "../faults/index.js";
import { DEFAULT_GRPC_STATUS, GRPC_HEALTH_SERVICE, grpcStatusWords, type DnsAnswer, type DnsParams, type Fault, type GrpcParams, type HttpParams } from "../faults/types.js";
import { formatSize } from "../scenario/units.js";
import { stressBoundNotes } from "./bounds.js";
import type { PlannedPod, PodLimits } from "./types.js";

/** `http on port 80: delay 100ms ± 5ms, 503 to 30% of requests; except /healthz; only GET` */
function httpSummary(h: HttpParams): string {
  const parts: string[] = [];
  if (h.delayMs !== undefined) parts.push(`delay ${formatDuration(h.delayMs)}${h.jitterMs !== undefined ? ` ± ${formatDuration(h.jitterMs)}` : ""}`);
  if (h.errorRate !== undefined) parts.push(`${h.errorCode ?? DEFAULT_HTTP_ERROR_CODE} to ${h.errorRate}% of requests`);
  let text = `http on port ${h.port}: ${parts.length > 0 ? parts.join(", ") : "through the proxy only"}`;
  if (h.exclude.length > 0) text += `; except ${h.exclude.join(", ")}`;
  if (h.methods.length > 0) text += `; only ${h.methods.join(", ")}`;
  return text;
}

/** `grpc on port 50051: delay 100ms ± 10ms, 14 UNAVAILABLE ("try later") to 20% of calls; except pkg.Svc/Get; health service excluded` */
function grpcSummary(g: GrpcParams): string {
  const parts: string[] = [];
  if (g.delayMs !== undefined) parts.push(`delay ${formatDuration(g.delayMs)}${g.jitterMs !== undefined ? ` ± ${formatDuration(g.jitterMs)}` : ""}`);
  if (g.errorRate !== undefined) {
    const message = g.message === undefined ? "" : ` (${JSON.stringify(g.message)})`;
    parts.push(`status ${grpcStatusWords(g.status ?? DEFAULT_GRPC_STATUS)}${message} to ${g.errorRate}% of calls`);
  }
  let text = `grpc on port ${g.port}: ${parts.length > 0 ? parts.join(", ") : "through the proxy only"}`;
  if (g.exclude.length > 0) text += `; except ${g.exclude.join(", ")}`;
  return `${text}; ${g.faultHealth ? `${GRPC_HEALTH_SERVICE} faulted too` : `${GRPC_HEALTH_SERVICE} excluded`}`;
}

/** What a faulted query gets, in words: `NXDOMAIN`, `no answer (timeout)`, `the addresses 10.0.0.1, fd00::1`. */
function dnsAnswerWords(a: DnsAnswer | undefined): string {
  if (a === undefined) return "the real answer";
  if (a.kind === "addresses") return `the address${a.addresses.length === 1 ? "" : "es"} ${a.addresses.join(", ")}`;
  return a.kind === "timeout" ? "no answer (timeout)" : a.kind.toUpperCase();
}

/** `dns for *.svc.cluster.local, api.example.com: NXDOMAIN to 50% of their queries, after 100ms ± 20ms` */
export function dnsSummary(d: DnsParams): string {
  const delay = d.delayMs === undefined ? "" : `${d.answer === undefined ? "delayed" : ", after"} ${formatDuration(d.delayMs)}${d.jitterMs !== undefined ? ` ± ${formatDuration(d.jitterMs)}` : ""}`;
  const share = d.rate === 100 ? "each of their queries" : `${d.rate}% of their queries`;
  const what = d.answer === undefined ? `${share} ${delay.trim()} before the real answer` : `${dnsAnswerWords(d.answer)} to ${share}${delay}`;
  return `dns for ${d.names.join(", ")}: ${what}; every other query answered by the pod's nameserver untouched`;
}

/** How a DNS fault reaches the pod's queries, and what it cannot reach. */
const DNS_NOTES: readonly string[] = [
  "the agent answers the queries the pod sends out of its interface to port 53 (TCP to any address, UDP to the nameservers of its resolv.conf) from a resolver of its own, in the pod's network namespace only: they are redirected to it by an nftables table of the fault's own (no iptables fallback: where the node's kernel has no nf_tables the fault is refused, nothing done); the resolver's own queries to those nameservers are not",
  "not reached: names the application keeps in its own cache (a JVM's networkaddress.cache.ttl, a connection pool that resolved once), a resolver on the pod's loopback (a caching sidecar answers from its cache; its own upstream queries are faulted), UDP queries to a nameserver that is not in the pod's resolv.conf, and names read from /etc/hosts; a pod with dnsPolicy: None is faulted all the same (its dnsConfig's nameservers are its resolv.conf's)",
];

function grpcEffect(g: GrpcParams): string {
  const parts: string[] = [];
  if (g.delayMs !== undefined) parts.push("held for the delay before it is forwarded");
  if (g.errorRate !== undefined) parts.push(`${g.errorRate}% of the calls answered with the status in a trailers-only response, never reaching the application`);
  return parts.length > 0 ? parts.join("; ") : "forwarded only";
}

/** What a gRPC fault reaches and what it does not, and why the health service is left alone. */
function grpcNotes(g: GrpcParams): string[] {
  return [
    `the agent puts an h2c proxy in front of the port (its incoming connections redirected in the pod only) and resets the connections and streams opened before, so clients come back through it; each call, unary or streaming, is faulted at its start (${grpcEffect(g)}); at the revert the calls still in flight are ended and clients reconnect to the application directly`,
    g.faultHealth
      ? `${GRPC_HEALTH_SERVICE} is faulted too (faultHealth): the kubelet's gRPC liveness and readiness probes on this port may fail, and restart the container or take the pod out of its Service`
      : `${GRPC_HEALTH_SERVICE} passes untouched (faultHealth: true faults it too): the kubelet's gRPC liveness and readiness probes call it, and faulting them would restart the container or take the pod out of its Service rather than show how clients cope`,
    "not reached: gRPC over TLS on the port (relayed byte for byte, and the run warns that the fault faulted nothing), and clients that do not come in through the pod's port (a sidecar's own loopback, calls the pod makes)",
  ];
}

export function faultSummary(fault: Fault): string {
  switch (fault.kind) {
    case "kill":
      return `kill: ${fault.signal} to the main process of ${fault.container === undefined ? "each pod's default container" : `container ${fault.container}`}`;
    case "podDelete":
      return `delete the pod${fault.gracePeriodMs === undefined ? "" : ` (grace period ${formatDuration(fault.gracePeriodMs)})`}`;
    case "stress": {
      const parts: string[] = [];
      if (fault.cpu !== undefined) parts.push(`${fault.cpu.workers} CPU worker${fault.cpu.workers === 1 ? "" : "s"} at ${fault.cpu.load}%`);
      if (fault.memory !== undefined) parts.push(`memory ${fault.memory.text}`);
      return `stress: ${parts.join(", ")}`;
    }
    case "http":
      return httpSummary(fault.http);
    case "grpc":
      return grpcSummary(fault.grpc);
    case "dns":
      return dnsSummary(fault.dns);
    default:
      return networkSummary(fault);
  }
}

function networkSummary(fault: Extract<Fault, { kind: "netem" | "partition" }>): string {
  const parts: string[] = [];
  if (fault.kind === "netem") {
    const n = fault.netem;
    if (n.delayMs !== undefined) parts.push(`delay ${formatDuration(n.delayMs)}`);
    if (n.jitterMs !== undefined) parts.push(`jitter ${formatDuration(n.jitterMs)}`);
    if (n.correlation !== undefined) parts.push(`correlation ${n.correlation}%`);
    if (n.distribution !== undefined) parts.push(`distribution ${n.distribution}`);
    if (n.loss !== undefined) parts.push(`loss ${n.loss}%`);
    if (n.duplicate !== undefined) parts.push(`duplicate ${n.duplicate}%`);
    if (n.corrupt !== undefined) parts.push(`corrupt ${n.corrupt}%`);
    if (n.reorder !== undefined) parts.push(`reorder ${n.reorder}%`);
    if (n.rate !== undefined) parts.push(`rate ${n.rate.text}`);
  }
  const head = fault.kind === "netem" ? `netem ${parts.join(", ")}` : "partition (drop both directions)";
  const scope: string[] = [];
  if (fault.scope?.cidr !== undefined) scope.push(`cidr ${fault.scope.cidr.text}`);
  if (fault.scope?.port !== undefined) scope.push(`port ${fault.scope.port} (source or destination)`);
  if (fault.scope?.protocol !== undefined) scope.push(fault.scope.protocol);
  return scope.length > 0 ? `${head}; only ${scope.join(", ")}` : `${head}; all traffic`;
}

function cpuWords(milli: number): string {
  return milli % 1000 === 0 ? `${milli / 1000} CPU` : `${milli}m`;
}

function limitsWords(l: PodLimits | undefined): string {
  if (l === undefined) return "";
  const parts = [l.cpuMilli === undefined ? "no CPU limit" : `CPU limit ${cpuWords(l.cpuMilli)}`, l.memoryBytes === undefined ? "no memory limit" : `memory limit ${formatSize(l.memoryBytes)}`];
  return parts.join(", ");
}

/** What people must know about how a fault reaches each pod, and its limits: printed with the plan. */
export function faultNotes(fault: Fault, pods: readonly PlannedPod[], agentName: string): string[] {
  switch (fault.kind) {
    case "stress": {
      const notes = [
        `the stressors run in a stress agent ${agentName}, an ephemeral container of their own with no capability added: it has no resources of its own and runs in the pod's cgroup, outside the target container's — it competes with the app under the pod's limits, not the app container's own`,
      ];
      if (fault.memory !== undefined)
        notes.push(
          "the memory stressor asks the OOM killer to take it first (oom_score_adj 1000): under the pod's memory limit it is what the OOM killer takes — with the stress agent's whole container where the kubelet has it take a container's processes together (cgroup v2) — and the report says so, or says which container it took instead",
        );
      for (const p of pods) if (!p.placeholder && p.limits !== undefined) notes.push(`pod ${p.name}: ${limitsWords(p.limits)} (the sum of its containers' limits; the pod's cgroup enforces it)`);
      notes.push(...stressBoundNotes(fault, pods));
      return notes;
    }
    case "kill": {
      const notes = [
        `a kill agent ${agentName} is added to each pod with targetContainerName (it shares the container's PID namespace) and the one capability its signal needs (SYS_PTRACE for SIGKILL through ptrace, KILL for kill(2)), then asked, in every pod before any is touched, whether ${fault.signal} can be delivered: an init (the container's main process, without shareProcessNamespace) gets from inside its namespace only the signals it handles, and SIGKILL through ptrace; anything else is refused, with the reason, before any harm`,
        "where the main process is its namespace's init, the kill agent dies with it; the container's restart and the pod's return to Ready are watched for the step's duration",
      ];
      for (const p of pods)
        if (!p.placeholder && p.containers !== undefined)
          notes.push(
            `pod ${p.name}: container ${fault.container ?? p.containers[0] ?? "?"}${fault.container !== undefined && !p.containers.includes(fault.container) ? ` — NOT one of its containers (${p.containers.join(", ")})` : ""}`,
          );
      return notes;
    }
    case "podDelete": {
      const notes = ["deleted through the API (no agent); recovery is watched for the step's duration: a replacement from the same controller that becomes Ready"];
      for (const p of pods) {
        if (p.placeholder || p.controller === undefined) continue;
        notes.push(p.controller === null ? `pod ${p.name} has no controller: it will not come back` : `pod ${p.name}: its ${p.controller.kind} ${p.controller.name} replaces it`);
      }
      return notes;
    }
    case "grpc":
      return grpcNotes(fault.grpc);
    case "dns":
      return [...DNS_NOTES];
    default:
      return [];
  }
}
