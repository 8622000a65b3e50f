import { describe, expect, it } from "vitest";
import { evaluate, evaluateExpectation, parseExpression, readExpectation, typeCheck } from "../../src/expect/index.js";
import type { Dimension, Expectation, Expr } from "../../src/expect/index.js";

function parse(text: string): Expr {
  const r = parseExpression(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.expr;
}

const saved = { baseline: { "latency.p95": 0.9, "latency.p50": 10, requestsPerSecond: 200 } };
const lookup = (ref: Extract<Expr, { kind: "ref" }>) => saved[ref.result as "baseline"]?.[ref.metric as "latency.p95"];
const value = (text: string): number => {
  const r = evaluate(parse(text), lookup);
  if (!r.ok) throw new Error(r.missing);
  return r.value;
};

describe("expressions", () => {
  it("numbers, durations and precedence", () => {
    expect(value("1 + 2 * 3")).toBe(7);
    expect(value("(1 + 2) * 3")).toBe(9);
    expect(value("10 - 4 - 3")).toBe(3);
    expect(value("8 / 4 / 2")).toBe(1);
    expect(value("-2 * 3")).toBe(-6);
    expect(value("1.5s + 90ms")).toBe(1590);
    expect(value("2m")).toBe(120_000);
    expect(value("250us")).toBeCloseTo(0.25);
  });
  it("saved results", () => {
    expect(value("baseline.latency.p95 * 1.5")).toBeCloseTo(1.35);
    expect(value("baseline.latency.p50 + 90ms")).toBe(100);
    expect(value("baseline.requestsPerSecond / 100")).toBe(2);
    expect(evaluate(parse("other.latency.p95"), lookup)).toEqual({ ok: false, missing: "other.latency.p95" });
  });
  it("syntax errors with offsets", () => {
    const bad = (text: string) => {
      const r = parseExpression(text);
      return r.ok ? undefined : { message: r.error.message, start: r.error.start };
    };
    expect(bad("1 +")).toEqual({ message: "expected a value, found the end of the expression", start: 3 });
    expect(bad("baseline.p95 + * 2")).toMatchObject({ start: 15 });
    expect(bad("(1 + 2")).toMatchObject({ message: "missing `)`" });
    expect(bad("10 parsecs")).toMatchObject({ start: 3 });
    expect(bad("10xs")).toMatchObject({ message: "unknown unit `xs` (use ms, s, m or h)", start: 2 });
    expect(bad("baseline")?.message).toContain("NAME.METRIC");
    expect(bad("1; rm -rf /")).toMatchObject({ message: "unexpected character `;`", start: 1 });
    expect(bad(`${"(".repeat(100)}1${")".repeat(100)}`)?.message).toContain("nested deeper");
    expect(bad(`${"1+".repeat(400)}1`)?.message).toContain("longer than");
  });
  it("type-checks units", () => {
    const dims: Record<string, Dimension> = { "latency.p95": "duration", requestsPerSecond: "number" };
    const check = (text: string) => typeCheck(parse(text), (ref) => dims[ref.metric]);
    expect(check("baseline.latency.p95 * 1.5").dimension).toBe("duration");
    expect(check("baseline.latency.p95 + 90ms").dimension).toBe("duration");
    expect(check("baseline.latency.p95 / baseline.latency.p95").dimension).toBe("number");
    expect(check("baseline.requestsPerSecond / 2").dimension).toBe("number");
    expect(check("baseline.latency.p95 + 90").errors.map((e) => e.message)).toEqual(["cannot add a plain number to a duration"]);
    expect(check("90ms * 2ms").errors.map((e) => e.message)).toEqual(["cannot multiply a duration by a duration"]);
    expect(check("2 / 90ms").errors.map((e) => e.message)).toEqual(["cannot divide a plain number by a duration"]);
  });
});

function expectation(metric: string, raw: unknown): Expectation {
  const r = readExpectation(metric, raw, `/x/${metric}`);
  if (!r.ok) throw new Error("does not parse");
  return r.expectation;
}

describe("expectations", () => {
  const ctx = { dimension: "duration" as const, saved };
  it("resolve thresholds and describe them", () => {
    const o = evaluateExpectation(expectation("latency.p95", { below: "baseline.latency.p95 * 1.5" }), 1.2, ctx);
    expect(o).toMatchObject({ verdict: "pass", actual: 1.2, threshold: 1.35 });
    expect(o.thresholdText).toBe("< baseline.latency.p95 (0.9ms) × 1.5 = 1.35ms");
    expect(o.description).toBe("latency.p95 1.2ms < baseline.latency.p95 (0.9ms) × 1.5 = 1.35ms");
    expect(evaluateExpectation(expectation("latency.p95", { below: "baseline.latency.p95 * 1.5" }), 1.35, ctx).verdict).toBe("fail");
  });
  it("every operator", () => {
    const v = (raw: unknown, actual: number) => evaluateExpectation(expectation("latency.p50", raw), actual, ctx).verdict;
    expect([v({ above: "10ms" }, 11), v({ above: "10ms" }, 10)]).toEqual(["pass", "fail"]);
    expect([v({ atMost: "10ms" }, 10), v({ atMost: "10ms" }, 10.5)]).toEqual(["pass", "fail"]);
    expect([v({ atLeast: "baseline.latency.p50 + 90ms" }, 100), v({ atLeast: "baseline.latency.p50 + 90ms" }, 99)]).toEqual(["pass", "fail"]);
    expect([v({ within: ["95ms", "130ms"] }, 95), v({ within: ["95ms", "130ms"] }, 130), v({ within: ["95ms", "130ms"] }, 131)]).toEqual(["pass", "pass", "fail"]);
    expect([v({ equals: 0 }, 0), v(0, 0), v(0, 1)]).toEqual(["pass", "pass", "fail"]);
  });
  it("a bare scalar means equals", () => {
    const e = expectation("failedRequests", 0);
    expect(e.comparison.op).toBe("equals");
    expect(evaluateExpectation(e, 0, { dimension: "number", saved: {} }).description).toBe("failedRequests 0 = 0");
  });
  it("within shows both bounds", () => {
    const o = evaluateExpectation(expectation("latency.mean", { within: ["95ms", "baseline.latency.p50 + 120ms"] }), 100, ctx);
    expect(o.thresholdText).toBe("within [95ms, baseline.latency.p50 (10ms) + 120ms = 130ms]");
    expect(o.threshold).toEqual([95, 130]);
  });
  it("errors rather than guesses: missing results and values", () => {
    expect(evaluateExpectation(expectation("latency.p95", { below: "later.latency.p95" }), 1, ctx)).toMatchObject({ verdict: "error", reason: "saved result later.latency.p95 is missing" });
    expect(evaluateExpectation(expectation("latency.p95", { below: "50ms" }), undefined, ctx)).toMatchObject({ verdict: "error" });
    expect(evaluateExpectation(expectation("latency.p95", { below: "1ms / 0" }), 1, ctx)).toMatchObject({ verdict: "error" });
  });
});
