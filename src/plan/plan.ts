// planRun: scenario + pods + seed → Plan. Pure: no clock, no I/O, randomness only from the
// seeded PRNG, pods sorted by name before any choice (so the API's list order never matters).
import { expectationText } from "../expect/expectation.js";
import { DEFAULT_HTTP_ERROR_CODE, NETWORK_CAPABILITIES, applyRequest, capabilitiesFor, deliveryOf, isNetworkFault, revertRequest } from "../faults/index.js";
import type { Fault, HttpParams, StressFault } from "../faults/types.js";
import { ChaosRunError, ExitCode } from "../errors.js";
import { formatDuration } from "../expect/format.js";
import { formatSize } from "../scenario/units.js";
import { usesTarget } from "../scenario/template.js";
import { DEFAULT_SEED, SYSTEM_NAMESPACE_HINT, SYSTEM_NAMESPACES } from "../scenario/types.js";
import type { Probe, ProbeRun, PullPolicy, Scenario, TargetMode } from "../scenario/types.js";
import { abCommand, curlCommand } from "../probes/command.js";
import { stressBoundNotes, stressRefusals } from "./bounds.js";
import { faultContainer, faultEnd } from "./containers.js";
import { choose } from "./prng.js";
import type { Plan, PlannedFault, PlannedPod, PlannedProbeRun, PlannedStep, PodLimits, TargetPod } from "./types.js";

export type PlanErrorCode = "no-pods" | "not-enough-pods" | "blast-radius" | "bad-fault-id" | "system-namespace" | "host-network" | "stress-bound";

/** The run id of an offline plan: a real run has its own (8 random characters, new each run). */
export const OFFLINE_RUN_ID = "offline";

/** A refusal to plan: located at a place in the scenario (JSON pointer), exit 3 (could not run). */
export class PlanError extends ChaosRunError {
  constructor(
    readonly code: PlanErrorCode,
    message: string,
    /** JSON pointer into the scenario, e.g. `/target/mode` */
    readonly path: string,
    hint: string,
    /** for system-namespace: the namespace refused */
    readonly namespace?: string | undefined,
  ) {
    super(ExitCode.CouldNotRun, message, { hint });
    this.name = "PlanError";
  }
}

export interface PlanOptions {
  /** overrides the scenario's target.seed */
  readonly seed?: number | undefined;
  /** the run's id: in every request, and the prefix of fault ids (`<runId>-s2`); default OFFLINE_RUN_ID */
  readonly runId?: string | undefined;
  /** namespace when the scenario has none (--namespace, or the kubeconfig's) */
  readonly namespace?: string | undefined;
  /** agent image override (--agent-image) */
  readonly agentImage?: string | undefined;
  /** pull policy override (--pull-policy) */
  readonly pullPolicy?: PullPolicy | undefined;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function selectorText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort(compareNames)
    .map((k) => `${k}=${labels[k] ?? ""}`)
    .join(",");
}

export function modeText(mode: TargetMode): string {
  switch (mode.kind) {
    case "all":
    case "one":
      return mode.kind;
    case "count":
      return `count ${mode.count}`;
    case "percent":
      return `${mode.percent}%`;
  }
}

/** How many of `n` candidates a mode hits (percent rounds up). */
export function modeCount(mode: TargetMode, n: number): number {
  switch (mode.kind) {
    case "all":
      return n;
    case "one":
      return 1;
    case "count":
      return mode.count;
    case "percent":
      return Math.ceil((mode.percent * n) / 100 - 1e-9);
  }
}

