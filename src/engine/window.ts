// The window of an event fault (kill, podDelete): held until its end, or — for the seed verbs —
// until every pod has recovered; Ctrl-C ends it at once. No timer outlives it.
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
