// Expectations: a metric compared with a threshold. Parsing from the scenario's YAML shape,
// and evaluation against measured metrics and saved results (pure: values in, verdict out).
import { describeExpression, evaluate, isLiteral, parseOperand } from "./expression.js";
import type { Expr, ExpressionError, RefLookup } from "./expression.js";
import { formatRatio, formatValue } from "./format.js";
import { aggregate as aggregateOf, type Aggregate, type Dimension } from "./metrics.js";

export const COMPARISON_OPERATORS = ["below", "above", "atMost", "atLeast", "equals"] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];
export const OPERATORS = [...COMPARISON_OPERATORS, "within"] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Operand {
  /** as written (a YAML number is shown as written by String()) */
  readonly text: string;
  readonly expr: Expr;
  /** JSON pointer of the operand in the scenario, for located diagnostics */
  readonly path: string;
}

export type Comparison = { readonly op: ComparisonOperator; readonly value: Operand } | { readonly op: "within"; readonly low: Operand; readonly high: Operand };

export interface Expectation {
  readonly metric: string;
  readonly comparison: Comparison;
  /** JSON pointer of the expectation (the metric's value node) */
  readonly path: string;
  /**
   * On a continuous probe's series: the share of samples (0..1) that must satisfy the
   * comparison (`samples: "90%"`); undefined: every sample must.
   */
  readonly samples?: { readonly share: number; readonly text: string } | undefined;
}

export function operandsOf(c: Comparison): readonly Operand[] {
  return c.op === "within" ? [c.low, c.high] : [c.value];
}

export interface OperandProblem {
  readonly path: string;
  readonly error: ExpressionError;
}

/**
 * Reads one `METRIC: VALUE` entry as written (already schema-valid): a bare number or string
 * means `equals`. Returns the expectation or the operands' parse errors.
 */
export function readExpectation(metric: string, raw: unknown, path: string): { ok: true; expectation: Expectation } | { ok: false; problems: OperandProblem[] } {
  const problems: OperandProblem[] = [];
  const operand = (value: unknown, at: string): Operand | undefined => {
    if (typeof value !== "number" && typeof value !== "string") return undefined;
    const parsed = parseOperand(value);
    if (!parsed.ok) {
      problems.push({ path: at, error: parsed.error });
      return undefined;
    }
    return { text: String(value), expr: parsed.expr, path: at };
  };
  let comparison: Comparison | undefined;
  let samples: Expectation["samples"];
  if (typeof raw === "number" || typeof raw === "string") {
    const value = operand(raw, path);
    if (value !== undefined) comparison = { op: "equals", value };
  } else if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const entries = Object.entries(raw).filter(([k]) => k !== "samples");
    const share = Object.keys(raw).includes("samples") ? (raw as Record<string, unknown>)["samples"] : undefined;
    if (share !== undefined) {
      const m = typeof share === "string" ? /^(100(?:\.0+)?|[0-9]{1,2}(?:\.[0-9]+)?)%$/.exec(share) : null;
      if (m?.[1] === undefined || typeof share !== "string") {
        problems.push({ path: `${path}/samples`, error: { message: '`samples` is a percentage of the samples, e.g. "90%"', start: 0, end: String(share).length } });
      } else samples = { share: Number(m[1]) / 100, text: share };
    }
    if (entries.length !== 1) {
      problems.push({
        path,
        error: {
          message: entries.length === 0 ? "a comparison is missing (below, above, atMost, atLeast, equals or within)" : "one comparison per metric (below, above, atMost, atLeast, equals or within)",
          start: 0,
          end: 0,
        },
      });
    }
    const [entry] = entries;
    if (entries.length === 1 && entry !== undefined) {
      const [op, v] = entry;
      const at = `${path}/${op}`;
      if (op === "within") {
        if (Array.isArray(v) && v.length === 2) {
          const low = operand(v[0], `${at}/0`);
          const high = operand(v[1], `${at}/1`);
          if (low !== undefined && high !== undefined) comparison = { op: "within", low, high };
        }
      } else if ((COMPARISON_OPERATORS as readonly string[]).includes(op)) {
        const value = operand(v, at);
        if (value !== undefined) comparison = { op: op as ComparisonOperator, value };
      }
    }
  }
  if (problems.length > 0 || comparison === undefined) return { ok: false, problems };
  return { ok: true, expectation: samples === undefined ? { metric, comparison, path } : { metric, comparison, path, samples } };
}