function choosePods(scenario: Scenario, pods: readonly TargetPod[], seed: number): { candidates: string[]; chosen: TargetPod[] } {
  const target = scenario.target;
  const byName = new Map<string, TargetPod>();
  for (const p of pods) if (!byName.has(p.name)) byName.set(p.name, p);
  const candidates = [...byName.keys()].sort(compareNames);
  const what = target.selection.kind === "selector" ? `pods matching ${selectorText(target.selection.matchLabels)}` : "listed pods";
  const selectionPath = target.selection.kind === "selector" ? "/target/selector" : "/target/pods";
  if (candidates.length === 0) {
    throw new PlanError(
      "no-pods",
      `no ${what}${target.namespace !== undefined ? ` in namespace ${target.namespace}` : ""}`,
      selectionPath,
      "check the selector and the namespace (kubectl get pods -l …)",
    );
  }
  // refused whatever the mode would choose: a seed must never decide whether a node is hit
  const onHost = candidates.filter((n) => byName.get(n)?.hostNetwork === true);
  if (onHost.length > 0) {
    const one = onHost.length === 1;
    throw new PlanError(
      "host-network",
      `pod${one ? "" : "s"} ${onHost.join(", ")} ${one ? "uses" : "use"} the node's network (hostNetwork: true): netem there would shape the node's own traffic and a partition would cut the kubelet off; chaos-run never targets such pods (nothing was touched)`,
      selectionPath,
      "narrow the target to pods that have a network namespace of their own",
    );
  }
  const wanted = modeCount(target.mode, candidates.length);
  if (wanted > candidates.length) {
    throw new PlanError(
      "not-enough-pods",
      `mode ${modeText(target.mode)} asks for ${wanted} pods but only ${candidates.length} ${what} exist`,
      "/target/mode",
      "the run refuses rather than hit fewer pods than asked: lower the count or add pods",
    );
  }
  if (target.maxPods !== undefined && wanted > target.maxPods) {
    throw new PlanError(
      "blast-radius",
      `mode ${modeText(target.mode)} would hit ${wanted} pods, above maxPods ${target.maxPods}`,
      "/target/maxPods",
      "the blast-radius guard refuses rather than clamps: narrow the target or raise maxPods",
    );
  }
  const picked = target.mode.kind === "all" ? candidates : choose(candidates, wanted, seed).sort(compareNames);
  return { candidates, chosen: picked.map((name) => byName.get(name) ?? { name }) };
}

/** The ab command of a probe, its URL as written (src/probes/command.ts builds it, filled in, for the run too). */
export function abArgv(probe: Extract<Probe, { kind: "ab" }>): string[] {
  return [...abCommand(probe).shown];
}

/** The curl command of an http probe, its templates as written (src/probes/command.ts). */
export function curlArgv(probe: Extract<Probe, { kind: "http" }>): string[] {
  return [...curlCommand(probe).shown];
}

/** Whether a probe names its target ({{ target.* }}): then it runs once per target pod. */
export function probeUsesTarget(probe: Probe): boolean {
  switch (probe.kind) {
    case "ab":
      return usesTarget(probe.ab.url);
    case "http":
      return [probe.http.url, ...Object.values(probe.http.headers), probe.http.body ?? ""].some(usesTarget);
    case "k8s":
      return probe.k8s.name !== undefined && usesTarget(probe.k8s.name);
    case "prometheus":
      return usesTarget(probe.prometheus.url) || usesTarget(probe.prometheus.query);
    case "cmd":
      return [probe.cmd.pod, ...probe.cmd.argv].some(usesTarget);
  }
}

function probeArgv(probe: Probe): string[] {
  switch (probe.kind) {
    case "ab":
      return abArgv(probe);
    case "http":
      return curlArgv(probe);
    case "cmd":
      return [...probe.cmd.argv];
    case "k8s":
    case "prometheus":
      return [];
  }
}

function plannedRun(scenario: Scenario, run: ProbeRun): PlannedProbeRun {
  const probe = scenario.probes[run.probe];
  if (probe === undefined) throw new TypeError(`unknown probe ${run.probe} in a validated scenario`);
  return {
    probe: run.probe,
    kind: probe.kind,
    argv: probeArgv(probe),
    perTargetPod: probeUsesTarget(probe),
    toolsImage: probe.kind === "ab" || probe.kind === "http" ? probe.tools.image : undefined,
    spec: probe,
    everyMs: run.everyMs,
    save: run.save,
    expect: run.expect,
    expectText: run.expect.map(expectationText),
  };
}

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

/** A kill or stress agent outlives its step by this much at most (it exits once its fault is over). */
export const KILL_AGENT_MARGIN_MS = 60_000;

function cpuWords(milli: number): string {
  return milli % 1000 === 0 ? `${milli / 1000} CPU` : `${milli}m`;
}

function limitsWords(l: PodLimits | undefined): string {
  if (l === undefined) return "";
  const parts = [l.cpuMilli === undefined ? "no CPU limit" : `CPU limit ${cpuWords(l.cpuMilli)}`, l.memoryBytes === undefined ? "no memory limit" : `memory limit ${formatSize(l.memoryBytes)}`];
  return parts.join(", ");
}

/** What people must know about how a fault reaches each pod, and its limits: printed with the plan. */
function faultNotes(fault: Fault, pods: readonly PlannedPod[], agentName: string): string[] {
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
    default:
      return [];
  }
}

