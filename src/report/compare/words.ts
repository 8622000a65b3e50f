// What every view of a comparison says the same way: where a row was measured, its values and
// its change, the rule that judged it (in brief, and whole), what was not compared, and the
// summary line. Plain text, not yet made safe for any output: each view sanitises it where it
// goes out (report/sanitise.ts), as the run's views do. Pure.
import { formatValue } from "../../expect/format.js";
import type { Comparison, ComparisonRow, Measure, Unmatched, Verdict } from "./comparison.js";
import { VERDICTS } from "./comparison.js";

/** What measured the row: the probe (and how: during the fault, its continuous samples) or the fault, on which pod. */
export function sourceText(r: ComparisonRow): string {
  const how = r.origin === "during" ? " (during the fault)" : r.origin === "monitor" ? " (continuous)" : r.origin === "derived" ? " (measured)" : "";
  const what = r.origin === "fault" ? `fault ${r.probe}` : `${r.probe}${how}`;
  if (r.pod === null) return what;
  return `${what} on ${r.newPod !== null && r.newPod !== r.pod ? `${r.pod} ↔ ${r.newPod}` : r.pod}`;
}

/**
 * A value as a table shows it: four significant digits (a median of 10,000 samples is not known
 * to the microsecond), whole counts as they are. The rules' words keep every digit.
 */
export function shortValue(v: number, dimension: ComparisonRow["dimension"]): string {
  if (dimension === "number" && Number.isInteger(v)) return formatValue(v, dimension);
  return formatValue(Number(v.toPrecision(4)), dimension);
}

/** What the scenario configured for a figure (the delay a fault was to add), in words after its name; "" when nothing. */
export function configuredText(r: ComparisonRow): string {
  return r.configured === null ? "" : ` (configured ${formatValue(r.configured, r.dimension)})`;
}

/** The metric's name, with what the scenario configured for it. */
export function metricText(r: ComparisonRow): string {
  return `${r.metric}${configuredText(r)}`;
}

/** A side's value (of samples, their median: the rule says how many), or that there was none. */
export function measureText(m: Measure, r: ComparisonRow): string {
  return m.value === null ? "no value" : shortValue(m.value, r.dimension);
}

const sign = (v: number): string => (v > 0 ? "+" : v < 0 ? "−" : "");

/** The change: new − base (for samples, the Hodges–Lehmann shift) and relative to base; a dash where a side has no value. */
export function changeText(r: ComparisonRow): string {
  if (r.change === null) return "—";
  if (r.change === 0) return "0";
  const rel = r.relativeChange === null ? "" : ` (${sign(r.relativeChange)}${shortValue(Math.abs(r.relativeChange), "ratio")})`;
  return `${sign(r.change)}${shortValue(Math.abs(r.change), r.dimension)}${rel}`;
}

/** The verdict as a word for a column: REGRESSED, improved, changed, within noise. */
export function verdictText(v: Verdict): string {
  return v === "regressed" ? "REGRESSED" : v;
}

/** Two significant digits: 0.00016, 0.029, 1.3e-30. */
const digits2 = (v: number): string => String(Number(v.toPrecision(2)));

const samples = (r: ComparisonRow): string => `${r.base.n} + ${r.new.n}`;

/** The rule that judged a row in a few words, for a table's column; its whole text is `rule.text`. */
export function ruleBrief(r: ComparisonRow): string {
  const rule = r.rule;
  switch (rule.kind) {
    case "rank-test":
      return `rank test ${samples(r)}: p ${digits2(rule.p)}, δ ${rule.cliffsDelta > 0 ? "+" : ""}${rule.cliffsDelta.toFixed(2)}`;
    case "noise-threshold": {
      const limit = rule.bound === "noise" ? "noise band" : `threshold ${formatValue(rule.threshold, "ratio")}`;
      return `${rule.fallback === null ? "" : `medians of ${samples(r)}: `}${limit}`;
    }
    case "proportion-test":
      return `Fisher ${rule.baseCount}/${rule.baseTotal} → ${rule.newCount}/${rule.newTotal}: p ${digits2(rule.p)}`;
    case "missing-value":
      return "a value in one run only";
  }
}

/** The rows in the order a reader wants them when the verdict comes first: regressed, improved, changed, within noise; each in the comparison's order. */
export function byVerdict(rows: readonly ComparisonRow[]): Map<Verdict, ComparisonRow[]> {
  const out = new Map<Verdict, ComparisonRow[]>(VERDICTS.map((v) => [v, []]));
  for (const r of rows) out.get(r.verdict)?.push(r);
  return out;
}

/** A row named in one line: where, what, which metric. */
export function rowName(r: ComparisonRow): string {
  return `${r.section}: ${sourceText(r)} ${metricText(r)}`;
}

/** What was not compared, and why, in one line: `step 4 rest (new run only): only the new run's plan has a step 4`. */
export function unmatchedText(u: Unmatched): string {
  const what = u.what === "step" ? u.section : `${u.section}, ${u.what}`;
  const side = u.side === "both" ? "" : ` (${u.side} run only)`;
  return `${what}${side}: ${u.reason.replace(/^not compared: /, "")}`;
}

/** The counts of each verdict, the zero ones left out: `16 regressed, 138 within noise`. */
export function countsText(c: Comparison): string {
  const parts = VERDICTS.filter((v) => c.counts[v] > 0).map((v) => `${c.counts[v]} ${v}`);
  return parts.length === 0 ? "no figure measured in both runs" : parts.join(", ");
}

/** The one-line verdict of a comparison: what it found, of which runs. */
export function summaryLine(c: Comparison): string {
  const word = c.regressed ? "REGRESSED" : "NO REGRESSION";
  const scenario = c.base.scenario === c.new.scenario ? c.base.scenario : `${c.base.scenario} → ${c.new.scenario}`;
  const unmatched = c.unmatched.length === 0 ? "" : `; ${c.unmatched.length} not compared`;
  return `${word} ${scenario}: ${countsText(c)} of ${c.rows.length} figure${c.rows.length === 1 ? "" : "s"}${unmatched} (base ${c.base.runId}, new ${c.new.runId}; exit ${c.regressed ? 1 : 0})`;
}

/** The settings in words: how a change had to be to count. */
export function settingsText(c: Comparison): string {
  const s = c.settings;
  const floor = s.minChangeMs > 0 ? `, and at least ${formatValue(s.minChangeMs, "duration")} for a duration` : "";
  return `threshold ${formatValue(s.threshold, "ratio")} of the base value${floor}; samples by the Mann–Whitney U test at α = ${s.alpha} with |Cliff's δ| ≥ ${s.minEffect}; counts of a total (errors of requests) by Fisher's exact test at the same α; single values against each run's own noise`;
}

/** One side of the comparison in words: which run, when, how it ended. */
export function runText(side: "base" | "new", c: Comparison): string {
  const r = c[side];
  return `${side}: run ${r.runId} of ${r.scenario}, started ${r.startedAt}, ${r.status}${r.exitCode === null ? "" : ` (exit ${r.exitCode})`}, ${r.file}`;
}