/** Saved results: name → metric → value (durations in ms). */
export type SavedResults = Readonly<Record<string, Readonly<Record<string, number>>>>;

export type Verdict = "pass" | "fail" | "error";

export interface ExpectationOutcome {
  readonly metric: string;
  readonly verdict: Verdict;
  /** measured value; undefined when the probe did not yield it */
  readonly actual: number | undefined;
  /** resolved threshold: one value, or [low, high] for within */
  readonly threshold: number | readonly [number, number] | undefined;
  /** e.g. `< baseline.latency.p95 (0.9ms) × 1.5 = 1.35ms` */
  readonly thresholdText: string;
  /** e.g. `latency.p95 1.2ms < baseline.latency.p95 (0.9ms) × 1.5 = 1.35ms` */
  readonly description: string;
  /** why the verdict is `error`, when it is */
  readonly reason: string | undefined;
  /** the metric's dimension (for formatting its value) */
  readonly dimension?: Dimension | undefined;
  /** on a series: how many samples there were, and how many satisfied the comparison (when each sample is judged) */
  readonly samples?: { readonly total: number; readonly passed: number | undefined } | undefined;
}

const SYMBOL: Readonly<Record<ComparisonOperator, string>> = { below: "<", above: ">", atMost: "≤", atLeast: "≥", equals: "=" };

export interface EvaluationContext {
  /** the dimension of the metric under test */
  readonly dimension: Dimension;
  readonly saved: SavedResults;
  /** dimension of a saved result's metric (for formatting); default: same as the metric under test */
  readonly dimensionOf?: (result: string, metric: string) => Dimension;
}

/** Evaluates an expectation against a measured value (pure). */
export function evaluateExpectation(exp: Expectation, actual: number | undefined, ctx: EvaluationContext): ExpectationOutcome {
  const lookup: RefLookup = (ref) => ctx.saved[ref.result]?.[ref.metric];
  const refDim = (ref: Extract<Expr, { kind: "ref" }>): Dimension => ctx.dimensionOf?.(ref.result, ref.metric) ?? ctx.dimension;
  const fmt = (v: number): string => formatValue(v, ctx.dimension);
  const resolve = (o: Operand): { value: number | undefined; text: string; missing: string | undefined } => {
    const r = evaluate(o.expr, lookup);
    if (!r.ok) return { value: undefined, text: describeExpression(o.expr, lookup, refDim), missing: r.missing };
    const text = isLiteral(o.expr) ? fmt(r.value) : `${describeExpression(o.expr, lookup, refDim)} = ${fmt(r.value)}`;
    return { value: r.value, text, missing: undefined };
  };
  const actualText = actual === undefined ? "(no value)" : fmt(actual);
  const finish = (verdict: Verdict, threshold: ExpectationOutcome["threshold"], thresholdText: string, reason: string | undefined): ExpectationOutcome => ({
    metric: exp.metric,
    verdict,
    actual,
    threshold,
    thresholdText,
    description: `${exp.metric} ${actualText} ${thresholdText}`,
    reason,
    dimension: ctx.dimension,
  });

  const c = exp.comparison;
  if (c.op === "within") {
    const lo = resolve(c.low);
    const hi = resolve(c.high);
    const text = `within [${lo.text}, ${hi.text}]`;
    if (lo.value === undefined || hi.value === undefined) {
      return finish("error", undefined, text, `saved result ${lo.missing ?? hi.missing ?? "?"} is missing`);
    }
    if (!Number.isFinite(lo.value) || !Number.isFinite(hi.value)) return finish("error", [lo.value, hi.value], text, "the threshold is not a finite number");
    if (actual === undefined) return finish("error", [lo.value, hi.value], text, `the probe yielded no ${exp.metric}`);
    return finish(actual >= lo.value && actual <= hi.value ? "pass" : "fail", [lo.value, hi.value], text, undefined);
  }
  const t = resolve(c.value);
  const text = `${SYMBOL[c.op]} ${t.text}`;
  if (t.value === undefined) return finish("error", undefined, text, `saved result ${t.missing ?? "?"} is missing`);
  if (!Number.isFinite(t.value)) return finish("error", t.value, text, "the threshold is not a finite number");
  if (actual === undefined) return finish("error", t.value, text, `the probe yielded no ${exp.metric}`);
  const ok = compare(c.op, actual, t.value);
  return finish(ok ? "pass" : "fail", t.value, text, undefined);
}

