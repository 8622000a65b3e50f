// The small, safe expression language of expectations: numbers, durations with units,
// percentages (`25%`), saved results (`baseline.latency.p95`), + - * /, unary minus and
// parentheses. A hand-written tokenizer and a precedence-climbing parser; no eval, no Function.
// Values are numbers, with a dimension: `duration` (milliseconds), `ratio` (0..1, written as a
// percentage) or `number`.
import type { Dimension } from "./metrics.js";
import { formatValue, trimNumber } from "./format.js";

export type BinaryOp = "+" | "-" | "*" | "/";

interface Span {
  /** offsets into the expression text */
  readonly start: number;
  readonly end: number;
}

export type Expr =
  | (Span & { readonly kind: "number"; readonly value: number })
  | (Span & { readonly kind: "duration"; readonly ms: number; readonly text: string })
  | (Span & { readonly kind: "percent"; readonly ratio: number; readonly text: string })
  | (Span & { readonly kind: "ref"; readonly result: string; readonly metric: string; readonly text: string })
  | (Span & { readonly kind: "neg"; readonly operand: Expr })
  | (Span & { readonly kind: "paren"; readonly inner: Expr })
  | (Span & { readonly kind: "binary"; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr });

export interface ExpressionError extends Span {
  readonly message: string;
}

export type ParseResult = { readonly ok: true; readonly expr: Expr } | { readonly ok: false; readonly error: ExpressionError };

/** Longest expression text accepted, and deepest nesting: keeps the parser's recursion bounded. */
export const MAX_EXPRESSION_LENGTH = 500;
export const MAX_DEPTH = 32;

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

type Token =
  | (Span & { kind: "number"; value: number; text: string })
  | (Span & { kind: "duration"; ms: number; text: string })
  | (Span & { kind: "percent"; ratio: number; text: string })
  | (Span & { kind: "ref"; text: string })
  | (Span & { kind: "op"; op: BinaryOp | "(" | ")" })
  | (Span & { kind: "end" });

class ExprSyntaxError extends Error {
  constructor(
    message: string,
    readonly start: number,
    readonly end: number,
  ) {
    super(message);
  }
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}
function isIdentStart(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_";
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === "." && isDigit(text.charAt(i + 1)))) {
      while (isDigit(text.charAt(i))) i++;
      if (text.charAt(i) === "." && isDigit(text.charAt(i + 1))) {
        i++;
        while (isDigit(text.charAt(i))) i++;
      }
      const numText = text.slice(start, i);
      const value = Number(numText);
      if (text.charAt(i) === "%") {
        i++;
        tokens.push({ kind: "percent", ratio: value / 100, text: text.slice(start, i), start, end: i });
        continue;
      }
      let unitEnd = i;
      while (isIdentPart(text.charAt(unitEnd))) unitEnd++;
      if (unitEnd > i) {
        const unit = text.slice(i, unitEnd);
        const factor = UNIT_MS[unit];
        if (factor === undefined) {
          throw new ExprSyntaxError(`unknown unit \`${unit}\` (use ms, s, m or h)`, i, unitEnd);
        }
        tokens.push({ kind: "duration", ms: value * factor, text: text.slice(start, unitEnd), start, end: unitEnd });
        i = unitEnd;
      } else {
        tokens.push({ kind: "number", value, text: numText, start, end: i });
      }
      continue;
    }
    if (isIdentStart(c)) {
      // a dotted name: segments of letters, digits and _ (p95 and 2xx-like segments allowed after a dot)
      while (isIdentPart(text.charAt(i))) i++;
      while (text.charAt(i) === "." && isIdentPart(text.charAt(i + 1))) {
        i++;
        while (isIdentPart(text.charAt(i))) i++;
      }
      tokens.push({ kind: "ref", text: text.slice(start, i), start, end: i });
      continue;
    }
    if (c === "+" || c === "-" || c === "*" || c === "/" || c === "(" || c === ")") {
      tokens.push({ kind: "op", op: c, start, end: i + 1 });
      i++;
      continue;
    }
    if (c === "×") {
      tokens.push({ kind: "op", op: "*", start, end: i + 1 });
      i++;
      continue;
    }
    throw new ExprSyntaxError(`unexpected character \`${c}\``, i, i + 1);
  }
  tokens.push({ kind: "end", start: text.length, end: text.length });
  return tokens;
}

