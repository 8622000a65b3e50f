// The Plan: what a run will do, decided before anything is touched. Pure data; `chaos-run plan`
// prints it and the engine follows it.
import type { Expectation } from "../expect/expectation.js";
import type { ApplyRequest, RevertRequest } from "../faults/protocol.generated.js";
import type { AddedContainerSecurity, PodSecurityLevel } from "../faults/security.js";
import type { Fault, KillFault, PodDeleteFault, StressFault } from "../faults/types.js";
import type { ProbeKind } from "../expect/metrics.js";
import type { ProbeRunSpec } from "../probes/run.js";
import type { AgentSettings, TargetMode } from "../scenario/types.js";

/** What kind of pod it is, where that matters to the people running the experiment. */
export type PodRole = "static" | "daemonset";

/** A pod's controller, as the plan names it. */
export interface PodController {
  readonly kind: string;
  readonly name: string;
}

/** What the plan says about a pod's resources, where they matter (stress). */
export interface PodLimits {
  /** the pod's CPU limit in millicores (the sum of its containers' limits), when every container has one */
  readonly cpuMilli: number | undefined;
  /** the pod's memory limit in bytes, when every container has one */
  readonly memoryBytes: number | undefined;
}

/** What the cluster tells of a pod beyond its name and IP, where it is known (offline: nothing). */
export interface PodFacts {
  /** its controller; null: it has none (a deleted pod does not come back); undefined: unknown (offline) */
  readonly controller?: PodController | null | undefined;
  /** its containers, first the default one (kill's default target) */
  readonly containers?: readonly string[] | undefined;
  readonly limits?: PodLimits | undefined;
  /** what the scheduler set aside for it on its node (the sum of its containers' requests) */
  readonly requests?: PodLimits | undefined;
  /** spec.shareProcessNamespace: a container's main process is then not its namespace's init */
  readonly sharesProcesses?: boolean | undefined;
}

export interface TargetPod extends PodFacts {
  readonly name: string;
  /** known when the pod list comes from the cluster */
  readonly ip?: string | undefined;
  /** the pod shares the node's network namespace: always refused */
  readonly hostNetwork?: boolean | undefined;
  /** a static (mirror) pod or a DaemonSet's pod: named as such in the plan */
  readonly role?: PodRole | undefined;
}

export interface PlannedPod extends PodFacts {
  readonly name: string;
  readonly ip: string | undefined;
  /** true offline when the pods are not known: `name` is then a description like `<every pod matching run=nginx>` */
  readonly placeholder: boolean;
  readonly role: PodRole | undefined;
}

/** A probe run as planned: what running it takes (probe, spec, argv, perTargetPod), and more. */
export interface PlannedProbeRun extends ProbeRunSpec {
  readonly kind: ProbeKind;
  /** the chaos-tools image ab and http probes run in; undefined for the others */
  readonly toolsImage: string | undefined;
  /** `every:` a continuous run, one sample per interval; undefined: once */
  readonly everyMs: number | undefined;
  readonly save: string | undefined;
  readonly expect: readonly Expectation[];
  /** the expectations as written, e.g. `latency.p95 below baseline.latency.p95 * 1.5` */
  readonly expectText: readonly string[];
}

interface PlannedStepBase {
  readonly index: number;
  readonly name: string;
  /** offset from the start of the timeline, counting fault durations and waits only (probes take as long as they take) */
  readonly startMs: number;
}

/**
 * What ends a fault when no revert reaches it. "agent": it lives in the pod's network namespace,
 * and only a live agent there reverts it — at its lease, at its TTL, or a fresh agent the runner
 * (or sweep) adds when the one that held it died. "kernel": the kernel ends it by itself once
 * nobody renews it (a partition's nftables set element times out at its lease + 1 s), so neither
 * a dead agent nor a dead runner leaves it behind — where the node's kernel has nf_tables;
 * elsewhere (iptables-legacy) it needs a live agent like the others. "process": it lives in its
 * agent's processes (stress) and ends with them. "event": nothing is held (kill, podDelete).
 */
export type FaultEnd = "agent" | "kernel" | "process" | "event";

/** The container a fault adds to each pod, as it is sent, and the Pod Security level that admits it. */
export interface PlannedContainer {
  /** its securityContext (for the first pod where it differs by pod: see `note`) */
  readonly security: AddedContainerSecurity;
  /** the strictest level that admits it */
  readonly level: PodSecurityLevel;
  /** where it differs by pod or by namespace */
  readonly note?: string | undefined;
}

interface PlannedFaultBase {
  /** the agent's id of this fault, `<runId>-s<N>` (`[a-z0-9-]{1,22}`); it names the fault's kernel objects */
  readonly id: string;
  /** the scenario's interface; undefined: each pod's default-route interface, found by the agent (network faults) */
  readonly interface: string | undefined;
  readonly fault: Fault;
  /** a one-line description, e.g. `netem delay 100ms jitter 5ms, port 80` */
  readonly summary: string;
  /** what the plan tells people about how the fault reaches the pods, and its honest limits */
  readonly notes: readonly string[];
  readonly ends: FaultEnd;
  /** the container it adds to each pod; undefined: none (a pod deletion) */
  readonly container: PlannedContainer | undefined;
}

