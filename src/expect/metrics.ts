// The metrics each probe kind yields, with their dimension: durations are in milliseconds,
// ratios are plain numbers from 0 to 1 (written and shown as percentages). Expectations and
// expressions are type-checked against this table at validate time; the probe output parsers
// (src/probes) must yield exactly these names.

export type Dimension = "duration" | "number" | "ratio";

export interface MetricInfo {
  readonly dimension: Dimension;
  readonly description: string;
  /** how a plain number is shown to people (it stays a plain number in expressions) */
  readonly display?: "bytes" | undefined;
}

const duration = (description: string): MetricInfo => ({ dimension: "duration", description });
const number = (description: string): MetricInfo => ({ dimension: "number", description });
const ratio = (description: string): MetricInfo => ({ dimension: "ratio", description });

const LATENCY = {
  "latency.min": duration("fastest response"),
  "latency.mean": duration("mean time of the responses"),
  "latency.p50": duration("50th percentile of the response time"),
  "latency.p90": duration("90th percentile of the response time"),
  "latency.p95": duration("95th percentile of the response time"),
  "latency.p99": duration("99th percentile of the response time"),
  "latency.max": duration("slowest response"),
} as const;

/** gRPC's status codes by number (google.rpc.Code; grpc-go's codes), as grpc probes name them. */
export const GRPC_STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** `status.UNAVAILABLE`: the calls that ended with one status, every status named. */
const GRPC_STATUS_METRICS: Readonly<Record<`status.${(typeof GRPC_STATUS_NAMES)[number]}`, MetricInfo>> = Object.fromEntries(
  GRPC_STATUS_NAMES.map((n) => [`status.${n}`, number(`calls that ended with status ${n}`)]),
) as Record<`status.${(typeof GRPC_STATUS_NAMES)[number]}`, MetricInfo>;

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
  http: {
    requests: number("requests sent"),
    responses: number("requests answered with an HTTP status"),
    errors: number("requests that failed: no answer (timeout, refused, reset) or a status not in expectStatus"),
    errorRatio: ratio("errors / requests"),
    timeouts: number("requests that timed out"),
    refused: number("requests whose connection was refused"),
    "status.1xx": number("responses with a 1xx status"),
    "status.2xx": number("responses with a 2xx status"),
    "status.3xx": number("responses with a 3xx status"),
    "status.4xx": number("responses with a 4xx status"),
    "status.5xx": number("responses with a 5xx status"),
    ...LATENCY,
  },
  grpc: {
    calls: number("calls made (health checks, for a health probe)"),
    errors: number("calls not ended OK, and health checks answered anything but SERVING"),
    errorRatio: ratio("errors / calls"),
    serving: number("health checks answered SERVING (health probes only)"),
    ...GRPC_STATUS_METRICS,
    "latency.min": duration("fastest call ended OK"),
    "latency.mean": duration("mean time of the calls ended OK"),
    "latency.p50": duration("50th percentile of the time of the calls ended OK"),
    "latency.p90": duration("90th percentile of the time of the calls ended OK"),
    "latency.p95": duration("95th percentile of the time of the calls ended OK"),
    "latency.p99": duration("99th percentile of the time of the calls ended OK"),
    "latency.max": duration("slowest call ended OK"),
  },
  dns: {
    queries: number("resolutions made (each name, count times)"),
    answered: number("resolutions answered NOERROR with an address"),
    empty: number("resolutions answered NOERROR without an address of the type"),
    errors: number("resolutions not answered with an address: an error rcode, an empty answer, no answer (timeout), or a query that could not be sent"),
    errorRatio: ratio("errors / queries"),
    timeouts: number("resolutions no nameserver answered in time"),
    unsent: number("resolutions not made: the agent's request ran out of its 60 s"),
    "rcode.NOERROR": number("answers with rcode NOERROR"),
    "rcode.NXDOMAIN": number("answers with rcode NXDOMAIN (no such name)"),
    "rcode.SERVFAIL": number("answers with rcode SERVFAIL"),
    "rcode.REFUSED": number("answers with rcode REFUSED"),
    "latency.min": duration("fastest resolution that got an answer (any rcode)"),
    "latency.mean": duration("mean time of the resolutions that got an answer"),
    "latency.p50": duration("50th percentile of the resolution time (of one name; the worst name's with several)"),
    "latency.p90": duration("90th percentile of the resolution time (of one name; the worst name's with several)"),
    "latency.p95": duration("95th percentile of the resolution time (of one name; the worst name's with several)"),
    "latency.p99": duration("99th percentile of the resolution time (of one name; the worst name's with several)"),
    "latency.max": duration("slowest resolution that got an answer"),
  },
  k8s: {
    objects: number("objects found (0 or 1 by name; any number by selector)"),
    value: number("the field's value (a number; true/false count as 1/0); by selector, the sum over the objects"),
    conditionTrue: number("objects whose condition has status True"),
  },
  prometheus: {
    value: number("the query's value (its dimension is the probe's declared unit)"),
    series: number("series the query returned"),
  },
  cmd: {
    exitCode: number("the command's exit code"),
    succeeded: number("1 when it exited 0 (and its stdout matched, when `stdout` is given), else 0"),
    stdoutMatched: number("1 when its stdout matched the `stdout` pattern, else 0"),
    timedOut: number("1 when it did not finish within its timeout, else 0"),
    duration: duration("how long it ran"),
  },
} as const satisfies Readonly<Record<string, Readonly<Record<string, MetricInfo>>>>;

