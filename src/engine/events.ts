// What the engine tells its observers (the UI, the journal). Observers only watch: each call is
// isolated, so a broken view can never stop a run or undo a revert.
import type { ClusterIdentity } from "../kube/types.js";
import type { Plan } from "../plan/types.js";

export type RunStatus = "passed" | "failed" | "error" | "interrupted";

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
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
      readonly iface: string | undefined;
      readonly detail: string;
      readonly durationMs: number;
    }
  | {
      readonly type: "fault:reverted";
      readonly at: number;
      readonly index: number;
      readonly faultId: string;
      readonly pod: PodRef;
      readonly confirmed: boolean;
      /** why it is not confirmed, or "pod deleted" */
      readonly detail: string;
      readonly durationMs: number;
    }
  | { readonly type: "fault:held"; readonly at: number; readonly index: number; readonly faultId: string; readonly pod: PodRef; readonly untilMs: number }
  | { readonly type: "step:end"; readonly at: number; readonly index: number; readonly ok: boolean; readonly detail: string | undefined }
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
