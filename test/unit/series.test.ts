// Expectations over a continuous probe's series: percentages in the expression language, metric
// names with an aggregate suffix, each sample judged (or a share of them), the worst sample
// shown; and what validate says about them.
import { describe, expect, it } from "vitest";
import { evaluateSeries, readExpectation, type Expectation } from "../../src/expect/expectation.js";
import { evaluate, parseExpression, typeCheck } from "../../src/expect/expression.js";
import { formatValue } from "../../src/expect/format.js";
import { aggregate, metricsOf, resolveMetric } from "../../src/expect/metrics.js";
import { validateSource } from "../../src/scenario/load.js";
import { sparkline } from "../../src/report/series.js";

function exp(metric: string, raw: unknown): Expectation {
  const r = readExpectation(metric, raw, `/e/${metric}`);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.expectation;
}

const ctx = (dimension: "duration" | "ratio" | "number") => ({ dimension, saved: { baseline: { "latency.p95": 2 } } });

describe("percentages and ratios", () => {
  it("parses 25% as the ratio 0.25, typed as a percentage", () => {
    const p = parseExpression("25% * 2");
    if (!p.ok) throw new Error(p.error.message);
    expect(evaluate(p.expr, () => undefined)).toEqual({ ok: true, value: 0.5 });
    expect(typeCheck(p.expr, () => undefined).dimension).toBe("ratio");
    const bad = parseExpression("5% * 10ms");
    if (!bad.ok) throw new Error(bad.error.message);
    expect(typeCheck(bad.expr, () => undefined).errors.map((e) => e.message)).toEqual(["cannot multiply a percentage by a duration"]);
    expect(formatValue(0.125, "ratio")).toBe("12.5%");
  });
});

describe("metric names on a series", () => {
  it("takes the probe's own name first, then an aggregate suffix when the probe is continuous", () => {
    const ab = metricsOf("ab");
    expect(resolveMetric("ab", ab, "latency.max", true)).toMatchObject({ base: "latency.max", aggregate: undefined });
    expect(resolveMetric("ab", ab, "latency.max.max", true)).toMatchObject({ base: "latency.max", aggregate: "max" });
    expect(resolveMetric("ab", ab, "latency.p95.max", false)).toBeUndefined();
    expect(resolveMetric("http", metricsOf("http"), "status.503.last", true)).toMatchObject({ base: "status.503", aggregate: "last" });
    expect([aggregate([3, 1, 2], "median"), aggregate([3, 1, 2, 4], "median"), aggregate([1, 2, 6], "mean"), aggregate([], "max")]).toEqual([2, 2.5, 3, undefined]);
  });
});

describe("evaluateSeries", () => {
  it("judges every sample by default, and names the worst one", () => {
    const o = evaluateSeries(exp("latency.p95", { below: "50ms" }), { values: [10, 12, 80, 11], aggregate: undefined }, ctx("duration"));
    expect(o).toMatchObject({ verdict: "fail", actual: 80, samples: { total: 4, passed: 3 } });
    expect(o.description).toBe("latency.p95 < 50ms in 3 of 4 samples (75%), worst 80ms");
  });

  it("passes when the share given by `samples` held", () => {
    const o = evaluateSeries(exp("latency.p95", { below: "50ms", samples: "75%" }), { values: [10, 12, 80, 11], aggregate: undefined }, ctx("duration"));
    expect(o.verdict).toBe("pass");
    expect(o.description).toBe("latency.p95 < 50ms in 3 of 4 samples (75%), worst 80ms (needs 75%)");
    expect(evaluateSeries(exp("errorRatio", { atMost: "10%", samples: "90%" }), { values: [0, 0.5, 0, 0], aggregate: undefined }, ctx("ratio")).verdict).toBe("fail");
  });

  it("judges an aggregate as one value, with thresholds from saved results", () => {
    const o = evaluateSeries(exp("latency.p95.max", { below: "baseline.latency.p95 * 3" }), { values: [1, 5, 2], aggregate: "max" }, ctx("duration"));
    expect(o).toMatchObject({ verdict: "pass", actual: 5, threshold: 6 });
    expect(o.description).toBe("latency.p95.max 5ms < baseline.latency.p95 (2ms) × 3 = 6ms (max of 3 samples)");
  });

  it("counts a sample without a value against the share, and says why when none has one", () => {
    expect(evaluateSeries(exp("value", { atLeast: 3 }), { values: [3, undefined, 3, 3], aggregate: undefined }, ctx("number"))).toMatchObject({ verdict: "fail", samples: { total: 4, passed: 3 } });
    const none = evaluateSeries(
      exp("value.min", { atLeast: 3 }),
      { values: [undefined, undefined], aggregate: "min", noValueReason: "Prometheus at http://x did not answer: connection refused" },
      ctx("number"),
    );
    expect(none).toMatchObject({ verdict: "error", reason: "no sample yielded a value: Prometheus at http://x did not answer: connection refused" });
    expect(evaluateSeries(exp("value", 3), { values: [], aggregate: undefined }, ctx("number"))).toMatchObject({ verdict: "error", reason: "the series has no samples" });
    expect(evaluateSeries(exp("latency.p95", { below: "missing.latency.p95" }), { values: [1], aggregate: undefined }, ctx("duration"))).toMatchObject({
      verdict: "error",
      reason: "saved result missing.latency.p95 is missing",
    });
  });

  it("draws a sparkline, a missing sample as a gap", () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7, undefined, 7])).toBe("▁▂▃▄▅▆▇█ █");
    expect(sparkline([2, 2])).toBe("▁▁");
  });
});

