// The figures a run is remembered by — in its result's summary (chaos-run history) and as
// metrics (the Pushgateway) — read from its journal: the latency each fault added (the median
// during it against the one before, as the table's line says it), the time each pod took to
// recover from a kill or a deletion, and the share of requests that failed under each fault.
// In base units: seconds, and ratios from 0 to 1. Pure.
import type { Journal, JournalProbe } from "../report/journal.js";
import { faultEffects } from "../report/views.js";

export type FigureName = "added_latency_seconds" | "recovery_seconds" | "error_ratio";

export interface KeyFigure {
  readonly name: FigureName;
  /** 1-based, as the plan and the table number steps */
  readonly step: number;
  readonly stepName: string;
  readonly probe: string | null;
  readonly pod: string | null;
  readonly value: number;
}

/** Requests and the failed ones among them, of a probe run that counts them (ab, http). */
function requestCounts(p: JournalProbe): { requests: number; failed: number } | undefined {
  const m = p.metrics;
  if ((p.kind ?? "ab") === "ab") {
    const complete = m["completeRequests"];
    if (complete === undefined || complete === null || complete === 0) return undefined;
    return { requests: complete, failed: Math.min(complete, (m["failedRequests"] ?? 0) + (m["non2xxResponses"] ?? 0)) };
  }
  if (p.kind === "http") {
    const requests = m["requests"];
    if (requests === undefined || requests === null || requests === 0) return undefined;
    return { requests, failed: m["errors"] ?? 0 };
  }
  return undefined;
}

/** Per fault step and probe (and pod): the failed requests over all requests its runs during the fault made. */
function errorRatios(j: Journal): KeyFigure[] {
  const groups = new Map<string, { step: number; stepName: string; probe: string; pod: string | null; requests: number; failed: number }>();
  for (const p of j.probes) {
    if (p.phase !== "during" || p.step === null || p.aggregate || p.error !== undefined) continue;
    const counts = requestCounts(p);
    if (counts === undefined) continue;
    const key = `${p.step}|${p.probe}|${p.pod ?? ""}`;
    const g = groups.get(key) ?? { step: p.step, stepName: p.stepName, probe: p.probe, pod: p.pod, requests: 0, failed: 0 };
    g.requests += counts.requests;
    g.failed += counts.failed;
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ name: "error_ratio", step: g.step + 1, stepName: g.stepName, probe: g.probe, pod: g.pod, value: g.failed / g.requests }));
}

function recoveries(j: Journal): KeyFigure[] {
  return j.faults.flatMap((f) => {
    const ms = f.observed?.metrics["recovery.time"];
    return ms === undefined || ms === null ? [] : [{ name: "recovery_seconds" as const, step: f.step + 1, stepName: f.stepName, probe: null, pod: f.pod, value: ms / 1000 }];
  });
}

export function keyFigures(j: Journal): KeyFigure[] {
  const latency = faultEffects(j).map((e): KeyFigure => ({ name: "added_latency_seconds", step: e.step + 1, stepName: e.stepName, probe: e.probe, pod: e.pod, value: e.addedMs / 1000 }));
  return [...latency, ...recoveries(j), ...errorRatios(j)];
}

/** A figure in a few words, for a table cell: `s2 +100ms`, `s3 recovered 1.9s`, `s2 errors 20%`. */
export function figureWords(f: KeyFigure): string {
  const round = (v: number, digits: number): string => String(Math.round(v * 10 ** digits) / 10 ** digits);
  switch (f.name) {
    case "added_latency_seconds":
      return `s${f.step} ${f.value >= 0 ? "+" : "−"}${round(Math.abs(f.value) * 1000, 1)}ms`;
    case "recovery_seconds":
      return `s${f.step} recovered ${round(f.value, 1)}s`;
    case "error_ratio":
      return `s${f.step} errors ${round(f.value * 100, 1)}%`;
  }
}
