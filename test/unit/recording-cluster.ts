// A recording Cluster port for the engine's unit tests: every call is recorded with the (fake)
// time it was made at; agents answer in the protocol's JSON, by default as a small simulation of
// the agent (faults held under leases that lapse on the fake clock), and any request can be
// scripted instead: answered late, never, with a dropped stream, or with another reply. The ab
// probe in the tools pod answers with a real ab output (test/fixtures/ab/ok.*).
// It stands in for the apiserver only: what a fault does to the kernel is proven in the lab.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apiError } from "../../src/kube/api-errors.js";
import { FIRST_REPLY_PREFIX, LINE_REPLY_PREFIX } from "../../src/faults/reply.js";
import type {
  ApplyRequest,
  DNSReading,
  FaultState,
  GRPCReading,
  Reply,
  Request,
  HTTPReading,
  ResolveRequest,
  ResolveResult,
  RevertOutcome,
  StressReading,
} from "../../src/faults/protocol.generated.js";

type ApplySpec = ApplyRequest["fault"]["spec"];
import type {
  AccessCheck,
  AgentContainerSpec,
  ApiResource,
  AttachedStream,
  AttachHandlers,
  Cluster,
  ContainerInfo,
  DeleteOptions,
  ExecOptions,
  ExecResult,
  ObjectQuery,
  PodFollower,
  PodInfo,
  PodSpecForTools,
} from "../../src/kube/types.js";

const AB = join(import.meta.dirname, "../fixtures/ab");
const AB_OK = { stdout: readFileSync(join(AB, "ok.stdout"), "utf8"), stderr: readFileSync(join(AB, "ok.stderr"), "utf8") };

export interface Call {
  readonly at: number;
  readonly op:
    | "log"
    | "exec"
    | "attach"
    | "line"
    | "add-agent"
    | "wait-running"
    | "create-pod"
    | "delete-pod"
    | "can-i"
    | "namespace-labels"
    | "get-pod"
    | "list-pods"
    | "watch-pods"
    | "get-objects"
    | "discovery";
  readonly pod: string;
  readonly container?: string | undefined;
  /** for exec and line: the agent request, parsed; undefined for other programs */
  readonly request?: Request | undefined;
  readonly argv?: readonly string[] | undefined;
  readonly spec?: AgentContainerSpec | PodSpecForTools | undefined;
  readonly delete?: DeleteOptions | undefined;
}

/** What an exec does instead of answering at once. */
export type Outcome =
  | { readonly kind: "reply"; readonly reply: Reply; readonly afterMs?: number; readonly ignoreAbort?: boolean }
  | { readonly kind: "hang" }
  /** the request reaches the simulated agent only after afterMs (a slow exec path): it answers then */
  | { readonly kind: "slow"; readonly afterMs: number }
  | { readonly kind: "drop"; readonly error: string; readonly afterMs?: number }
  | { readonly kind: "raw"; readonly stdout: string; readonly stderr: string; readonly exitCode: number; readonly afterMs?: number };

export interface Where {
  readonly pod: string;
  readonly container: string;
  /** how the request came: by exec, or on a line to the agent's stdin */
  readonly via?: "exec" | "line" | undefined;
}

/** Returns an outcome to script a request, or undefined to let the simulated agent answer. */
export type Script = (request: Request, where: Where, agent: SimAgent) => Outcome | undefined;

export function pod(name: string, extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: "default",
    name,
    uid: `uid-${name}`,
    ip: `198.18.0.${name.length + 10}`,
    ips: [],
    phase: "Running",
    ready: true,
    deleting: false,
    labels: { run: "web" },
    containers: [{ name: "web", image: "nginx", state: "running", reason: undefined, message: undefined, exitCode: undefined, runId: undefined, capabilities: [] }],
    ephemeralContainers: [],
    hostNetwork: false,
    owner: undefined,
    mirror: false,
    security: { runAsUser: undefined, runAsGroup: undefined, runAsNonRoot: undefined },
    ...extra,
  };
}

/** What the cluster's agents do for DNS: the counts a dns fault's revert gives, the answer to a resolve request. */
export interface DnsSettings {
  readonly counts: DNSReading | undefined;
  readonly resolve: ((request: ResolveRequest) => ResolveResult | undefined) | undefined;
}