export type ProbeKind = keyof typeof PROBE_METRICS;
export const PROBE_KINDS = Object.keys(PROBE_METRICS) as readonly ProbeKind[];

export type MetricTable = Readonly<Record<string, MetricInfo>>;

export function metricsOf(kind: ProbeKind): MetricTable {
  return PROBE_METRICS[kind];
}

const bytes = (description: string): MetricInfo => ({ dimension: "number", description, display: "bytes" });

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
  http: {
    requests: number("HTTP/1.x requests the proxy read on the port while the fault was held"),
    faulted: number("requests the fault covered (method and path): delayed, and rolled for the error"),
    errors: number("requests answered with the error instead of the application"),
    "errors.rate": ratio("errors over faulted requests; no value when none was faulted"),
    relayed: number("connections relayed untouched, faulted in nothing: TLS, HTTP/2, upgraded"),
  },
  grpc: {
    calls: number("gRPC calls the proxy read on the port's h2c connections while the fault was held"),
    faulted: number("calls the fault covered (not excluded): delayed, and rolled for the error"),
    errors: number("calls answered with the injected status instead of the application"),
    "errors.rate": ratio("errors over faulted calls; no value when none was faulted"),
    delayed: number("calls held for the delay before they were forwarded"),
    relayed: number("calls forwarded to the application (faulted without the error, and excluded)"),
    excluded: number("calls passed untouched: an excluded service or method, or the health service"),
    streamsReset: number("calls still in flight when the proxy stopped, ended by it"),
    passedThrough: number("connections relayed byte for byte, faulted in nothing: TLS, unreadable"),
  },
  dns: {
    queries: number("DNS queries the pod sent (to port 53, UDP and TCP) while the fault was held, read by the agent's resolver"),
    tcp: number("of those, queries over TCP"),
    matched: number("queries whose name matched one of the fault's names"),
    faulted: number("matched queries the fault acted on (the rate's draw): answered by it, or delayed"),
    "faulted.rate": ratio("faulted over matched queries (the rate as it came out); no value when none matched"),
    nxdomain: number("queries answered NXDOMAIN by the fault"),
    servfail: number("queries answered SERVFAIL by the fault"),
    refused: number("queries answered REFUSED by the fault"),
    timeout: number("queries the fault left unanswered"),
    addresses: number("queries answered with the fault's addresses"),
    delayed: number("queries answered after the fault's delay"),
    forwarded: number("queries forwarded to the pod's nameserver (unmatched, outside the rate, or delayed)"),
    upstreamErrors: number("forwarded queries the nameserver did not answer in time"),
    malformed: number("packets to port 53 that were not a DNS query, dropped"),
  },
  stress: {
    "cpu.load": ratio("CPU used by each worker, a share of one CPU, measured in the workers' own CPU time"),
    "cpu.usage": number("CPU seconds per second used by the agent's cgroup (workers and agent) while the fault was held"),
    "cpu.wait": ratio("time each worker was ready to run but waited for a CPU (the node's other processes, or the pod's limit), a share of its wall time"),
    "cpu.throttled": ratio("share of the time the pod's CPU limit throttled the agent's cgroup (cpu.stat.local; no value where the kernel does not say)"),
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

/** The dimension a prometheus probe's declared unit gives its value. */
export function prometheusDimension(unit: string | undefined): Dimension {
  return unit === "seconds" || unit === "milliseconds" ? "duration" : unit === "ratio" || unit === "percent" ? "ratio" : "number";
}

/** The metric table of one probe: a prometheus probe's `value` has the unit it declares. */
export function probeMetrics(kind: ProbeKind, valueDimension?: Dimension): MetricTable {
  if (kind === "prometheus" && valueDimension !== undefined) return { ...PROBE_METRICS.prometheus, value: { ...PROBE_METRICS.prometheus.value, dimension: valueDimension } };
  return PROBE_METRICS[kind];
}

/** Aggregates an expectation can name on a continuous probe's series: `errorRatio.max`. */
export const AGGREGATES = ["min", "max", "mean", "median", "last"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/** `status.404`: the count of one status code (http probes). */
const STATUS_CODE = /^status\.[1-5][0-9][0-9]$/;
/** `rcode.NOTIMP`: the count of one DNS rcode by its name (dns probes); the usual ones are in the table. */
const RCODE = /^rcode\.[A-Z][A-Z0-9]{1,15}$/;

/** A metric name as written, resolved against a probe's table. */
export interface ResolvedMetric {
  /** the probe's own metric, e.g. `latency.p95` */
  readonly base: string;
  /** an aggregate over the series, e.g. `max` in `latency.p95.max` */
  readonly aggregate: Aggregate | undefined;
  readonly info: MetricInfo;
}

function own(table: MetricTable, kind: ProbeKind, name: string): MetricInfo | undefined {
  const info = table[name];
  if (info !== undefined) return info;
  if (kind === "http" && STATUS_CODE.test(name)) return number(`responses with status ${name.slice("status.".length)}`);
  if (kind === "dns" && RCODE.test(name)) return number(`answers with rcode ${name.slice("rcode.".length)}`);
  return undefined;
}

/**
 * Resolves `NAME` or `NAME.AGGREGATE`: the probe's own names first (`latency.max` is ab's slowest
 * request, not an aggregate of `latency`), then an aggregate suffix when `series` allows one.
 */
export function resolveMetric(kind: ProbeKind, table: MetricTable, name: string, series: boolean): ResolvedMetric | undefined {
  const direct = own(table, kind, name);
  if (direct !== undefined) return { base: name, aggregate: undefined, info: direct };
  if (!series) return undefined;
  const dot = name.lastIndexOf(".");
  if (dot < 0) return undefined;
  const suffix = name.slice(dot + 1);
  const aggregate = AGGREGATES.find((a) => a === suffix);
  if (aggregate === undefined) return undefined;
  const base = name.slice(0, dot);
  const info = own(table, kind, base);
  return info === undefined ? undefined : { base, aggregate, info };
}

/** Whether a name is an aggregate of a series, whatever the run: for a located "needs every:" error. */
export function aggregateOf(kind: ProbeKind, table: MetricTable, name: string): ResolvedMetric | undefined {
  return own(table, kind, name) === undefined ? resolveMetric(kind, table, name, true) : undefined;
}

/** The aggregate of a series' values (pure). */
export function aggregate(values: readonly number[], how: Aggregate): number | undefined {
  if (values.length === 0) return undefined;
  switch (how) {
    case "min":
      return Math.min(...values);
    case "max":
      return Math.max(...values);
    case "mean":
      return values.reduce((a, b) => a + b, 0) / values.length;
    case "median": {
      const s = [...values].sort((a, b) => a - b);
      const mid = Math.floor(s.length / 2);
      return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
    }
    case "last":
      return values[values.length - 1];
  }
}
