// Expectations: a metric compared with a threshold. Parsing from the scenario's YAML shape,
// and evaluation against measured metrics and saved results (pure: values in, verdict out).
import { describeExpression, evaluate, isLiteral, parseOperand } from "./expression.js";
import type { Expr, ExpressionError, RefLookup } from "./expression.js";
import { formatValue } from "./format.js";
import type { Dimension } from "./metrics.js";

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

export type Comparison =
  | { readonly op: ComparisonOperator; readonly value: Operand }
  | { readonly op: "within"; readonly low: Operand; readonly high: Operand };

export interface Expectation {
  readonly metric: string;
  readonly comparison: Comparison;
  /** JSON pointer of the expectation (the metric's value node) */
  readonly path: string;
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
export function readExpectation(
  metric: string,
  raw: unknown,
  path: string,
): { ok: true; expectation: Expectation } | { ok: false; problems: OperandProblem[] } {
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
  if (typeof raw === "number" || typeof raw === "string") {
    const value = operand(raw, path);
    if (value !== undefined) comparison = { op: "equals", value };
  } else if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const entries = Object.entries(raw);
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
  return { ok: true, expectation: { metric, comparison, path } };
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
  const finish = (
    verdict: Verdict,
    threshold: ExpectationOutcome["threshold"],
    thresholdText: string,
    reason: string | undefined,
  ): ExpectationOutcome => ({
    metric: exp.metric,
    verdict,
    actual,
    threshold,
    thresholdText,
    description: `${exp.metric} ${actualText} ${thresholdText}`,
    reason,
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
  if (c.op === "within") return `${exp.metric} within [${c.low.text}, ${c.high.text}]`;
  return `${exp.metric} ${c.op} ${c.value.text}`;
}
