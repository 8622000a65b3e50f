// The prometheus probe: an instant query's answer → metrics (PROBE_METRICS.prometheus). Pure.
// The server's own error (bad_data, timeout, execution) and an answer that is not one value
// are the probe's errors, said in Prometheus' words; no series is measured (no value).
import type { PrometheusUnit } from "../scenario/types.js";

export type PrometheusParse = { readonly ok: true; readonly metrics: Record<string, number | undefined>; readonly detail: string } | { readonly ok: false; readonly error: string };

/** The query URL: BASE/api/v1/query?query=… (a trailing slash on the base is dropped). */
export function queryUrl(base: string, query: string): string {
  return `${base.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`;
}

/** A value in the unit chaos-run compares in: durations in ms, ratios 0..1. */
export function inUnit(value: number, unit: PrometheusUnit): number {
  switch (unit) {
    case "seconds":
      return value * 1000;
    case "percent":
      return value / 100;
    default:
      return value;
  }
}

function sampleValue(v: unknown): number | undefined | "bad" {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== "string") return "bad";
  const n = Number(v[1]);
  return Number.isFinite(n) ? n : undefined;
}

export function parsePrometheus(httpStatus: number, body: string, unit: PrometheusUnit): PrometheusParse {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { ok: false, error: `the server answered HTTP ${httpStatus} with something that is not Prometheus' JSON: ${body.trim().slice(0, 120)}` };
  }
  const d = doc as { status?: unknown; errorType?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (d.status === "error") return { ok: false, error: `query error (${String(d.errorType ?? "error")}): ${String(d.error ?? "")}` };
  if (d.status !== "success" || typeof d.data !== "object" || d.data === null) return { ok: false, error: `HTTP ${httpStatus}: not an answer of Prometheus' query API` };
  const type = d.data.resultType;
  const result = d.data.result;
  if (type === "scalar") {
    const v = sampleValue(result);
    if (v === "bad") return { ok: false, error: "a scalar answer without a value" };
    return { ok: true, metrics: { value: v === undefined ? undefined : inUnit(v, unit), series: 1 }, detail: v === undefined ? "scalar NaN" : `scalar ${v}` };
  }
  if (type !== "vector") return { ok: false, error: `the query returned a ${String(type)}: an instant query of one series (or a scalar) is needed` };
  if (!Array.isArray(result)) return { ok: false, error: "a vector answer without a result" };
  if (result.length === 0) return { ok: true, metrics: { value: undefined, series: 0 }, detail: "no series (the query matched nothing)" };
  if (result.length > 1) {
    const labels = (result as { metric?: Record<string, string> }[]).slice(0, 3).map((r) => JSON.stringify(r.metric ?? {}));
    return { ok: false, error: `the query returned ${result.length} series (${labels.join(", ")}${result.length > 3 ? ", …" : ""}): aggregate them to one, e.g. sum(…) or max(…)` };
  }
  const v = sampleValue((result[0] as { value?: unknown }).value);
  if (v === "bad") return { ok: false, error: "a series without a value" };
  return { ok: true, metrics: { value: v === undefined ? undefined : inUnit(v, unit), series: 1 }, detail: v === undefined ? "1 series, value NaN" : `1 series, value ${v}` };
}
