// The window of an event fault (kill, podDelete): held until its end, or — for the seed verbs —
// until every pod has recovered; Ctrl-C ends it at once. No timer outlives it.
import type { PlannedFaultStep } from "../../plan/types.js";
import type { PodRef } from "../events.js";
import { runDuring, type StepContext } from "./step-runner.js";

export interface Window {
  /** wakes the waiter to look again whether it is done */
  readonly poke: () => void;
  /** resolves at `untilAt`, or when `done()` holds after a poke; rejects with the signal's reason */
  readonly wait: () => Promise<void>;
}

export function eventWindow(untilAt: number, now: () => number, signal: AbortSignal, done: () => boolean): Window {
  let wake: (() => void) | undefined;
  return {
    poke: () => wake?.(),
    wait: () =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const finish = (aborted: boolean): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          wake = undefined;
          if (aborted) reject(signal.reason);
          else resolve();
        };
        const onAbort = (): void => finish(true);
        const timer = setTimeout(() => finish(false), Math.max(0, untilAt - now()));
        signal.addEventListener("abort", onAbort, { once: true });
        wake = () => {
          if (done()) finish(false);
        };
        wake();
      }),
  };
}

/** The step's window over `pods`, from `from`: said, its `during` probes run, then held until it ends. */
export async function watchWindow(step: PlannedFaultStep, ctx: StepContext, pods: readonly PodRef[], from: number, window: Window): Promise<void> {
  const untilAt = from + step.durationMs;
  ctx.emit({ type: "fault:watching", at: from, index: step.index, faultId: step.fault.id, summary: step.fault.summary, pods, untilAt });
  if (step.during.length > 0) await runDuring(step, ctx, untilAt);
  await window.wait();
}