/** A fault the pod's agent holds under a lease and reverts (netem, partition, http). */
export interface PlannedAgentFault extends PlannedFaultBase {
  readonly delivery: "agent";
  /**
   * the request every target pod's agent gets, byte for byte (one exec per pod: see
   * src/faults/requests.ts). The commands that make it kernel state depend on the pod and come
   * back in the agent's reply.
   */
  readonly apply: ApplyRequest;
  readonly revert: RevertRequest;
}

/** A stress: held by a stress agent of its own in each pod (a container of its own, no capability), reverted like an agent's fault. */
export interface PlannedStressFault extends PlannedFaultBase {
  readonly delivery: "stress-agent";
  readonly fault: StressFault;
  readonly apply: ApplyRequest;
  readonly revert: RevertRequest;
  /** the stress agent's container: `chaos-stress-<runId>-s<N>` */
  readonly agentName: string;
  readonly agentTtlMs: number;
}

/** A kill: an event, delivered by a kill agent of its own in each pod (nothing to revert). */
export interface PlannedKillFault extends PlannedFaultBase {
  readonly delivery: "kill-agent";
  readonly fault: KillFault;
  /** the request each kill agent gets, first as a dry run in every pod, then for real; each pod's container id is added at run time */
  readonly apply: ApplyRequest;
  /** the kill agent's container: `chaos-kill-<runId>-s<N>`, added with targetContainerName */
  readonly agentName: string;
  readonly capabilities: readonly string[];
  readonly agentTtlMs: number;
}

/** A pod deletion through the API: an event (nothing to revert). */
export interface PlannedApiFault extends PlannedFaultBase {
  readonly delivery: "api";
  readonly fault: PodDeleteFault;
}

export type PlannedFault = PlannedAgentFault | PlannedStressFault | PlannedKillFault | PlannedApiFault;

export interface PlannedFaultStep extends PlannedStepBase {
  readonly kind: "fault";
  /** held for this long; for an event (kill, podDelete), the window in which recovery is watched */
  readonly durationMs: number;
  readonly fault: PlannedFault;
  readonly during: readonly PlannedProbeRun[];
  /** expectations on what the fault itself measured (per target pod) */
  readonly expect?: readonly Expectation[] | undefined;
  /** as written, e.g. `recovery.time below 20s` */
  readonly expectText?: readonly string[] | undefined;
}

export interface PlannedProbeStep extends PlannedStepBase {
  readonly kind: "probe";
  readonly durationMs: undefined;
  readonly run: PlannedProbeRun;
}

export interface PlannedWaitStep extends PlannedStepBase {
  readonly kind: "wait";
  readonly durationMs: number;
}

export type PlannedStep = PlannedFaultStep | PlannedProbeStep | PlannedWaitStep;

/** The agent container as the plan asks for it: explicit, never inherited from the pod. */
export interface PlannedAgent extends AgentSettings {
  /** exactly what the plan's faults need (a run without faults: what network faults need) */
  readonly capabilities: readonly string[];
  /** false: no fault of the plan is held by the pod's agent (only kill agents or the API act), so none is added */
  readonly needed?: false | undefined;
}

export interface Plan {
  readonly planVersion: 2;
  /** names the run's agents (chaos-agent-<runId>) and prefixes its fault ids; `offline` in an offline plan */
  readonly runId: string;
  readonly scenario: { readonly name: string; readonly description: string | undefined };
  readonly seed: number;
  readonly offline: boolean;
  readonly namespace: string | undefined;
  readonly target: {
    /** `run=nginx,tier=web`, or undefined when the scenario lists pod names (or names a Service or workload not resolved yet: offline) */
    readonly selector: string | undefined;
    /** the Service or workload the pods were found through: `service/web`, `deployment/web` */
    readonly via?: string | undefined;
    /** how `via` was resolved, in words: `service/web → selector app=web → 3 pods`, `port 80 → targetPort http → 8080` */
    readonly resolution?: readonly string[] | undefined;
    readonly mode: TargetMode;
    readonly maxPods: number | undefined;
    /** target.allowSystemNamespaces */
    readonly allowSystemNamespaces: boolean;
    /** the candidates the choice was made from, sorted by name; undefined when unknown (offline) */
    readonly candidates: readonly string[] | undefined;
    readonly pods: readonly PlannedPod[];
  };
  readonly agent: PlannedAgent;
  readonly steadyState: readonly PlannedProbeRun[];
  readonly steps: readonly PlannedStep[];
  /** sum of fault durations and waits */
  readonly timelineMs: number;
}
