// The Plan: what a run will do, decided before anything is touched. Pure data; `chaos-run plan`
// prints it and the engine follows it.
import type { Expectation } from "../expect/expectation.js";
import type { Fault, FaultCommands } from "../faults/types.js";
import type { AgentSettings, TargetMode } from "../scenario/types.js";

export interface TargetPod {
  readonly name: string;
  /** known when the pod list comes from the cluster */
  readonly ip?: string | undefined;
}

export interface PlannedPod {
  readonly name: string;
  readonly ip: string | undefined;
  /** true offline when the pods are not known: `name` is then a description like `<every pod matching run=nginx>` */
  readonly placeholder: boolean;
}

export interface PlannedProbeRun {
  readonly probe: string;
  readonly kind: "ab";
  /** the probe's argv in the tools pod; the URL is still a template ({{ target.ip }} …) */
  readonly argv: readonly string[];
  /** true when the URL uses {{ target.* }}: the probe runs once per target pod */
  readonly perTargetPod: boolean;
  readonly toolsImage: string;
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

export interface PlannedFault {
  /** the agent's id of this fault (`[a-z0-9-]{1,22}`); the iptables chain is CHAOS-<id> */
  readonly id: string;
  /** tc major handle of the fault's root qdisc */
  readonly handle: number;
  /** the interface name, or `$IFACE` (the pod's default-route interface, resolved by the agent) */
  readonly interface: string;
  readonly fault: Fault;
  /** a one-line description, e.g. `netem delay 100ms jitter 5ms, port 80` */
  readonly summary: string;
  readonly commands: FaultCommands;
  /** the one exec argv per pod that applies the fault (see src/faults/agent.ts) */
  readonly agentApply: readonly string[];
  readonly agentRevert: readonly string[];
}

export interface PlannedFaultStep extends PlannedStepBase {
  readonly kind: "fault";
  readonly durationMs: number;
  readonly fault: PlannedFault;
  readonly during: readonly PlannedProbeRun[];
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

export interface Plan {
  readonly planVersion: 1;
  readonly scenario: { readonly name: string; readonly description: string | undefined };
  readonly seed: number;
  readonly offline: boolean;
  readonly namespace: string | undefined;
  readonly target: {
    /** `run=nginx,tier=web`, or undefined when the scenario lists pod names */
    readonly selector: string | undefined;
    readonly mode: TargetMode;
    readonly maxPods: number | undefined;
    /** the candidates the choice was made from, sorted by name; undefined when unknown (offline) */
    readonly candidates: readonly string[] | undefined;
    readonly pods: readonly PlannedPod[];
  };
  readonly agent: AgentSettings;
  readonly steadyState: readonly PlannedProbeRun[];
  readonly steps: readonly PlannedStep[];
  /** sum of fault durations and waits */
  readonly timelineMs: number;
}
