// The http probe's output → metrics (src/expect/metrics.ts, PROBE_METRICS.http). Pure.
//
// The probe runs curl in the chaos-tools pod (plan.ts curlArgv): one transfer per request, and
// for each a line `STATUS SECONDS EXIT MESSAGE` (--write-out). STATUS is 000 when no answer came;
// EXIT is curl's code for that request (7: could not connect, e.g. refused; 28: timed out).
// What the system under test does is measured — refused, timed out, 5xx — never an error; only
// a curl that could not run at all is.

import { latencyMetrics } from "./stats.js";

export interface RequestResult {
  /** the HTTP status, or undefined when no answer came */
  readonly status: number | undefined;
  readonly ms: number;
  /** curl's exit code for this request (0: a complete answer) */
  readonly exit: number;
  readonly message: string;
}

export type CurlParse = { readonly ok: true; readonly requests: readonly RequestResult[] } | { readonly ok: false; readonly error: string };

const LINE = /^(\d{3}) (\d+(?:\.\d+)?) (\d+)(?: (.*))?$/;

export function parseCurl(stdout: string, stderr: string, exitCode: number | undefined): CurlParse {
  const requests: RequestResult[] = [];
  for (const raw of stdout.split("\n")) {
    const m = LINE.exec(raw.trim());
    if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) continue;
    const code = Number(m[1]);
    requests.push({ status: code === 0 ? undefined : code, ms: Number(m[2]) * 1000, exit: Number(m[3]), message: (m[4] ?? "").trim() });
  }
  if (requests.length > 0) return { ok: true, requests };
  const why = stderr.trim().split("\n")[0];
  if (exitCode === 127) return { ok: false, error: "curl is not installed in the tools image" };
  return { ok: false, error: why !== undefined && why !== "" ? why : `curl exited ${exitCode ?? "abnormally"} without a result` };
}

/** curl's exit codes for no answer: 28 timed out, 7 could not connect (refused, unreachable). */
export const CURL_TIMEOUT = 28;
export const CURL_CONNECT = 7;

function accepted(status: number, expectStatus: readonly number[] | undefined): boolean {
  return expectStatus === undefined ? status >= 200 && status < 400 : expectStatus.includes(status);
}

/** Metrics of one run: counts by class and code, errors and their ratio, latency of the answered requests. */
export function httpMetrics(requests: readonly RequestResult[], expectStatus: readonly number[] | undefined): Record<string, number | undefined> {
  const answered = requests.filter((r) => r.status !== undefined && r.exit !== CURL_TIMEOUT);
  const ok = answered.filter((r) => r.status !== undefined && accepted(r.status, expectStatus)).length;
  const errors = requests.length - ok;
  const out: Record<string, number | undefined> = {
    requests: requests.length,
    responses: answered.length,
    errors,
    errorRatio: requests.length === 0 ? undefined : errors / requests.length,
    timeouts: requests.filter((r) => r.exit === CURL_TIMEOUT).length,
    refused: requests.filter((r) => r.exit === CURL_CONNECT).length,
    "status.1xx": 0,
    "status.2xx": 0,
    "status.3xx": 0,
    "status.4xx": 0,
    "status.5xx": 0,
  };
  for (const r of answered) {
    if (r.status === undefined) continue;
    const cls = `status.${Math.floor(r.status / 100)}xx`;
    out[cls] = (out[cls] ?? 0) + 1;
    out[`status.${r.status}`] = (out[`status.${r.status}`] ?? 0) + 1;
  }
  Object.assign(out, latencyMetrics(answered.map((r) => r.ms)));
  return out;
}

/** What the requests got, in words: `10 requests: 8 × 200, 2 × timed out (Operation timed out after 2000 ms …)`. */
export function httpDetail(requests: readonly RequestResult[]): string {
  const counts = new Map<string, number>();
  for (const r of requests) {
    const key = r.status !== undefined && r.exit !== CURL_TIMEOUT ? String(r.status) : r.exit === CURL_TIMEOUT ? "timed out" : r.exit === CURL_CONNECT ? "no connection" : `curl error ${r.exit}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const parts = [...counts].map(([k, n]) => `${n} × ${k}`);
  const firstError = requests.find((r) => r.message !== "")?.message;
  return `${requests.length} request${requests.length === 1 ? "" : "s"}: ${parts.join(", ")}${firstError !== undefined ? ` (${firstError})` : ""}`;
}