describe("validate: continuous probes and the new kinds", () => {
  const base = (probes: string, during: string): string => `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: t }
target: { selector: { app: web }, mode: all }
probes:
${probes}
steps:
  - name: f
    fault: { partition: {} }
    duration: 10s
    during:
${during}
`;
  const codes = (yaml: string): string[] => validateSource("t.yaml", yaml).diagnostics.map((d) => `${d.code}: ${d.message}`);

  it("refuses an aggregate or a share of samples without every:, and an interval below 200ms", () => {
    const probes = `  web: { http: { url: "http://{{ target.ip }}/" } }`;
    expect(codes(base(probes, `      - probe: web\n        expect: { errorRatio.max: 0 }`))).toEqual(["needs-every: the aggregate `errorRatio.max` needs a continuous probe (`every:`)"]);
    expect(codes(base(probes, `      - probe: web\n        expect: { errorRatio: { equals: 0, samples: 90% } }`))).toEqual(["needs-every: `samples` needs a continuous probe (`every:`)"]);
    expect(codes(base(probes, `      - probe: web\n        every: 100ms`))).toEqual(["out-of-range: 100ms is out of range: must be at least 200ms"]);
    expect(codes(base(probes, `      - probe: web\n        every: 1s\n        expect: { errorRatio.max: { below: 5% }, latency.p95: { below: 20ms, samples: 90% } }`))).toEqual([]);
  });

  it("checks units against a ratio: a percentage or a share from 0 to 1, never 25", () => {
    const probes = `  web: { http: { url: "http://{{ target.ip }}/" } }`;
    expect(codes(base(probes, `      - probe: web\n        expect: { errorRatio: { below: 25 } }`))).toEqual(["unit-mismatch: errorRatio is a percentage but `25` is a plain number"]);
    expect(codes(base(probes, `      - probe: web\n        expect: { errorRatio: { below: 0.25 }, errors: { below: 5% } }`))).toEqual([
      "unit-mismatch: errors is a plain number but `5%` is a percentage",
    ]);
  });

  it("checks a k8s probe's JSONPath and kind, a cmd probe's pattern, a prometheus probe's unit", () => {
    expect(codes(base(`  r: { k8s: { kind: Deployment, name: web, field: "status.x" } }`, `      - probe: r`))).toEqual([
      'bad-jsonpath: `status.x` is not a usable JSONPath: unexpected `s`: a path is made of .field, [N], [*] and [?(@.field=="value")]',
    ]);
    expect(codes(base(`  r: { k8s: { kind: Rollout, name: web } }`, `      - probe: r`))).toEqual(["missing-key: a k8s probe of kind Rollout needs `apiVersion`"]);
    expect(codes(base(`  c: { cmd: { pod: db, argv: [x], stdout: "(" } }`, `      - probe: c`))[0]).toMatch(/^bad-regex: `\(` is not a regular expression/);
    expect(codes(base(`  q: { prometheus: { url: "http://p:9090", query: up, unit: seconds } }`, `      - probe: q\n        expect: { value: { below: 2 } }`))).toEqual([
      "unit-mismatch: value is a duration but `2` is a plain number",
    ]);
    expect(codes(base(`  q: { prometheus: { url: "http://p:9090", query: up }, tools: { image: x } }`, `      - probe: q`))).toEqual([
      "conflicting-keys: `tools` cannot be used together with `prometheus`",
    ]);
    expect(codes(base(`  q: { prometheus: { url: "http://p:9090", query: up }, http: { url: "http://x/" } }`, `      - probe: q`))).toEqual([
      "conflicting-keys: `prometheus` cannot be used together with `http`",
    ]);
  });
});
