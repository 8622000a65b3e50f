// ab's output → named metrics (src/expect/metrics.ts, PROBE_METRICS.ab). Pure.
//
// The probe runs `ab -r [-k] -n N -c C -s T -e /dev/stderr URL`: the report comes on stdout, the
// percentile CSV (microsecond precision, "Percentage served,Time in ms") on stderr, with any of
// ab's own error lines. What the system under test does is measured, never an error: refused
// connections, resets and non-2xx answers are counted. ab itself stops at the first socket
// timeout (it prints "apr_pollset_poll: The timeout specified has expired" and no report): then
// every request is counted as failed, of kind timeout. Only an ab that could not run at all
// (unknown host, bad URL, not installed) is an error of the probe.

export interface AbFailures {
  readonly connect: number;
  readonly receive: number;
  readonly length: number;
  readonly exceptions: number;
  readonly timeout: number;
}

export type AbMetrics = {
  readonly "latency.mean": number | undefined;
  readonly "latency.min": number | undefined;
  readonly "latency.max": number | undefined;
  readonly "latency.p50": number | undefined;
  readonly "latency.p66": number | undefined;
  readonly "latency.p75": number | undefined;
  readonly "latency.p80": number | undefined;
  readonly "latency.p90": number | undefined;
  readonly "latency.p95": number | undefined;
  readonly "latency.p98": number | undefined;
  readonly "latency.p99": number | undefined;
  readonly failedRequests: number;
  readonly non2xxResponses: number;
  readonly completeRequests: number;
  readonly requestsPerSecond: number | undefined;
};

export type AbParse =
  | {
      readonly ok: true;
      readonly metrics: AbMetrics;
      readonly failures: AbFailures;
      readonly keepAliveRequests: number;
      /** ab stopped early (a socket timeout); the metrics count every request as failed */
      readonly stoppedEarly: string | undefined;
    }
  | { readonly ok: false; readonly error: string };

const PERCENTILES = [50, 66, 75, 80, 90, 95, 98, 99] as const;

function num(text: string, re: RegExp): number | undefined {
  const m = re.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** ab -e's CSV: percentage (0..100) → ms. */
export function parsePercentiles(stderr: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of stderr.split("\n")) {
    const m = /^(\d{1,3}),(\d+(?:\.\d+)?)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

/** ab's own error lines on stderr (not the CSV). */
export function abErrors(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^\d{1,3},\d/.test(l) && l !== "Percentage served,Time in ms");
}

export function parseAb(stdout: string, stderr: string, exitCode: number | undefined, requests: number): AbParse {
  const errors = abErrors(stderr);
  const complete = num(stdout, /^Complete requests:\s+(\d+)/m);
  if (complete === undefined) {
    const timeout = errors.find((e) => /timeout specified has expired|\(70007\)/.test(e));
    if (timeout !== undefined) {
      return {
        ok: true,
        metrics: {
          "latency.mean": undefined,
          "latency.min": undefined,
          "latency.max": undefined,
          "latency.p50": undefined,
          "latency.p66": undefined,
          "latency.p75": undefined,
          "latency.p80": undefined,
          "latency.p90": undefined,
          "latency.p95": undefined,
          "latency.p98": undefined,
          "latency.p99": undefined,
          failedRequests: requests,
          non2xxResponses: 0,
          completeRequests: 0,
          requestsPerSecond: undefined,
        },
        failures: { connect: 0, receive: 0, length: 0, exceptions: 0, timeout: requests },
        keepAliveRequests: 0,
        stoppedEarly: timeout,
      };
    }
    const why = errors[0] ?? (exitCode === 127 ? "ab is not installed in the tools image" : `ab exited ${exitCode ?? "abnormally"} without a report`);
    return { ok: false, error: why };
  }
  const failed = num(stdout, /^Failed requests:\s+(\d+)/m) ?? 0;
  const breakdown = /\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)/.exec(stdout);
  const failures: AbFailures = {
    connect: Number(breakdown?.[1] ?? 0),
    receive: Number(breakdown?.[2] ?? 0),
    length: Number(breakdown?.[3] ?? 0),
    exceptions: Number(breakdown?.[4] ?? 0),
    timeout: 0,
  };
  const p = parsePercentiles(stderr);
  const served = complete - Math.min(failed, complete);
  if (served > 0 && p.size === 0) {
    return { ok: false, error: `ab wrote no percentiles (its -e /dev/stderr file)${errors.length > 0 ? `: ${errors.join("; ")}` : ""}` };
  }
  // with no successful request, ab's times describe failures: leave latency undefined
  const lat = (k: number): number | undefined => (served > 0 ? p.get(k) : undefined);
  const metrics: AbMetrics = {
    "latency.mean": served > 0 ? num(stdout, /^Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m) : undefined,
    "latency.min": lat(0),
    "latency.max": lat(100),
    "latency.p50": lat(PERCENTILES[0]),
    "latency.p66": lat(66),
    "latency.p75": lat(75),
    "latency.p80": lat(80),
    "latency.p90": lat(90),
    "latency.p95": lat(95),
    "latency.p98": lat(98),
    "latency.p99": lat(99),
    // ab counts a request once per kind of error it met; a request fails at most once here
    failedRequests: Math.min(failed, complete),
    non2xxResponses: num(stdout, /^Non-2xx responses:\s+(\d+)/m) ?? 0,
    completeRequests: complete,
    requestsPerSecond: num(stdout, /^Requests per second:\s+([\d.]+)/m),
  };
  return { ok: true, metrics, failures, keepAliveRequests: num(stdout, /^Keep-Alive requests:\s+(\d+)/m) ?? 0, stoppedEarly: undefined };
}