const PRECEDENCE: Readonly<Record<BinaryOp, number>> = { "+": 1, "-": 1, "*": 2, "/": 2 };

class Parser {
  private pos = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  private peek(): Token {
    const t = this.tokens[this.pos];
    if (t === undefined) throw new ExprSyntaxError("unexpected end", 0, 0);
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== "end") this.pos++;
    return t;
  }

  parseAll(): Expr {
    const expr = this.parseBinary(1, 0);
    const t = this.peek();
    if (t.kind !== "end") throw new ExprSyntaxError(`unexpected \`${describe(t)}\` after a complete expression`, t.start, t.end);
    return expr;
  }

  /** precedence climbing: parses operators of precedence ≥ minPrec, left-associative */
  private parseBinary(minPrec: number, depth: number): Expr {
    let left = this.parseUnary(depth);
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || t.op === "(" || t.op === ")") return left;
      const prec = PRECEDENCE[t.op];
      if (prec < minPrec) return left;
      this.next();
      const right = this.parseBinary(prec + 1, depth);
      left = { kind: "binary", op: t.op, left, right, start: left.start, end: right.end };
    }
  }

  private parseUnary(depth: number): Expr {
    if (depth > MAX_DEPTH) {
      const t = this.peek();
      throw new ExprSyntaxError(`expression nested deeper than ${MAX_DEPTH}`, t.start, t.end);
    }
    const t = this.next();
    switch (t.kind) {
      case "number":
        return { kind: "number", value: t.value, start: t.start, end: t.end };
      case "duration":
        return { kind: "duration", ms: t.ms, text: t.text, start: t.start, end: t.end };
      case "percent":
        return { kind: "percent", ratio: t.ratio, text: t.text, start: t.start, end: t.end };
      case "ref": {
        const dot = t.text.indexOf(".");
        if (dot < 0) {
          throw new ExprSyntaxError(`\`${t.text}\` is not a value: refer to a saved result's metric as NAME.METRIC (e.g. \`${t.text}.latency.p95\`)`, t.start, t.end);
        }
        return { kind: "ref", result: t.text.slice(0, dot), metric: t.text.slice(dot + 1), text: t.text, start: t.start, end: t.end };
      }
      case "op":
        if (t.op === "-") {
          const operand = this.parseUnary(depth + 1);
          return { kind: "neg", operand, start: t.start, end: operand.end };
        }
        if (t.op === "(") {
          const inner = this.parseBinary(1, depth + 1);
          const close = this.next();
          if (close.kind !== "op" || close.op !== ")") {
            throw new ExprSyntaxError("missing `)`", close.start, close.end);
          }
          return { kind: "paren", inner, start: t.start, end: close.end };
        }
        throw new ExprSyntaxError(`expected a value, found \`${t.op}\``, t.start, t.end);
      case "end":
        throw new ExprSyntaxError("expected a value, found the end of the expression", t.start, t.end);
    }
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case "op":
      return t.op;
    case "end":
      return "end";
    default:
      return t.text;
  }
}

export function parseExpression(text: string): ParseResult {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, error: { message: `expression longer than ${MAX_EXPRESSION_LENGTH} characters`, start: 0, end: text.length } };
  }
  try {
    const tokens = tokenize(text);
    return { ok: true, expr: new Parser(tokens).parseAll() };
  } catch (e) {
    if (e instanceof ExprSyntaxError) return { ok: false, error: { message: e.message, start: e.start, end: e.end } };
    throw e;
  }
}

/** An operand as written in YAML: a number is a number; a string is an expression. */
export function parseOperand(value: number | string): ParseResult {
  if (typeof value === "number") {
    const text = String(value);
    return { ok: true, expr: { kind: "number", value, start: 0, end: text.length } };
  }
  return parseExpression(value);
}

/** Dimension of a reference, or undefined when the reference is itself wrong (reported by the caller). */
export type RefTyper = (ref: Extract<Expr, { kind: "ref" }>) => Dimension | undefined;

export interface TypeResult {
  /** undefined when unknown because of an error */
  readonly dimension: Dimension | undefined;
  readonly errors: readonly ExpressionError[];
}

function dimName(d: Dimension): string {
  return d === "duration" ? "a duration" : d === "ratio" ? "a percentage" : "a plain number";
}