/** A stress that asks a known pod for more than its bound, without the opt-in: refused before anything is touched (exit 3), at the size or the workers. */
function refuseBeyondBound(fault: StressFault, pods: readonly PlannedPod[], index: number, name: string): void {
  const refused = stressRefusals(
    fault,
    pods.filter((p) => !p.placeholder),
  );
  const first = refused[0];
  if (first === undefined) return;
  const resources = [...new Set(refused.map((r) => r.resource))];
  const path = `/steps/${index}/fault/stress/${first.resource === "memory" ? "memory/size" : "cpu/workers"}`;
  const lines = refused.map((r) => r.message);
  throw new PlanError(
    "stress-bound",
    `step ${index + 1} (${name}): ${lines.length === 1 ? lines[0] : `\n  ${lines.join("\n  ")}`} (nothing was touched)`,
    path,
    `ask for less, or give the pod a ${resources.join(" and a ")} limit; if the node can take it, opt in by name: ${resources.map((r) => `stress.${r}.allowBeyondLimit: true`).join(", ")} (chaos-run stress: --allow-beyond-limit)`,
  );
}

function faultId(runId: string, index: number): string {
  const id = `${runId}-s${index + 1}`;
  if (!/^[a-z0-9]{1,16}$/.test(runId) || !/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/.test(id)) {
    throw new PlanError(
      "bad-fault-id",
      `run id ${JSON.stringify(runId)} makes fault id ${JSON.stringify(id)}: a run id is 1-16 of [a-z0-9] and a fault id 1-22 of [a-z0-9-]`,
      "",
      "use a shorter, lower-case run id",
    );
  }
  return id;
}

/** The timeline of a scenario for given target pods (placeholders included). */
function buildPlan(scenario: Scenario, pods: readonly PlannedPod[], candidates: readonly string[] | undefined, seed: number, offline: boolean, options: PlanOptions): Plan {
  const target = scenario.target;
  const namespace = target.namespace ?? options.namespace;
  if (namespace !== undefined && SYSTEM_NAMESPACES.includes(namespace) && !target.allowSystemNamespaces) {
    throw new PlanError(
      "system-namespace",
      `namespace ${namespace} holds the cluster's own components: chaos-run refuses to target it unless the scenario says target.allowSystemNamespaces: true (nothing was touched)`,
      target.namespace !== undefined ? "/target/namespace" : "/target",
      SYSTEM_NAMESPACE_HINT,
      namespace,
    );
  }
  const runId = options.runId ?? OFFLINE_RUN_ID;
  const leaseMs = scenario.agent.leaseMs;
  const capabilities = new Set<string>();
  let agentNeeded = false;
  let t = 0;
  const steps: PlannedStep[] = scenario.steps.map((step): PlannedStep => {
    const startMs = t;
    switch (step.kind) {
      case "fault": {
        t += step.durationMs;
        const id = faultId(runId, step.index);
        const f = step.fault;
        const base = { id, interface: isNetworkFault(f) ? f.interface : undefined, summary: faultSummary(f), ends: faultEnd(f), container: faultContainer(f, pods) };
        let fault: PlannedFault;
        switch (f.kind) {
          case "kill": {
            const agentName = `chaos-kill-${runId}-s${step.index + 1}`;
            fault = {
              ...base,
              delivery: "kill-agent",
              fault: f,
              notes: faultNotes(f, pods, agentName),
              apply: applyRequest(runId, id, leaseMs, f),
              agentName,
              capabilities: capabilitiesFor(f),
              agentTtlMs: step.durationMs + KILL_AGENT_MARGIN_MS,
            };
            break;
          }
          case "podDelete":
            fault = { ...base, delivery: "api", fault: f, notes: faultNotes(f, pods, "") };
            break;
          case "stress": {
            refuseBeyondBound(f, pods, step.index, step.name);
            const agentName = `chaos-stress-${runId}-s${step.index + 1}`;
            fault = {
              ...base,
              delivery: "stress-agent",
              fault: f,
              notes: faultNotes(f, pods, agentName),
              apply: applyRequest(runId, id, leaseMs, f),
              revert: revertRequest(runId, id),
              agentName,
              agentTtlMs: step.durationMs + KILL_AGENT_MARGIN_MS,
            };
            break;
          }
          default:
            agentNeeded = true;
            for (const c of capabilitiesFor(f)) capabilities.add(c);
            fault = { ...base, delivery: "agent", fault: f, notes: faultNotes(f, pods, ""), apply: applyRequest(runId, id, leaseMs, f), revert: revertRequest(runId, id) };
        }
        if (deliveryOf(f) !== fault.delivery) throw new TypeError(`fault ${f.kind} planned for ${fault.delivery}`);
        const expect = step.expect ?? [];
        return {
          kind: "fault",
          index: step.index,
          name: step.name,
          startMs,
          durationMs: step.durationMs,
          fault,
          during: step.during.map((r) => plannedRun(scenario, r)),
          expect,
          expectText: expect.map(expectationText),
        };
      }
      case "probe":
        return { kind: "probe", index: step.index, name: step.name, startMs, durationMs: undefined, run: plannedRun(scenario, step.run) };
      case "wait":
        t += step.durationMs;
        return { kind: "wait", index: step.index, name: step.name, startMs, durationMs: step.durationMs };
      default: {
        const never: never = step;
        throw new TypeError(`unknown step ${JSON.stringify(never)}`);
      }
    }
  });
  // an agent added by a run without faults (install) is there for the network faults of later runs
  const install = scenario.steps.length === 0;
  const needed = install ? NETWORK_CAPABILITIES : [...capabilities];
  return {
    planVersion: 2,
    runId,
    scenario: { name: scenario.metadata.name, description: scenario.metadata.description },
    seed,
    offline,
    namespace,
    target: {
      selector: target.selection.kind === "selector" ? selectorText(target.selection.matchLabels) : undefined,
      mode: target.mode,
      maxPods: target.maxPods,
      allowSystemNamespaces: target.allowSystemNamespaces,
      candidates,
      pods,
    },
    agent: {
      ...scenario.agent,
      image: options.agentImage ?? scenario.agent.image,
      pullPolicy: options.pullPolicy ?? scenario.agent.pullPolicy,
      capabilities: needed,
      // said only when no agent is held: kill agents and the API do it all
      ...(agentNeeded || install ? {} : { needed: false }),
    },
    steadyState: scenario.steadyState.map((r) => plannedRun(scenario, r)),
    steps,
    timelineMs: t,
  };
}

