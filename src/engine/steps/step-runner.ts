// The one contract every kind of step is run through. The run hands each step, in order, to the
// runner of its kind (steps/index.ts) with one StepContext — the run's services, by name — and
// the runner runs it to its end: a held fault reverted in its own `finally`, an event's window
// over, a probe measured. What a runner throws stops the run; the run's `finally` still reverts
// whatever the ledger holds. The events every fault kind emits alike (`fault:applied`,
// `fault:observed`) are built here, and only here.
import type { Cluster } from "../../kube/types.js";
import type { PodSecurityLevel } from "../../faults/index.js";
import type { CommandRun } from "../../faults/protocol.generated.js";
import type { PlannedAgent, PlannedFaultStep, PlannedStep } from "../../plan/types.js";
import type { AgentHandle } from "../agent-client.js";
import type { Checks } from "../checks.js";
import type { EventSink, PodRef } from "../events.js";
import type { LeaseKeeper } from "../leases.js";
import type { LedgerEntry, RevertLedger } from "../ledger.js";
import type { Travelling } from "../first-fault.js";
import type { EngineOptions } from "../options.js";
import type { RevertOutcomeOf } from "../revert.js";
import type { Targets } from "../targets.js";

export interface StepRunner<S extends PlannedStep> {
  /** whether `step` is one this runner runs */
  readonly accepts: (step: PlannedStep) => step is S;
  /** Runs the step to its end; throws what stops the run. */
  readonly run: (step: S, ctx: StepContext) => Promise<void>;
}

/** What a step may use of the run. */
export interface StepContext {
  readonly cluster: Cluster;
  readonly emit: EventSink;
  readonly now: () => number;
  /** the run's signal (Ctrl-C, SIGTERM) */
  readonly signal: AbortSignal;
  readonly options: EngineOptions;
  /** the agent containers as the plan asks for them: image, pull policy, lease */
  readonly agent: PlannedAgent;
  /** the target pods as the run knows them now: those gone, those the run deleted and their replacements */
  readonly targets: Targets;
  /** the pods' own agents, of the pods still there (netem, partition and http faults go through them) */
  readonly podAgents: () => readonly AgentHandle[];
  /** every fault the run applies is written here before it is applied */
  readonly ledger: RevertLedger;
  readonly leases: LeaseKeeper;
  /** reverts ledger entries under a deadline of their own (never the run's signal), settles them, and records what became of each */
  readonly revert: (entries: readonly LedgerEntry[]) => Promise<readonly RevertOutcomeOf[]>;
  /** probes (a fault's `during`) and expectations (a fault's `expect:`) */
  readonly checks: Checks;
  /** the Pod Security level the namespace enforces (undefined: it could not be read) */
  readonly namespaceLevel: PodSecurityLevel | undefined;
  /** the fault `agent` started with for step `index`, to confirm instead of applying (first-fault.ts); once */
  readonly travelling?: ((agent: AgentHandle, index: number) => Travelling | undefined) | undefined;
}

/** A step that injects a fault of one delivery: `FaultStepOf<PlannedKillFault>`. */
export type FaultStepOf<F extends PlannedFaultStep["fault"]> = PlannedFaultStep & { readonly fault: F };

/** What a fault measured in one pod. */
export interface Observation {
  readonly pod: PodRef;
  readonly metrics: Readonly<Record<string, number | undefined>>;
  readonly detail: string;
}

/** What applying a fault did in one pod, as the agent (or the API) said it. */
export interface Applied {
  /** the interface it was applied on (network faults) */
  readonly iface: string | undefined;
  readonly families: readonly number[];
  readonly detail: string;
  readonly commands: readonly CommandRun[];
  /** from the agent's FaultState: the kernel ends it by itself when nobody renews its lease */
  readonly expiresInKernel?: boolean | undefined;
  /** it travelled with its agent (given at its start): no exec applied it; confirmed from the agent's log, or by its first renewal */
  readonly withAgent?: "log" | "renewal" | undefined;
}

/** Says that the step's fault is in effect in one pod, `startedAt` being when its apply began. */
export function emitApplied(ctx: StepContext, step: PlannedFaultStep, pod: PodRef, applied: Applied, startedAt: number): void {
  ctx.emit({
    type: "fault:applied",
    at: ctx.now(),
    index: step.index,
    faultId: step.fault.id,
    pod,
    iface: applied.iface,
    families: applied.families,
    detail: applied.detail,
    commands: applied.commands,
    durationMs: ctx.now() - startedAt,
    expiresInKernel: applied.expiresInKernel,
    ...(applied.withAgent === undefined ? {} : { withAgent: true, confirmedFrom: applied.withAgent }),
  });
}

/** Says what the step's fault measured in one pod (kill, podDelete: from the API; stress, http, grpc, dns: from the agent). */
export function emitObserved(ctx: StepContext, step: PlannedFaultStep, kind: "kill" | "podDelete" | "stress" | "http" | "grpc" | "dns", o: Observation): void {
  ctx.emit({ type: "fault:observed", at: ctx.now(), index: step.index, faultId: step.fault.id, kind, pod: o.pod, metrics: o.metrics, detail: o.detail });
}

/** Runs the step's `during` probes; continuous ones (`every:`) sample until `untilAt`, the window's end. */
export function runDuring(step: PlannedFaultStep, ctx: StepContext, untilAt: number): Promise<number> {
  return ctx.checks.run(step.during, { phase: "during", index: step.index, stepName: step.name }, ctx.signal, untilAt);
}