/** One simulated agent: the faults it holds, each with the fake time its lease ends. */
export class SimAgent {
  readonly held = new Map<string, { leaseEnd: number; iface: string; kind: FaultState["kind"]; since?: number; spec?: ApplySpec }>();
  /** a kill agent: what it does once it has replied to a kill (the cluster restarts the container) */
  onKill: (() => void) | undefined;
  /** faults it reverted by itself, and why */
  readonly ended = new Map<string, "lease-lapsed" | "requested">();

  constructor(
    readonly name: string,
    readonly runId: string,
    public ttlLeftMs: number,
    /** what its http faults' proxies counted (the cluster's setting) */
    private readonly httpCounts: () => HTTPReading | undefined = () => undefined,
    /** what its grpc faults' proxies counted (the cluster's setting) */
    private readonly grpcCounts: () => GRPCReading | undefined = () => undefined,
    /** what its dns faults' resolvers counted, and how it answers a resolve (the cluster's settings) */
    private readonly dns: () => DnsSettings = () => ({ counts: undefined, resolve: undefined }),
  ) {}

  /** the reply of the apply it started with, until its first renewal tells it */
  private untoldFirst: Reply | undefined;

  /** what it wrote to its container's log (stdout and stderr) */
  readonly log: string[] = [];

  /** Holds the fault it was started with (CHAOS_AGENT_FIRST_REQUEST), and writes its reply to its log, as the real agent does. */
  startWith(request: ApplyRequest, now: number): void {
    const reply = this.apply(request, now);
    this.untoldFirst = reply;
    if (reply.ok) this.log.push(`${FIRST_REPLY_PREFIX}${JSON.stringify(reply)}`);
    else this.log.push(`2026-12-07T00:00:00.000Z chaos-agent: first request (apply ${request.fault.id}) failed: ${reply.error?.code ?? ""}: ${reply.error?.message ?? ""}`);
  }

  private lapse(now: number): void {
    for (const [id, f] of this.held) {
      if (f.leaseEnd <= now) {
        this.held.delete(id);
        this.ended.set(id, "lease-lapsed");
      }
    }
  }

  private base(op: Reply["op"], ok: boolean): Reply {
    return { protocol: 1, op, ok, agent: { name: this.name, runId: this.runId, version: "test", ttlLeftMs: this.ttlLeftMs }, commands: [] };
  }

  /** a stress fault's reading, as the real agent's: what was asked, achieved as asked */
  private reading(spec: ApplySpec, since: number, now: number): StressReading {
    const elapsedMs = now - since;
    return {
      elapsedMs,
      ...(spec.kind === "stress" && spec.cpu !== undefined
        ? {
            cpu: {
              workers: spec.cpu.workers,
              load: spec.cpu.load,
              achievedLoad: spec.cpu.load,
              cpuTimeMs: (elapsedMs * spec.cpu.workers * spec.cpu.load) / 100,
              cgroupUsageMs: (elapsedMs * spec.cpu.workers * spec.cpu.load) / 100,
              throttledMs: elapsedMs / 2,
              throttleSource: "test",
            },
          }
        : {}),
      ...(spec.kind === "stress" && spec.memory !== undefined ? { memory: { bytes: spec.memory.bytes, allocatedBytes: spec.memory.bytes, oomKilled: false, pid: 42 } } : {}),
    };
  }

  /** An apply: a kill (signalled unless a dry run), a stress or a network fault held under its lease. */
  private apply(request: ApplyRequest, now: number): Reply {
    const f = request.fault;
    if (f.spec.kind === "kill") {
      const spec = f.spec;
      const kill = {
        pid: 1,
        process: "nginx: master process",
        signal: spec.signal,
        mechanism: spec.signal === "SIGKILL" ? ("ptrace" as const) : ("kill" as const),
        init: true,
        disposition: spec.signal === "SIGKILL" ? ("default" as const) : ("handled" as const),
      };
      if (request.dryRun !== true) setTimeout(() => this.onKill?.(), 0);
      return {
        ...this.base("apply", true),
        fault: {
          id: f.id,
          runId: request.runId,
          kind: "kill",
          interface: "",
          families: [],
          objects: [],
          leaseLeftMs: 0,
          detail: `${spec.signal} to PID 1 (nginx: master process) of container ${spec.container ?? "?"}`,
          kill,
        },
      };
    }
    if (f.spec.kind === "stress") {
      this.held.set(f.id, { leaseEnd: now + f.leaseMs, iface: "", kind: "stress", since: now, spec: f.spec });
      this.ended.delete(f.id);
      return {
        ...this.base("apply", true),
        fault: {
          id: f.id,
          runId: request.runId,
          kind: "stress",
          interface: "",
          families: [],
          objects: [{ type: "thread", name: "7" }],
          leaseLeftMs: f.leaseMs,
          detail: "stress",
          stress: this.reading(f.spec, now, now),
        },
      };
    }
    const iface = ("interface" in f.spec ? f.spec.interface : undefined) ?? "eth0";
    this.held.set(f.id, { leaseEnd: now + f.leaseMs, iface, kind: f.spec.kind, since: now, spec: f.spec });
    this.ended.delete(f.id);
    return {
      ...this.base("apply", true),
      commands: [{ argv: ["tc", "qdisc", "add", "dev", iface, "root", "handle", "c000:", "netem", "delay", "100ms"], exitCode: 0, durationMs: 1 }],
      fault: {
        id: f.id,
        runId: request.runId,
        kind: f.spec.kind,
        interface: iface,
        families: [4, 6],
        objects: [{ type: "qdisc", name: "c000:" }],
        leaseLeftMs: f.leaseMs,
        detail: `${f.spec.kind} c000: on ${iface}`,
      },
    };
  }

