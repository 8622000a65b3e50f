// What the views draw over time, read from a journal alone: each probe's samples as points on
// the run's clock, the fault windows, the saved baselines. Pure.
import type { Dimension } from "../expect/metrics.js";
import type { Journal, JournalProbe } from "./journal.js";

/** A metric drawn for a probe kind: `latency.p95` for ab, http and grpc, `value` for k8s and prometheus … */
export interface PlottedMetric {
  readonly metric: string;
  readonly label: string;
  readonly dimension: Dimension;
}

export interface Chart {
  readonly title: string;
  readonly metrics: readonly PlottedMetric[];
}

interface PlanProbeJson {
  readonly probe?: string;
  readonly kind?: string;
  readonly spec?: unknown;
}

const kindOf = (p: JournalProbe): string => p.kind ?? "ab";

/** The charts of a probe, by its kind and what its samples hold. */
export function chartsFor(kind: string, samples: readonly JournalProbe[], valueDimension: Dimension): Chart[] {
  const has = (m: string): boolean => samples.some((p) => p.metrics[m] !== undefined && p.metrics[m] !== null);
  switch (kind) {
    case "ab":
    case "http":
    case "grpc": {
      const latency: Chart = {
        title: "latency",
        metrics: [
          { metric: "latency.p50", label: "p50", dimension: "duration" },
          { metric: "latency.p95", label: "p95", dimension: "duration" },
        ],
      };
      const errors: Chart = {
        title: "errors",
        metrics: [kind === "ab" ? { metric: "failedRatio", label: "failed ratio", dimension: "ratio" } : { metric: "errorRatio", label: "error ratio", dimension: "ratio" }],
      };
      return [latency, errors];
    }
    case "dns":
      return [
        {
          title: "latency",
          metrics: [
            { metric: "latency.p50", label: "p50", dimension: "duration" },
            { metric: "latency.p99", label: "p99", dimension: "duration" },
          ],
        },
        { title: "errors", metrics: [{ metric: "errorRatio", label: "error ratio", dimension: "ratio" }] },
      ];
    case "k8s": {
      const metrics: PlottedMetric[] = [];
      if (has("value")) metrics.push({ metric: "value", label: "value", dimension: "number" });
      if (has("conditionTrue")) metrics.push({ metric: "conditionTrue", label: "condition True", dimension: "number" });
      if (metrics.length === 0) metrics.push({ metric: "objects", label: "objects", dimension: "number" });
      return [{ title: "objects", metrics }];
    }
    case "prometheus":
      return [{ title: "query", metrics: [{ metric: "value", label: "value", dimension: valueDimension }] }];
    case "cmd":
      return [
        { title: "succeeded", metrics: [{ metric: "succeeded", label: "succeeded", dimension: "number" }] },
        { title: "duration", metrics: [{ metric: "duration", label: "duration", dimension: "duration" }] },
      ];
    default:
      return [];
  }
}

/**
 * The charts drawn for a probe of a run: those of its kind, but its errors only where there were
 * some or an expectation spoke of them (a flat 0% says nothing the table does not).
 */
export function probeCharts(j: Journal, probe: string, kind: string): Chart[] {
  const samples = samplesOf(j, probe);
  return chartsFor(kind, samples, valueDimensionOf(j, probe)).filter(
    (c) =>
      c.title !== "errors" ||
      samples.some((p) => (sampleValue(p, c.metrics[0]?.metric ?? "") ?? 0) > 0) ||
      j.expectations.some((e) => e.probe === probe && /^(errorRatio|errors|failedRequests|timeouts|refused)/.test(e.metric)),
  );
}

/** A metric of a sample, including ab's derived failed ratio. */
export function sampleValue(p: JournalProbe, metric: string): number | undefined {
  if (metric === "failedRatio") {
    const done = p.metrics["completeRequests"];
    const failed = p.metrics["failedRequests"];
    return done === undefined || done === null || done === 0 || failed === undefined || failed === null ? undefined : failed / done;
  }
  const v = p.metrics[metric];
  return v === null || v === undefined ? undefined : v;
}

/** The time a sample measured over, in ms since the run started: from its start to its end. */
export function sampleSpan(j: Journal, p: JournalProbe): { readonly startMs: number; readonly endMs: number } {
  const t0 = Date.parse(j.startedAt);
  const end = Date.parse(p.at);
  const start = p.startedAt !== undefined ? Date.parse(p.startedAt) : end - p.durationMs;
  return { startMs: start - t0, endMs: end - t0 };
}

/**
 * Where a sample sits on the run's clock, in ms since the run started: the middle of the time it
 * took (a sample of several requests measures all of that time; one that straddles a fault's
 * start sits on the side where most of it ran).
 */
export function sampleTime(j: Journal, p: JournalProbe): number {
  const { startMs, endMs } = sampleSpan(j, p);
  return (startMs + endMs) / 2;
}

/** A probe's samples to draw: the aggregate where the probe ran per pod, else each run. */
export function samplesOf(j: Journal, probe: string): JournalProbe[] {
  const all = j.probes.filter((p) => p.probe === probe);
  const perPod = all.some((p) => p.aggregate);
  return all.filter((p) => !perPod || p.aggregate || p.error !== undefined).sort((a, b) => sampleTime(j, a) - sampleTime(j, b));
}

export interface FaultWindow {
  readonly step: number;
  readonly label: string;
  /** the first apply's confirming reply */
  readonly startMs: number;
  /** the last revert's confirming reply (or where the fault was last known held) */
  readonly endMs: number;
  /**
   * when the first apply was sent, where the journal says (≤ startMs): between the two the fault
   * began in the kernel, an exec's round trip that may be seconds on a loaded node
   */
  readonly sentMs?: number | undefined;
  /** when the last revert was sent, where the journal says (≤ endMs): the fault ended between the two */
  readonly revertSentMs?: number | undefined;
  /** every pod's revert was confirmed */
  readonly reverted: boolean;
}

