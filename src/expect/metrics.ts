// The metrics each probe kind yields, with their dimension: durations are in milliseconds.
// Expectations and expressions are type-checked against this table at validate time; the
// probe output parsers (src/probes) must yield exactly these names.

export type Dimension = "duration" | "number";

export interface MetricInfo {
  readonly dimension: Dimension;
  readonly description: string;
  /** how a plain number is shown to people (it stays a plain number in expressions) */
  readonly display?: "bytes" | "percent" | undefined;
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

const bytes = (description: string): MetricInfo => ({ dimension: "number", description, display: "bytes" });
const percent = (description: string): MetricInfo => ({ dimension: "number", description, display: "percent" });

/**
 * What faults measure themselves, per fault kind, per target pod: expectations on a fault step
 * (`expect:` beside `fault:`) address these. Events (kill, podDelete) are observed from the API
 * over their window; stress is read by the agent from its stressors and its own cgroup.
 */
export const FAULT_METRICS = {
  kill: {
    restarts: number("how many times the container restarted in the window (restartCount after − before)"),
    exitCode: number("the exit code of the killed container (137 = SIGKILL)"),
    "recovery.time": duration("from the signal to the container running again and the pod Ready; no value when it did not recover in the window"),
  },
  podDelete: {
    "recovery.time": duration("from the deletion to a replacement (same controller) Ready; no value when none was Ready in the window (a pod without a controller never comes back)"),
    "pods.ready": number("the controller's pods Ready at the end of the window"),
  },
  stress: {
    "cpu.load": percent("CPU used by each worker, percent of one CPU, measured in the workers' own CPU time"),
    "cpu.usage": number("CPU seconds per second used by the agent's cgroup (workers and agent) while the fault was held"),
    "cpu.wait": percent("time each worker was ready to run but waited for a CPU (the node's other processes, or the pod's limit), percent of its wall time"),
    "cpu.throttled": percent("percent of the time the pod's CPU limit throttled the agent's cgroup (cpu.stat.local; no value where the kernel does not say)"),
    "cpu.throttledTime": duration("how long the pod's CPU limit throttled the agent's cgroup"),
    "memory.allocated": bytes("bytes the memory stressor had allocated and touched"),
    "memory.oomKilled": number("1 when the OOM killer took the memory stressor, else 0"),
    restarts: number("restarts of the pod's own containers while the fault was held"),
    oomKilled: number("containers of the pod that ended OOMKilled while the fault was held"),
  },
} as const satisfies Readonly<Record<string, Readonly<Record<string, MetricInfo>>>>;

export type MeasuringFaultKind = keyof typeof FAULT_METRICS;

/** The metrics a fault kind measures; netem and partition measure nothing themselves. */
export function faultMetricsOf(kind: string): Readonly<Record<string, MetricInfo>> | undefined {
  return kind in FAULT_METRICS ? FAULT_METRICS[kind as MeasuringFaultKind] : undefined;
}