  answer(request: Request, now: number): Reply {
    this.lapse(now);
    switch (request.op) {
      case "apply":
        return this.apply(request, now);
      case "renew": {
        const f = this.held.get(request.faultId);
        if (f === undefined) {
          const lapsed = this.ended.get(request.faultId) === "lease-lapsed";
          return {
            ...this.base("renew", false),
            error: { code: lapsed ? "lease-lapsed" : "unknown-fault", message: lapsed ? `${request.faultId}: its lease lapsed; reverted` : `no fault ${request.faultId}` },
          };
        }
        f.leaseEnd = now + request.leaseMs;
        const first = this.untoldFirst?.fault?.id === request.faultId ? this.untoldFirst : undefined;
        if (first !== undefined) this.untoldFirst = undefined;
        return first === undefined ? this.base("renew", true) : { ...this.base("renew", true), commands: first.commands, ...(first.fault === undefined ? {} : { fault: first.fault }) };
      }
      case "revert": {
        const f = this.held.get(request.faultId);
        const counts = f?.kind === "http" ? this.httpCounts() : undefined;
        const grpc = f?.kind === "grpc" ? this.grpcCounts() : undefined;
        const dns = f?.kind === "dns" ? this.dns().counts : undefined;
        const before = this.ended.get(request.faultId);
        this.held.delete(request.faultId);
        if (f !== undefined) this.ended.set(request.faultId, "requested");
        return {
          ...this.base("revert", true),
          commands: f === undefined || f.kind === "stress" ? [] : [{ argv: ["tc", "qdisc", "del", "dev", f.iface, "root", "handle", "c000:"], exitCode: 0, durationMs: 1 }],
          reverted: [
            {
              faultId: request.faultId,
              confirmed: true,
              reason: f === undefined && before === "lease-lapsed" ? "lease-lapsed" : "requested",
              detail: f === undefined ? "not held" : "nothing of it remains",
              ...(f?.kind === "stress" && f.spec !== undefined ? { stress: this.reading(f.spec, f.since ?? now, now) } : {}),
              ...(counts !== undefined ? { http: counts } : {}),
              ...(grpc !== undefined ? { grpc } : {}),
              ...(dns !== undefined ? { dns } : {}),
            },
          ],
        };
      }
      case "status":
        return { ...this.base("status", true), faults: [] };
      case "resolve": {
        const resolved = this.dns().resolve?.(request);
        if (resolved === undefined) return { ...this.base("resolve", false), error: { code: "unsupported", message: "the recording cluster sends no DNS queries" } };
        return { ...this.base("resolve", true), resolved };
      }
      case "sweep": {
        const own = request.own ? [...this.held.keys()] : [];
        for (const id of own) this.held.delete(id);
        return { ...this.base("sweep", true), reverted: own.map((faultId) => ({ faultId, confirmed: true, reason: "sweep" as const, detail: "swept" })), orphans: [] };
      }
    }
  }
}

/** The adapter's error for a patch adding an agent: refused (an HTTP status), or no answer (undefined). */
function patchFailure(namespace: string, pod: string, code: number | undefined, message: string): Error {
  return apiError(
    { doing: "add the agent to", verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace, name: pod },
    { code, message, server: "https://recording", context: "recording" },
  );
}

