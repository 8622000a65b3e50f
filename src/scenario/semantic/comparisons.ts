// An expectation's comparison: reported where it cannot be read (at the span of its operand's
// text where the YAML holds it verbatim), and its operands typed — durations, plain numbers,
// ratios — against the metric and against the saved results they refer to (results.ts).
import { operandsOf } from "../../expect/expectation.js";
import type { Expectation, Operand, OperandProblem } from "../../expect/expectation.js";
import { typeCheck } from "../../expect/expression.js";
import type { Expr } from "../../expect/expression.js";
import type { Dimension } from "../../expect/metrics.js";
import { parsePointer, valueAt } from "../document.js";
import type { Located } from "../document.js";
import type { Findings } from "./findings.js";
import { referenceDimension } from "./results.js";
import type { Referable } from "./results.js";

const EXPRESSION_HINT = "an expression uses numbers, durations (90ms), percentages (5%), saved results (baseline.latency.p95), + - * / and parentheses";

/**
 * Reports why a comparison at `path` could not be read; `example`: one that reads. `samples`:
 * the `samples:` written beside it, where a share of samples is read (a probe run's expectation).
 */
export function reportUnread(findings: Findings, problems: readonly OperandProblem[], path: string, example: string, samples?: { readonly value: unknown }): void {
  for (const p of problems) {
    if (p.path === path && p.error.start === 0 && p.error.end === 0) findings.add("bad-comparison", { detail: p.error.message }, findings.locate(path), example);
    else if (samples !== undefined && p.path.endsWith("/samples")) findings.add("bad-percent", { value: String(samples.value) }, findings.locate(p.path), p.error.message);
    else findings.add("bad-expression", { detail: p.error.message }, exprSpan(findings, p.path, p.error.start, p.error.end), EXPRESSION_HINT);
  }
}

/** Types each operand of a comparison used at `stepIndex` (-1: steadyState) against the metric's dimension, when known. */
export function checkComparison(findings: Findings, exp: Expectation, metricDim: Dimension | undefined, stepIndex: number, known: Referable): void {
  for (const operand of operandsOf(exp.comparison)) {
    const typed = typeCheck(operand.expr, (ref) => referenceDimension(findings, ref, () => exprSpan(findings, operand.path, ref.start, ref.end), stepIndex, known));
    for (const err of typed.errors) {
      findings.add("unit-mismatch", { detail: err.message }, exprSpan(findings, operand.path, err.start, err.end), "durations carry units (90ms); scale them with plain numbers (* 1.5)");
    }
    // a ratio compared with a plain number from 0 to 1 (errorRatio: 0, below: 0.05) is what it says
    const plainShare = metricDim === "ratio" && typed.dimension === "number" && isShareLiteral(operand.expr);
    if (metricDim !== undefined && typed.dimension !== undefined && typed.dimension !== metricDim && !plainShare) {
      findings.add("unit-mismatch", { detail: mismatchText(exp.metric, metricDim, operand, typed.dimension) }, findings.locate(operand.path), mismatchHint(metricDim, operand));
    }
  }
}

/** The span of part of an operand's text, when the YAML source holds the text verbatim. */
function exprSpan(findings: Findings, path: string, start: number, end: number): Located {
  const at = findings.locate(path, "value");
  const raw = valueAt(findings.source.data, parsePointer(path));
  if (typeof raw !== "string") return at;
  const index = findings.source.text.slice(at.start, at.end).indexOf(raw);
  if (index < 0) return at;
  const s = at.start + index + start;
  return { path, start: s, end: Math.max(s + 1, at.start + index + end) };
}

function isShareLiteral(e: Expr): boolean {
  return e.kind === "number" && e.value >= 0 && e.value <= 1;
}

const DIM_TEXT: Readonly<Record<Dimension, string>> = { duration: "a duration", number: "a plain number", ratio: "a percentage" };

function mismatchText(metric: string, dim: Dimension, operand: Operand, operandDim: Dimension): string {
  return `${metric} is ${DIM_TEXT[dim]} but \`${operand.text}\` is ${DIM_TEXT[operandDim]}`;
}

function mismatchHint(dim: Dimension, operand: Operand): string {
  if (dim === "duration" && operand.expr.kind === "number") return `give it a unit: ${operand.text}ms`;
  if (dim === "duration") return "give the constants in it a unit (90ms)";
  if (dim === "ratio" && operand.expr.kind === "number") return `write it as a percentage: ${operand.text}%`;
  if (dim === "ratio") return "compare a ratio with a percentage (5%) or a plain number from 0 to 1";
  return "compare counts and rates with plain numbers";
}