/**
 * Checks units: + and - need equal dimensions; duration × duration, number ÷ duration and any
 * product or quotient that mixes a percentage with a duration are errors; a percentage scaled by
 * a plain number stays a percentage, and one percentage divided by another is a plain number.
 */
export function typeCheck(expr: Expr, refType: RefTyper): TypeResult {
  const errors: ExpressionError[] = [];
  const walk = (e: Expr): Dimension | undefined => {
    switch (e.kind) {
      case "number":
        return "number";
      case "duration":
        return "duration";
      case "percent":
        return "ratio";
      case "ref":
        return refType(e);
      case "neg":
        return walk(e.operand);
      case "paren":
        return walk(e.inner);
      case "binary": {
        const l = walk(e.left);
        const r = walk(e.right);
        if (l === undefined || r === undefined) return undefined;
        switch (e.op) {
          case "+":
          case "-":
            if (l !== r) {
              errors.push({
                message: `cannot ${e.op === "+" ? "add" : "subtract"} ${dimName(r)} ${e.op === "+" ? "to" : "from"} ${dimName(l)}`,
                start: e.start,
                end: e.end,
              });
              return undefined;
            }
            return l;
          case "*":
            if (l !== "number" && r !== "number") {
              errors.push({ message: `cannot multiply ${dimName(l)} by ${dimName(r)}`, start: e.start, end: e.end });
              return undefined;
            }
            return l === "number" ? r : l;
          case "/":
            if (l === r) return "number";
            if (r !== "number") {
              errors.push({ message: `cannot divide ${dimName(l)} by ${dimName(r)}`, start: e.start, end: e.end });
              return undefined;
            }
            return l;
        }
      }
    }
  };
  const dimension = walk(expr);
  return { dimension: errors.length > 0 ? undefined : dimension, errors };
}

/** A saved result's metric value (durations in ms), or undefined when missing. */
export type RefLookup = (ref: Extract<Expr, { kind: "ref" }>) => number | undefined;

export type EvalResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly missing: string };

export function evaluate(expr: Expr, lookup: RefLookup): EvalResult {
  let missing: string | undefined;
  const walk = (e: Expr): number => {
    switch (e.kind) {
      case "number":
        return e.value;
      case "duration":
        return e.ms;
      case "percent":
        return e.ratio;
      case "ref": {
        const v = lookup(e);
        if (v === undefined) {
          missing ??= e.text;
          return NaN;
        }
        return v;
      }
      case "neg":
        return -walk(e.operand);
      case "paren":
        return walk(e.inner);
      case "binary": {
        const l = walk(e.left);
        const r = walk(e.right);
        switch (e.op) {
          case "+":
            return l + r;
          case "-":
            return l - r;
          case "*":
            return l * r;
          case "/":
            return l / r;
        }
      }
    }
  };
  const value = walk(expr);
  if (missing !== undefined) return { ok: false, missing };
  return { ok: true, value };
}

/** Whether the expression is a single literal (then a threshold description shows just it). */
export function isLiteral(expr: Expr): boolean {
  return expr.kind === "number" || expr.kind === "duration" || expr.kind === "percent" || (expr.kind === "neg" && isLiteral(expr.operand));
}

const OP_SYMBOL: Readonly<Record<BinaryOp, string>> = { "+": "+", "-": "−", "*": "×", "/": "÷" };

/**
 * The expression for people, references shown with their values:
 * `baseline.latency.p95 * 1.5` → `1.5 × baseline.latency.p95 (0.9ms)` keeps the written order:
 * `baseline.latency.p95 (0.9ms) × 1.5`.
 */
export function describeExpression(expr: Expr, lookup: RefLookup, refDimension: (ref: Extract<Expr, { kind: "ref" }>) => Dimension): string {
  const walk = (e: Expr): string => {
    switch (e.kind) {
      case "number":
        return trimNumber(e.value);
      case "duration":
      case "percent":
        return e.text;
      case "ref": {
        const v = lookup(e);
        return v === undefined ? `${e.text} (missing)` : `${e.text} (${formatValue(v, refDimension(e))})`;
      }
      case "neg":
        return `-${walk(e.operand)}`;
      case "paren":
        return `(${walk(e.inner)})`;
      case "binary":
        return `${walk(e.left)} ${OP_SYMBOL[e.op]} ${walk(e.right)}`;
    }
  };
  return walk(expr);
}