export class RecordingCluster implements Cluster {
  readonly identity = { context: "test", server: "https://test", user: "tester", namespace: "default" };
  readonly calls: Call[] = [];
  readonly pods = new Map<string, PodInfo>();
  readonly agents = new Map<string, SimAgent>();
  private readonly followers = new Set<{ readonly name: string; readonly on: PodFollower }>();
  private readonly watchers = new Set<{ name: string | undefined; listener: (pod: PodInfo, gone: boolean) => void }>();
  script: Script = () => undefined;
  /** an attach to an agent: refused ("none": as an API that forbids pods/attach, or an agent without a stdin), or the simulated agent answers each line as it answers an exec ("lines") */
  attachable: "none" | "lines" = "none";
  /** how long an attach takes to open (it fails when that is past its timeout) */
  attachDelayMs = 0;
  /** the attach streams open now */
  openLines = 0;
  /** waitContainerRunning for agents: "running" at once, or "hang" until the signal aborts */
  agentStart: "running" | "hang" = "running";
  /** how long each pod's agent takes to run once added (a slow node), by pod name; 0 when absent */
  agentStartMs = new Map<string, number>();
  /** set: the next agent's container ends as it starts (its state then), and waitContainerRunning rejects as the adapter does */
  agentEndsAtStart: Partial<ContainerInfo> | undefined = undefined;
  labels: Readonly<Record<string, string>> | undefined = {};
  /** the agents' logs: as the agents wrote them, a log without the first reply (an agent image of an older version), or a log the runner may not read */
  agentLogs: "written" | "silent" | "denied" = "written";
  /** the API's refusal of an added container (an admission webhook's, say), by its name; undefined: added */
  refuseContainer: (name: string) => string | undefined = () => undefined;
  /** the container is added, and its patch answered with an error all the same: a status (a timeout's 504), or none (code undefined: the answer was lost) */
  failAfterAdding: (name: string) => { readonly code: number | undefined; readonly message: string } | undefined = () => undefined;
  /** how long ab takes in the tools pod */
  toolsDelayMs = 0;
  /** what a kill does to its container: it ends and restarts (Ready again after readyAfterMs), or nothing happens (the process survived) */
  killEffect: { readonly kind: "restart"; readonly exitCode: number; readonly readyAfterMs: number } | { readonly kind: "nothing" } = { kind: "restart", exitCode: 137, readyAfterMs: 1500 };
  /** a deleted pod's controller makes a replacement, Ready after this long (undefined: never) */
  replacementReadyAfterMs: number | undefined = 3000;
  /** answers a program other than the agent (curl, a cmd probe's command); undefined: ab's real output */
  programs: (argv: readonly string[], where: Where, now: number) => Outcome | undefined = () => undefined;
  /** what a k8s probe reads, or an error it gets */
  objects: (query: ObjectQuery, now: number) => unknown[] | Error = () => [];
  /** denied access checks, as the preflight writes them: `list deployments.apps`, `patch pods/ephemeralcontainers` */
  denied: readonly string[] = [];
  /** what an http fault's proxy counted, in its revert's outcome (undefined: none given); every agent's */
  httpCounts: HTTPReading | undefined = undefined;
  /** what a grpc fault's proxy counted, in its revert's outcome (undefined: none given); every agent's */
  grpcCounts: GRPCReading | undefined = undefined;
  /** what a dns fault's resolver counted (its revert's outcome), and what a resolve request gets (undefined: unsupported); every agent's */
  dns: DnsSettings = { counts: undefined, resolve: undefined };
  /** the access checks asked, in the same words (`get services "web"` for a read by name) */
  readonly accessChecks: string[] = [];
  /** the kinds discovery finds */
  servedKinds: Readonly<Record<string, { readonly apiVersion: string; readonly resource: string; readonly namespaced: boolean }>> = {
    Deployment: { apiVersion: "apps/v1", resource: "deployments", namespaced: true },
    StatefulSet: { apiVersion: "apps/v1", resource: "statefulsets", namespaced: true },
    Pod: { apiVersion: "v1", resource: "pods", namespaced: true },
    Service: { apiVersion: "v1", resource: "services", namespaced: true },
    Node: { apiVersion: "v1", resource: "nodes", namespaced: false },
  };

  constructor(pods: readonly PodInfo[]) {
    for (const p of pods) this.pods.set(p.name, p);
  }

  private record(c: Omit<Call, "at">): void {
    this.calls.push({ at: Date.now(), ...c });
  }

  /** The agent requests made, in order: `op pod` (and the fault id where there is one). */
  requests(filter?: (r: Request) => boolean): { at: number; pod: string; request: Request }[] {
    return this.calls.flatMap((c) => (c.request !== undefined && (filter?.(c.request) ?? true) ? [{ at: c.at, pod: c.pod, request: c.request }] : []));
  }