/** The least of the times given, as ms on the run's clock from t0; undefined when none is given. */
function earliest(times: readonly (string | undefined)[], t0: number): number | undefined {
  const ms = times.filter((t): t is string => t !== undefined).map((t) => Date.parse(t) - t0);
  return ms.length === 0 ? undefined : Math.min(...ms);
}

/**
 * Each fault step's window on the run's clock: from its first apply to its last revert, with the
 * times those requests were sent, where the journal says them (its uncertain edges).
 */
export function faultWindows(j: Journal): FaultWindow[] {
  const t0 = Date.parse(j.startedAt);
  const end = j.endedAt !== null ? Date.parse(j.endedAt) : Math.max(t0, ...j.probes.map((p) => Date.parse(p.at)));
  const steps = [...new Set(j.faults.map((f) => f.step))].sort((a, b) => a - b);
  const out: FaultWindow[] = [];
  for (const step of steps) {
    const fs = j.faults.filter((f) => f.step === step && f.appliedAt !== null);
    if (fs.length === 0) continue;
    const start = Math.min(...fs.map((f) => Date.parse(f.appliedAt ?? "")));
    const ends = fs.map((f) => (f.revertedAt !== null ? Date.parse(f.revertedAt) : f.heldUntil !== null ? Date.parse(f.heldUntil) : end));
    const first = fs[0];
    const endMs = Math.max(...ends) - t0;
    const sentMs = earliest(
      fs.map((f) => f.applyStartedAt),
      t0,
    );
    // the last revert sent: the fault may have lasted in some pod until the last reply, no longer
    const revertSent = fs.every((f) => f.revertedAt !== null && f.revertStartedAt !== undefined) ? Math.max(...fs.map((f) => Date.parse(f.revertStartedAt ?? "") - t0)) : undefined;
    out.push({
      step,
      label: `${step + 1}. ${first?.stepName ?? ""}: ${first?.summary ?? ""}`,
      startMs: start - t0,
      endMs,
      ...(sentMs !== undefined && sentMs < start - t0 ? { sentMs } : {}),
      ...(revertSent !== undefined && revertSent < endMs ? { revertSentMs: revertSent } : {}),
      reverted: fs.every((f) => f.revertConfirmed === true),
    });
  }
  return out;
}

/** The saved result of a probe, as a band of one metric: the least and the most it was while saved. */
export interface Band {
  readonly name: string;
  readonly low: number;
  readonly high: number;
}

export function baselineBand(j: Journal, probe: string, metrics: readonly string[]): Band | undefined {
  const saved = samplesOf(j, probe).filter((p) => p.save !== null);
  const name = saved[0]?.save;
  if (name === undefined || name === null) return undefined;
  const values = saved
    .filter((p) => p.save === name)
    .flatMap((p) => metrics.map((m) => sampleValue(p, m)))
    .filter((v): v is number => v !== undefined);
  if (values.length === 0) return undefined;
  return { name, low: Math.min(...values), high: Math.max(...values) };
}

/** The probes of a run in the order they first ran, with their kind. */
export function probesOf(j: Journal): { probe: string; kind: string }[] {
  const seen = new Map<string, string>();
  for (const p of j.probes) if (!seen.has(p.probe)) seen.set(p.probe, kindOf(p));
  return [...seen].map(([probe, kind]) => ({ probe, kind }));
}

/** A prometheus probe's declared unit, from the plan in the journal: its value's dimension. */
export function valueDimensionOf(j: Journal, probe: string): Dimension {
  const plan = j.plan as { steadyState?: PlanProbeJson[]; steps?: { run?: PlanProbeJson; during?: PlanProbeJson[] }[] } | null;
  const runs = [...(plan?.steadyState ?? []), ...(plan?.steps ?? []).flatMap((s) => [...(s.run !== undefined ? [s.run] : []), ...(s.during ?? [])])];
  const action = (runs.find((r) => r.probe === probe) as { action?: string } | undefined)?.action ?? "";
  if (/\((seconds|milliseconds)\)$/.test(action)) return "duration";
  if (/\((ratio|percent)\)$/.test(action)) return "ratio";
  return "number";
}

/** The main metric of a probe kind, for one-line views (sparklines). */
export function mainMetric(kind: string, samples: readonly JournalProbe[]): string {
  switch (kind) {
    case "ab":
    case "http":
    case "grpc":
      return "latency.p95";
    case "cmd":
      return "succeeded";
    case "dns":
      return "errorRatio";
    case "k8s":
      return samples.some((p) => sampleValue(p, "value") !== undefined) ? "value" : samples.some((p) => sampleValue(p, "conditionTrue") !== undefined) ? "conditionTrue" : "objects";
    default:
      return "value";
  }
}

const BARS = "▁▂▃▄▅▆▇█";

/** A sparkline of values; a missing value (a failed sample) is a space. */
export function sparkline(values: readonly (number | undefined)[]): string {
  const present = values.filter((v): v is number => v !== undefined);
  if (present.length === 0) return "";
  const lo = Math.min(...present);
  const hi = Math.max(...present);
  return values
    .map((v) => {
      if (v === undefined) return " ";
      if (hi === lo) return BARS[0];
      return BARS[Math.min(BARS.length - 1, Math.floor(((v - lo) / (hi - lo)) * BARS.length))];
    })
    .join("");
}
