// Small statistics shared by the probes' parsers. Pure.

/** The p-th percentile (0..100) of values, nearest-rank: the smallest value with at least p% at or below it. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Latency metrics of a set of request times (ms): min, mean, p50/p90/p95/p99, max. */
export function latencyMetrics(times: readonly number[]): Record<string, number | undefined> {
  const s = [...times].sort((a, b) => a - b);
  return {
    "latency.min": s[0],
    "latency.mean": mean(s),
    "latency.p50": percentile(s, 50),
    "latency.p90": percentile(s, 90),
    "latency.p95": percentile(s, 95),
    "latency.p99": percentile(s, 99),
    "latency.max": s[s.length - 1],
  };
}