  /** The pods sent a request of `op`, sorted (a pod twice if it was sent two). */
  podsAsked(op: Request["op"]): string[] {
    return this.requests((r) => r.op === op)
      .map((r) => r.pod)
      .sort();
  }

  /** Pods matching an equality selector (`a=b,c=d`), as the API server lists them. */
  async listPods(_namespace?: string, selector?: string): Promise<PodInfo[]> {
    this.record({ op: "list-pods", pod: "" });
    const wanted = (selector ?? "")
      .split(",")
      .filter((x) => x !== "")
      .map((x) => x.split("="));
    return [...this.pods.values()].filter((p) => wanted.every(([k, v]) => k !== undefined && p.labels[k] === v));
  }

  async getPod(_namespace: string, name: string): Promise<PodInfo | undefined> {
    this.record({ op: "get-pod", pod: name });
    return this.pods.get(name);
  }

  async addEphemeralContainer(namespace: string, podName: string, spec: AgentContainerSpec): Promise<void> {
    this.record({ op: "add-agent", pod: podName, container: spec.name, spec });
    const p = this.pods.get(podName);
    if (p === undefined) throw new Error(`no pod ${podName}`);
    const refusal = this.refuseContainer(spec.name);
    // as the API server's answer is: an error status, so the container was not added
    if (refusal !== undefined) throw patchFailure(namespace, podName, 400, refusal);
    const c: ContainerInfo = {
      name: spec.name,
      image: spec.image,
      state: "waiting",
      reason: undefined,
      message: undefined,
      exitCode: undefined,
      runId: spec.env["CHAOS_RUN_ID"],
      capabilities: spec.securityContext.capabilities,
    };
    this.pods.set(podName, { ...p, ephemeralContainers: [...p.ephemeralContainers, c] });
    const sim = new SimAgent(
      spec.name,
      spec.env["CHAOS_RUN_ID"] ?? "",
      600_000,
      () => this.httpCounts,
      () => this.grpcCounts,
      () => this.dns,
    );
    const target = spec.targetContainerName;
    if (target !== undefined) sim.onKill = () => this.killContainer(podName, target);
    this.agents.set(`${podName}/${spec.name}`, sim);
    // the first request it starts with, as the real agent does: held from its start, its apply told by its first renewal
    const first = spec.env["CHAOS_AGENT_FIRST_REQUEST"];
    if (first !== undefined) {
      // the agent's process, and its lease, start when its container runs
      const startMs = this.agentStartMs.get(podName) ?? 0;
      if (startMs === 0) sim.startWith(JSON.parse(first) as ApplyRequest, Date.now());
      else setTimeout(() => sim.startWith(JSON.parse(first) as ApplyRequest, Date.now()), startMs);
    }
    // added, but its answer an error, or none: as the adapter says it
    const failed = this.failAfterAdding(spec.name);
    if (failed !== undefined) throw patchFailure(namespace, podName, failed.code, failed.message);
  }

  /** A kill agent signalled: the container ends and the kubelet restarts it (or the process survives). */
  killContainer(podName: string, container: string): void {
    const effect = this.killEffect;
    if (effect.kind === "nothing") return;
    const before = this.pods.get(podName)?.containers.find((c) => c.name === container);
    this.setAppContainer(podName, container, { state: "terminated", exitCode: effect.exitCode, reason: "Error", ready: false }, false);
    setTimeout(() => {
      this.setAppContainer(
        podName,
        container,
        {
          state: "running",
          exitCode: undefined,
          reason: undefined,
          ready: true,
          restartCount: (before?.restartCount ?? 0) + 1,
          containerId: `containerd://${"b".repeat(64)}`,
          lastTerminated: { exitCode: effect.exitCode, reason: "Error", signal: undefined },
        },
        true,
      );
    }, effect.readyAfterMs);
  }

  /** Sets an (ephemeral) container's state, e.g. an agent that died. */
  setContainer(podName: string, container: string, fields: Partial<ContainerInfo>): void {
    const p = this.pods.get(podName);
    if (p === undefined) return;
    this.put({ ...p, ephemeralContainers: p.ephemeralContainers.map((c) => (c.name === container ? { ...c, ...fields } : c)) });
  }