/**
 * The plan of a run against known pods (from the cluster, or named offline). Throws PlanError
 * (located, exit 3) when the mode asks for more pods than exist or than maxPods allows: it
 * refuses, never clamps.
 */
export function planRun(scenario: Scenario, pods: readonly TargetPod[], options: PlanOptions = {}): Plan {
  const seed = options.seed ?? scenario.target.seed ?? DEFAULT_SEED;
  const { candidates, chosen } = choosePods(scenario, pods, seed);
  const planned = chosen.map(
    (p): PlannedPod => ({
      name: p.name,
      ip: p.ip,
      placeholder: false,
      role: p.role,
      controller: p.controller,
      containers: p.containers,
      limits: p.limits,
      requests: p.requests,
      sharesProcesses: p.sharesProcesses,
    }),
  );
  return buildPlan(scenario, planned, candidates, seed, false, options);
}

export interface OfflinePlanOptions extends PlanOptions {
  /** `--pods a,b,c`: the pods the selector would match */
  readonly pods?: readonly string[] | undefined;
}

/**
 * The plan without a cluster. Pods: `--pods`, else the scenario's `pods:` names, else
 * placeholders: `one` and `{count: N}` give N numbered placeholders
 * (`<pod matching run=nginx #1>`), `all` and `{percent}` give one placeholder standing for
 * every chosen pod (their number is known only at run time, where maxPods is checked).
 */
export function planOffline(scenario: Scenario, options: OfflinePlanOptions = {}): Plan {
  const seed = options.seed ?? scenario.target.seed ?? DEFAULT_SEED;
  const selection = scenario.target.selection;
  const names = options.pods ?? (selection.kind === "pods" ? selection.names : undefined);
  if (names !== undefined) {
    const plan = planRun(
      scenario,
      names.map((name) => ({ name })),
      options,
    );
    return { ...plan, offline: true };
  }
  const sel = selection.kind === "selector" ? selectorText(selection.matchLabels) : "";
  const mode = scenario.target.mode;
  let pods: PlannedPod[];
  switch (mode.kind) {
    case "one":
    case "count": {
      const n = modeCount(mode, Number.MAX_SAFE_INTEGER);
      if (scenario.target.maxPods !== undefined && n > scenario.target.maxPods) {
        throw new PlanError("blast-radius", `mode ${modeText(mode)} would hit ${n} pods, above maxPods ${scenario.target.maxPods}`, "/target/maxPods", "narrow the target or raise maxPods");
      }
      pods = Array.from({ length: n }, (_, i) => ({ name: `<pod matching ${sel} #${i + 1}>`, ip: undefined, placeholder: true, role: undefined }));
      break;
    }
    case "all":
      pods = [{ name: `<every pod matching ${sel}>`, ip: undefined, placeholder: true, role: undefined }];
      break;
    case "percent":
      pods = [{ name: `<${mode.percent}% of the pods matching ${sel}, chosen with seed ${seed}>`, ip: undefined, placeholder: true, role: undefined }];
      break;
  }
  return buildPlan(scenario, pods, undefined, seed, true, options);
}
