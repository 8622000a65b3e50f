// Bounded concurrency: run fn over items, at most `limit` at a time, results in item order.
// Every item runs to completion (no cancellation here: callers pass their signal into fn), so a
// fan-out never leaves work half-started behind it.

export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const item = items[i] as T;
      try {
        results[i] = { status: "fulfilled", value: await fn(item, i) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Throws the first failure of a fan-out, once every item has settled (mapPool's results). */
export function throwFirstRejected(results: readonly PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A signal that aborts after `ms` (made with setTimeout, so tests can drive it with fake timers:
 * AbortSignal.timeout's timer is internal to Node). Call `dispose` once it is not needed.
 */
export function deadline(ms: number, reason: () => Error = () => new Error(`deadline of ${ms} ms passed`)): { readonly signal: AbortSignal; readonly dispose: () => void } {
  const c = new AbortController();
  const timer = setTimeout(() => c.abort(reason()), Math.max(0, ms));
  return { signal: c.signal, dispose: () => clearTimeout(timer) };
}