  /** Sets a regular container's fields (and the pod's Ready), telling the watchers. */
  setAppContainer(podName: string, container: string, fields: Partial<ContainerInfo>, ready?: boolean): void {
    const p = this.pods.get(podName);
    if (p === undefined) return;
    this.put({ ...p, ready: ready ?? p.ready, containers: p.containers.map((c) => (c.name === container ? { ...c, ...fields } : c)) });
  }

  /** Stores a pod as it is now and tells the watchers. */
  put(p: PodInfo): void {
    this.pods.set(p.name, p);
    for (const w of this.watchers) if (w.name === undefined || w.name === p.name) w.listener(p, false);
    for (const f of this.followers) if (f.name === p.name) f.on.changed?.(p);
  }

  /** An agent's process ends (killed, OOM): its container terminates, and the faults it applied stay in the pod's network namespace. */
  agentDies(podName: string, container: string, fields: Partial<ContainerInfo> = { reason: "OOMKilled", exitCode: 137 }): void {
    this.setContainer(podName, container, { state: "terminated", finishedAt: Date.now(), ...fields });
  }

  /** What the agents of a pod that are gone left in its network namespace, as a fresh agent's sweep finds it (and reverts it). */
  private orphansOf(podName: string): RevertOutcome[] {
    const p = this.pods.get(podName);
    const out: RevertOutcome[] = [];
    for (const c of p?.ephemeralContainers ?? []) {
      const sim = this.agents.get(`${podName}/${c.name}`);
      if (c.state !== "terminated" || sim === undefined) continue;
      for (const [faultId, f] of sim.held) out.push({ faultId, agent: c.name, runId: sim.runId, confirmed: true, reason: "orphan", detail: `${f.kind} on ${f.iface} removed` });
      sim.held.clear();
    }
    return out;
  }

