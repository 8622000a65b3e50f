// The metrics each probe kind yields, with their dimension: durations are in milliseconds.
// Expectations and expressions are type-checked against this table at validate time; the
// probe output parsers (src/probes) must yield exactly these names.

export type Dimension = "duration" | "number";

export interface MetricInfo {
  readonly dimension: Dimension;
  readonly description: string;
}

const duration = (description: string): MetricInfo => ({ dimension: "duration", description });
const number = (description: string): MetricInfo => ({ dimension: "number", description });

export const PROBE_METRICS = {
  ab: {
    "latency.mean": duration("mean time per request (ab: Time per request, mean)"),
    "latency.min": duration("fastest request (ab: Connection Times, Total min)"),
    "latency.max": duration("slowest request (ab: longest request)"),
    "latency.p50": duration("50th percentile of request time"),
    "latency.p66": duration("66th percentile of request time"),
    "latency.p75": duration("75th percentile of request time"),
    "latency.p80": duration("80th percentile of request time"),
    "latency.p90": duration("90th percentile of request time"),
    "latency.p95": duration("95th percentile of request time"),
    "latency.p98": duration("98th percentile of request time"),
    "latency.p99": duration("99th percentile of request time"),
    failedRequests: number("requests that failed (connect, receive, length or exceptions)"),
    non2xxResponses: number("responses with a status other than 2xx"),
    completeRequests: number("requests completed"),
    requestsPerSecond: number("throughput, requests per second"),
  },
} as const satisfies Readonly<Record<string, Readonly<Record<string, MetricInfo>>>>;

export type ProbeKind = keyof typeof PROBE_METRICS;

export function metricsOf(kind: ProbeKind): Readonly<Record<string, MetricInfo>> {
  return PROBE_METRICS[kind];
}
