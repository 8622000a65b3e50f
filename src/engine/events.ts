// What the engine tells its observers (the UI, the journal). Observers only watch: each call is
// isolated, so a broken view can never stop a run or undo a revert.
import type { ExpectationOutcome } from "../expect/expectation.js";
import type { CommandRun } from "../faults/protocol.generated.js";
import type { ClusterIdentity } from "../kube/types.js";
import type { Plan } from "../plan/types.js";
import type { ProbeOutcome } from "../probes/run.js";

export type RunStatus = "passed" | "failed" | "error" | "interrupted";

/**
 * When a probe ran: the steady state before the first step or after the last, a probe step,
 * during a fault, or the steady state's continuous probes sampled through the run (monitor).
 */
export type ProbePhase = "before" | "step" | "during" | "after" | "monitor";

/** A sample of a continuous probe (`every:`): which series, its place in it, the interval. */
export interface SeriesRef {
  /** unique in the run, e.g. `s2-0-web` (step 2, first of its during list, probe web) */
  readonly id: string;
  readonly index: number;
  readonly everyMs: number;
}

export interface ProbeWhere {
  readonly phase: ProbePhase;
  /** the step's index (0-based); undefined for the steady state */
  readonly index: number | undefined;
  /** the step's name, or "steady state (before)" / "steady state (after)" */
  readonly stepName: string;
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** `namespace/name`: how the engine keys what it knows per pod, and names a pod in its words. */
export const podKey = (p: PodRef): string => `${p.namespace}/${p.name}`;

/** A fault's window over its target pods, from `at` until `untilAt`: held (an agent's fault) or watched (an event's recovery). */
interface FaultWindow {
  readonly at: number;
  readonly index: number;
  readonly faultId: string;
  readonly summary: string;
  readonly pods: readonly PodRef[];
  readonly untilAt: number;
}

export type EngineEvent =
  | { readonly type: "run:start"; readonly at: number; readonly runId: string; readonly plan: Plan; readonly cluster: ClusterIdentity }
  | { readonly type: "preflight"; readonly at: number; readonly check: string; readonly ok: boolean; readonly detail: string }
  | { readonly type: "agent:injecting"; readonly at: number; readonly pod: PodRef; readonly container: string }
  | { readonly type: "agent:ready"; readonly at: number; readonly pod: PodRef; readonly container: string; readonly reused: boolean; readonly durationMs: number }
  | { readonly type: "step:start"; readonly at: number; readonly index: number; readonly name: string; readonly kind: "fault" | "probe" | "wait"; readonly durationMs: number | undefined }
  | {
      readonly type: "fault:applied";
      readonly at: number;
      readonly index: number;
      readonly faultId: string;
      readonly pod: PodRef;
      /** the interface the agent applied it on */
      readonly iface: string | undefined;
      /** the address families it covers (the agent's decision: it sees the pod) */
      readonly families: readonly number[];
      /** what the agent read back from the kernel, in words */
      readonly detail: string;
      /** every command the agent ran to apply it */
      readonly commands: readonly CommandRun[];
      readonly durationMs: number;
      /** the agent says the kernel ends it by itself when nobody renews its lease (nftables); undefined: the agent did not say */
      readonly expiresInKernel?: boolean | undefined;
      /** it travelled with its agent: given at the agent's start, no exec applied it */
      readonly withAgent?: boolean | undefined;
      /** where a travelling fault was confirmed: the reply the agent wrote to its log, or its first renewal (an exec) */
      readonly confirmedFrom?: "log" | "renewal" | undefined;
    }
  | ({
      /** every target pod holds the step's fault: it is held for the step's duration from now */
      readonly type: "fault:holding";
    } & FaultWindow)
  | {
      /** the agent reverted a fault by itself before its step ended (its lease lapsed): it did not hold */
      readonly type: "fault:lost";
      readonly at: number;
      readonly index: number;
      readonly faultId: string;
      readonly pod: PodRef;
      readonly reason: string;
    }
  | {
      readonly type: "fault:revert-retry";
      readonly at: number;
      readonly index: number;
      readonly faultId: string;
      readonly pod: PodRef;
      readonly attempt: number;
      /** why the attempt did not confirm the revert */
      readonly detail: string;
      readonly retryInMs: number;
    }
  | {
      readonly type: "fault:reverted";
      readonly at: number;
      readonly index: number;
      readonly faultId: string;
      readonly pod: PodRef;
      readonly confirmed: boolean;
      /** why it is not confirmed, or how it was (e.g. "pod deleted: …") */
      readonly detail: string;
      readonly attempts: number;
      /** every command the agent ran to revert it, over all attempts */
      readonly commands: readonly CommandRun[];
      readonly durationMs: number;
    }
  | { readonly type: "fault:held"; readonly at: number; readonly index: number; readonly faultId: string; readonly pod: PodRef; readonly untilMs: number }
  | ({
      /** an event (kill, podDelete) happened in every target pod: its recovery is watched until then */
      readonly type: "fault:watching";
    } & FaultWindow)
  | {
      /** what a fault measured in one target pod (kill, podDelete: from the API; stress, http: from the agent) */
      readonly type: "fault:observed";
      readonly at: number;
      readonly index: number;
      readonly faultId: string;
      readonly kind: string;
      readonly pod: PodRef;
      /** by FAULT_METRICS' names; undefined: not measured (e.g. no recovery within the window) */
      readonly metrics: Readonly<Record<string, number | undefined>>;
      /** what happened, in words */
      readonly detail: string;
    }
  | { readonly type: "step:end"; readonly at: number; readonly index: number; readonly ok: boolean; readonly detail: string | undefined }
  | { readonly type: "tools:ready"; readonly at: number; readonly pod: PodRef; readonly image: string; readonly created: boolean; readonly durationMs: number }
  | { readonly type: "probe:start"; readonly at: number; readonly where: ProbeWhere; readonly probe: string }
  | { readonly type: "probe:result"; readonly at: number; readonly where: ProbeWhere; readonly outcome: ProbeOutcome; readonly save: string | undefined; readonly series?: SeriesRef | undefined }
  | {
      readonly type: "expect:result";
      readonly at: number;
      readonly where: ProbeWhere;
      readonly probe: string;
      /** the target pod the measurement is of; undefined when the probe names no target */
      readonly pod: string | undefined;
      /** the expectation as written, e.g. `latency.p95 below baseline.latency.p95 * 1.5` */
      readonly expected: string;
      readonly outcome: ExpectationOutcome;
      /** what measured it: a probe (default), or the fault itself (then `probe` is the fault's kind) */
      readonly source?: "probe" | "fault" | undefined;
      /** the metric's dimension, for showing its value */
      readonly dimension?: "duration" | "number" | "ratio" | undefined;
      /** on a continuous probe: the series judged, and its number of samples */
      readonly series?: { readonly id: string; readonly samples: number } | undefined;
    }
  | { readonly type: "warning"; readonly at: number; readonly message: string }
  | { readonly type: "interrupt"; readonly at: number; readonly signal: string }
  | {
      readonly type: "run:end";
      readonly at: number;
      readonly status: RunStatus;
      readonly exitCode: number;
      readonly message: string | undefined;
      readonly hint: string | undefined;
    };

export type EventSink = (event: EngineEvent) => void;

/** Fans events out to observers; an observer that throws is reported once and otherwise ignored. */
export function fanOut(observers: readonly EventSink[], onObserverError: (error: unknown) => void): EventSink {
  return (event) => {
    for (const observe of observers) {
      try {
        observe(event);
      } catch (e) {
        onObserverError(e);
      }
    }
  };
}