/** A series of one metric: its samples' values (undefined where a sample yielded none). */
export interface SeriesInput {
  readonly values: readonly (number | undefined)[];
  /** `max` in `latency.p95.max`: the expectation is on this aggregate of the series */
  readonly aggregate: Aggregate | undefined;
  /** why samples yielded no value (the first reason), for the verdict's reason */
  readonly noValueReason?: string | undefined;
}

/** The sample that judges a comparison worst: the largest against an upper bound, the smallest against a lower one. */
function worstOf(c: Comparison, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (c.op) {
    case "below":
    case "atMost":
      return Math.max(...values);
    case "above":
    case "atLeast":
      return Math.min(...values);
    default:
      return values[values.length - 1];
  }
}

/**
 * Evaluates an expectation against a continuous probe's series (pure): on an aggregate of it
 * (`errorRatio.max`), or sample by sample, passing when at least the expectation's share of the
 * samples (`samples: "90%"`; default every one) satisfies the comparison.
 */
export function evaluateSeries(exp: Expectation, series: SeriesInput, ctx: EvaluationContext): ExpectationOutcome {
  const present = series.values.filter((v): v is number => v !== undefined);
  const total = series.values.length;
  const of = `of ${total} sample${total === 1 ? "" : "s"}`;
  if (series.aggregate !== undefined) {
    const value = aggregateOf(present, series.aggregate);
    const o = evaluateExpectation(exp, value, ctx);
    const reason = o.verdict === "error" && value === undefined ? `no sample yielded a value${series.noValueReason !== undefined ? `: ${series.noValueReason}` : ""}` : o.reason;
    return { ...o, description: `${o.description} (${series.aggregate} ${of})`, reason, samples: { total, passed: undefined } };
  }
  const share = exp.samples?.share ?? 1;
  const needed = exp.samples !== undefined ? ` (needs ${exp.samples.text})` : "";
  const verdicts = series.values.map((v) => evaluateExpectation(exp, v, ctx));
  const judged = verdicts.filter((v) => v.verdict !== "error");
  const passed = verdicts.filter((v) => v.verdict === "pass").length;
  const worst = worstOf(exp.comparison, present);
  const head = verdicts[0];
  const thresholdText = head?.thresholdText ?? "";
  const threshold = head?.threshold;
  const worstText = worst === undefined ? "" : `, worst ${formatValue(worst, ctx.dimension)}`;
  const actualText = `${passed} ${of} (${formatRatio(total === 0 ? 0 : passed / total)})${worstText}`;
  const base = { metric: exp.metric, threshold, thresholdText, dimension: ctx.dimension, samples: { total, passed } };
  // a threshold that cannot be resolved (a missing saved result) is the same error for every sample
  const thresholdError = head?.verdict === "error" && head.threshold === undefined ? head.reason : undefined;
  if (total === 0 || judged.length === 0 || thresholdError !== undefined) {
    const reason = thresholdError ?? (total === 0 ? "the series has no samples" : `no sample yielded ${exp.metric}${series.noValueReason !== undefined ? `: ${series.noValueReason}` : ""}`);
    return { ...base, verdict: "error", actual: undefined, description: `${exp.metric} ${thresholdText} in ${actualText}${needed}`, reason };
  }
  const verdict: Verdict = passed / total >= share - 1e-9 ? "pass" : "fail";
  return { ...base, verdict, actual: worst, description: `${exp.metric} ${thresholdText} in ${actualText}${needed}`, reason: undefined };
}

function compare(op: ComparisonOperator, actual: number, threshold: number): boolean {
  switch (op) {
    case "below":
      return actual < threshold;
    case "above":
      return actual > threshold;
    case "atMost":
      return actual <= threshold;
    case "atLeast":
      return actual >= threshold;
    case "equals":
      return actual === threshold;
  }
}

/** The expectation as written, for plans: `latency.p95 below baseline.latency.p95 * 1.5`. */
export function expectationText(exp: Expectation): string {
  const c = exp.comparison;
  const samples = exp.samples !== undefined ? ` in ${exp.samples.text} of samples` : "";
  if (c.op === "within") return `${exp.metric} within [${c.low.text}, ${c.high.text}]${samples}`;
  return `${exp.metric} ${c.op} ${c.value.text}${samples}`;
}