  waitContainerRunning(_namespace: string, podName: string, container: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<PodInfo> {
    this.record({ op: "wait-running", pod: podName, container });
    const isAgent = container.startsWith("chaos-agent-");
    if (isAgent && this.agentStart === "hang") {
      return new Promise((_resolve, reject) => {
        const stop = (): void => reject(new Error(`stopped waiting for container ${container}`));
        if (options.signal.aborted) stop();
        else options.signal.addEventListener("abort", stop, { once: true });
      });
    }
    const ends = isAgent ? this.agentEndsAtStart : undefined;
    if (ends !== undefined) {
      this.agentEndsAtStart = undefined;
      this.setContainer(podName, container, { state: "terminated", ...ends });
      return Promise.reject(new Error(`container ${container} in pod default/${podName} exited (${ends.reason ?? "exit"} ${ends.exitCode ?? ""}) instead of running: ${ends.message ?? ""}`));
    }
    const running = (): Promise<PodInfo> => {
      this.setContainer(podName, container, { state: "running" });
      const p = this.pods.get(podName);
      return p === undefined ? Promise.reject(new Error("no pod")) : Promise.resolve(p);
    };
    const startMs = isAgent ? (this.agentStartMs.get(podName) ?? 0) : 0;
    return startMs === 0 ? running() : new Promise((resolve) => setTimeout(resolve, startMs)).then(running);
  }

  containerLog(_namespace: string, podName: string, container: string, options: { readonly limitBytes: number }): Promise<string> {
    this.record({ op: "log", pod: podName, container });
    if (this.agentLogs === "denied") return Promise.reject(new Error(`tester may not get pods/log in namespace default`));
    const sim = this.agents.get(`${podName}/${container}`);
    const lines = this.agentLogs === "silent" ? [] : (sim?.log ?? []);
    return Promise.resolve(
      lines
        .map((l) => `${l}\n`)
        .join("")
        .slice(0, options.limitBytes),
    );
  }

  exec(_namespace: string, podName: string, container: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    let request: Request | undefined;
    if (argv[0] === "chaos-agent" && argv[1] === "request" && argv[2] !== undefined) request = JSON.parse(argv[2]) as Request;
    this.record({ op: "exec", pod: podName, container, argv, request });
    const result = (fields: Partial<ExecResult>): ExecResult => ({
      argv,
      pod: podName,
      container,
      exitCode: undefined,
      stdout: "",
      stderr: "",
      durationMs: Date.now() - started,
      timedOut: false,
      canceled: false,
      error: undefined,
      ...fields,
    });
    const agent = this.agents.get(`${podName}/${container}`);
    const outcome: Outcome =
      request === undefined
        ? (this.programs(argv, { pod: podName, container }, Date.now()) ?? { kind: "raw", exitCode: 0, stdout: AB_OK.stdout, stderr: AB_OK.stderr, afterMs: this.toolsDelayMs }) // the tools pod: ab
        : this.agentOutcome(podName, container, request, "exec");
    return new Promise<ExecResult>((resolve) => {
      let done = false;
      let timeout: NodeJS.Timeout | undefined;
      let later: NodeJS.Timeout | undefined;
      const finish = (r: ExecResult): void => {
        if (done) return;
        done = true;
        if (timeout !== undefined) clearTimeout(timeout);
        if (later !== undefined) clearTimeout(later);
        options.signal?.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const ignoreAbort = outcome.kind === "reply" && outcome.ignoreAbort === true;
      const onAbort = (): void => finish(result({ canceled: true, error: "canceled" }));
      if (!ignoreAbort) {
        if (options.signal?.aborted === true) return onAbort();
        options.signal?.addEventListener("abort", onAbort, { once: true });
      }
      if (options.timeoutMs !== undefined && !ignoreAbort) timeout = setTimeout(() => finish(result({ timedOut: true, error: `timed out after ${options.timeoutMs} ms` })), options.timeoutMs);
      const deliver = (): void => {
        if (outcome.kind === "slow" && agent !== undefined && request !== undefined) {
          const reply = agent.answer(request, Date.now());
          finish(result({ exitCode: reply.ok ? 0 : 1, stdout: JSON.stringify(reply) }));
        } else if (outcome.kind === "reply") finish(result({ exitCode: outcome.reply.ok ? 0 : 1, stdout: JSON.stringify(outcome.reply) }));
        else if (outcome.kind === "drop") finish(result({ error: outcome.error }));
        else if (outcome.kind === "raw") finish(result({ exitCode: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr }));
      };
      if (outcome.kind === "hang") return undefined;
      const after = outcome.afterMs ?? 0;
      if (after > 0) later = setTimeout(deliver, after);
      else deliver();
      return undefined;
    });
  }

  /** What the agent in `container` does with a request: what the script says, else the simulated agent's answer. */
  private agentOutcome(podName: string, container: string, request: Request, via: "exec" | "line"): Outcome {
    const agent = this.agents.get(`${podName}/${container}`);
    const ended = this.pods.get(podName)?.ephemeralContainers.find((c) => c.name === container)?.state === "terminated";
    if (ended) return { kind: "drop", error: `container ${container} is not running` };
    return (
      this.script(request, { pod: podName, container, via }, agent ?? new SimAgent(container, "", 0)) ??
      (agent === undefined ? { kind: "drop", error: `container ${container} not found` } : { kind: "reply", reply: this.answer(podName, agent, request) })
    );
  }

  attach(_namespace: string, podName: string, container: string, handlers: AttachHandlers, options: { readonly timeoutMs: number }): Promise<AttachedStream> {
    this.record({ op: "attach", pod: podName, container });
    if (this.attachable === "none") return Promise.reject(new Error(`could not attach to container ${container}: forbidden (not simulated)`));
    if (this.attachDelayMs > options.timeoutMs)
      return new Promise((_, reject) => setTimeout(() => reject(new Error(`could not attach to container ${container}: no answer within ${options.timeoutMs} ms`)), options.timeoutMs));
    let open = true;
    this.openLines++;
    const end = (why: string): void => {
      if (!open) return;
      open = false;
      this.openLines--;
      handlers.closed(why);
    };
    const answer = (tag: string, request: Request): void => {
      const outcome = this.agentOutcome(podName, container, request, "line");
      const agent = this.agents.get(`${podName}/${container}`);
      const deliver = (): void => {
        if (!open) return;
        if (outcome.kind === "slow" && agent !== undefined) handlers.line(`${LINE_REPLY_PREFIX}${tag} ${JSON.stringify(agent.answer(request, Date.now()))}`);
        else if (outcome.kind === "reply") handlers.line(`${LINE_REPLY_PREFIX}${tag} ${JSON.stringify(outcome.reply)}`);
        else if (outcome.kind === "raw") handlers.line(`${LINE_REPLY_PREFIX}${tag} ${outcome.stdout.trim()}`);
        else if (outcome.kind === "drop") end(outcome.error);
      };
      if (outcome.kind === "hang") return;
      const after = outcome.afterMs ?? 0;
      if (after > 0) setTimeout(deliver, after);
      else deliver();
    };
    const stream: AttachedStream = {
      send: (line: string): boolean => {
        if (!open) return false;
        const space = line.indexOf(" ");
        const request = JSON.parse(line.slice(space + 1)) as Request;
        this.record({ op: "line", pod: podName, container, request });
        answer(line.slice(0, space), request);
        return true;
      },
      close: () => end("closed by the runner"),
    };
    return this.attachDelayMs > 0 ? new Promise((resolve) => setTimeout(() => resolve(stream), this.attachDelayMs)) : Promise.resolve(stream);
  }

  /** The simulated agent's answer; a sweep of orphans also finds what dead agents of the pod left. */
  private answer(podName: string, agent: SimAgent, request: Request): Reply {
    const reply = agent.answer(request, Date.now());
    if (request.op !== "sweep" || request.own) return reply;
    return { ...reply, orphans: [...(reply.orphans ?? []), ...this.orphansOf(podName)] };
  }

  async canI(check: AccessCheck): Promise<boolean> {
    this.record({ op: "can-i", pod: "" });
    const group = check.group === undefined || check.group === "" ? "" : `.${check.group}`;
    const what = `${check.verb} ${check.resource}${group}${check.subresource !== undefined ? `/${check.subresource}` : ""}`;
    // a name is allowed unless the whole resource or that name is denied (as a Role's resourceNames work)
    this.accessChecks.push(check.name === undefined ? what : `${what} "${check.name}"`);
    return !this.denied.includes(what) && !(check.name !== undefined && this.denied.includes(`${what} "${check.name}"`));
  }

  /** Discovery as a cluster has it: the kinds of `servedKinds`, in the group of their apiVersion. */
  async apiResource(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    this.record({ op: "discovery", pod: "" });
    const served = this.servedKinds[kind];
    if (served === undefined || served.apiVersion !== apiVersion) return undefined;
    return { group: apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "", resource: served.resource, namespaced: served.namespaced };
  }

  async namespaceLabels(): Promise<Readonly<Record<string, string>> | undefined> {
    this.record({ op: "namespace-labels", pod: "" });
    return this.labels;
  }

  async createPod(_namespace: string, spec: PodSpecForTools): Promise<void> {
    this.record({ op: "create-pod", pod: spec.name, spec });
    this.pods.set(spec.name, {
      ...pod(spec.name),
      containers: [{ name: "tools", image: spec.image, state: "waiting", reason: undefined, message: undefined, exitCode: undefined, runId: undefined, capabilities: [] }],
    });
  }

  async deletePod(_namespace: string, name: string, options?: DeleteOptions): Promise<void> {
    this.record({ op: "delete-pod", pod: name, delete: options });
    const p = this.pods.get(name);
    this.pods.delete(name);
    if (p !== undefined) for (const w of this.watchers) if (w.name === undefined || w.name === name) w.listener(p, true);
    for (const f of this.followers) if (f.name === name) f.on.gone("deleted");
    // its controller makes another (a StatefulSet under the same name), which becomes Ready later
    const ready = this.replacementReadyAfterMs;
    if (p?.owner?.uid !== undefined && ready !== undefined) {
      const replacement: PodInfo = { ...p, name: p.owner.kind === "StatefulSet" ? p.name : `${p.name}-new`, uid: `${p.uid}-new`, ready: false, ip: "198.18.0.99" };
      setTimeout(() => this.put(replacement), 10);
      setTimeout(() => this.put({ ...replacement, ready: true }), ready);
    }
  }

  async watchPods(_namespace: string, name: string | undefined, listener: (pod: PodInfo, gone: boolean) => void): Promise<() => void> {
    this.record({ op: "watch-pods", pod: name ?? "" });
    const w = { name, listener };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** How many watches are open. */
  get watching(): number {
    return this.watchers.size;
  }

  async getObjects(query: ObjectQuery): Promise<unknown[]> {
    this.record({ op: "get-objects", pod: query.name ?? "" });
    const r = this.objects(query, Date.now());
    if (r instanceof Error) throw r;
    return r;
  }

  followPod(_namespace: string, name: string, on: PodFollower): () => void {
    const f = { name, on };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  /** How many pods are followed. */
  get following(): number {
    return this.followers.size;
  }

  /** The pod starts terminating (its containers still run) or is deleted. */
  podGoes(name: string, reason: "terminating" | "deleted"): void {
    const p = this.pods.get(name);
    if (reason === "deleted") this.pods.delete(name);
    else if (p !== undefined) this.pods.set(name, { ...p, deleting: true });
    for (const f of this.followers) if (f.name === name) f.on.gone(reason);
  }

  close(): void {}
}
