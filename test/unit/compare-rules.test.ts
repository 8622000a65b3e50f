// The verdict rules of `chaos-run compare` on seeded synthetic figures with known answers:
// identical distributions are not called a regression, a shift of three times the noise is, a
// tiny shift that 10,000 samples make "significant" is within noise; a single value passes only
// beyond both the runs' own noise and the threshold; a run with no value where the other has one.
import { describe, expect, it } from "vitest";
import { faultMeaning, probeMeaning } from "../../src/compare/directions.js";
import type { Figure } from "../../src/compare/figures.js";
import { judge } from "../../src/compare/judge.js";
import { DEFAULT_SETTINGS } from "../../src/compare/settings.js";
import type { Settings } from "../../src/compare/types.js";
import { quantile, sorted } from "../../src/compare/stats.js";

/** s as noise.ts pools it: the 90th percentile of the distances from each run's median, as a normal's standard deviation. */
const p90Spread = (distances: readonly number[]): number => quantile(sorted(distances), 0.9) / 1.6448536269514722;
import { draw, normals } from "./compare-journals.js";

function figure(
  values: readonly number[],
  options: { metric?: string | undefined; series?: boolean | undefined; origin?: Figure["origin"]; probe?: string; reference?: readonly number[] | undefined } = {},
): Figure {
  const metric = options.metric ?? "latency.p50";
  const origin = options.origin ?? "during";
  return {
    origin,
    basis: origin,
    probe: options.probe ?? "api",
    pod: "web",
    podKey: "web",
    metric,
    dimension: "duration",
    meaning: origin === "fault" ? faultMeaning(options.probe ?? "kill", metric) : probeMeaning(metric),
    values: [...values],
    nulls: 0,
    series: options.series ?? true,
    configured: null,
    reference: { values: [...(options.reference ?? [])] },
  };
}

function judged(base: readonly number[], next: readonly number[], more: { reference?: readonly number[]; settings?: Settings; metric?: string; series?: boolean } = {}) {
  const o = { metric: more.metric, series: more.series, reference: more.reference };
  return judge({ base: figure(base, o), new: figure(next, o), settings: more.settings ?? DEFAULT_SETTINGS });
}

describe("the samples rule on seeded synthetic series", () => {
  it("identical distributions: no regression at α = 0.01 in at least 99 of 100 trials, normal and tied alike", () => {
    let normal = 0;
    let tied = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const g = normals(seed);
      const a = draw(30, () => g(100, 10));
      const b = draw(30, () => g(100, 10));
      if (judged(a, b).verdict === "regressed") normal++;
      // whole milliseconds, as a coarse clock gives: ties everywhere
      const c = draw(40, () => Math.round(g(5, 1.5)));
      const d = draw(40, () => Math.round(g(5, 1.5)));
      if (judged(c, d).verdict === "regressed") tied++;
    }
    expect(normal).toBeLessThanOrEqual(1);
    expect(tied).toBeLessThanOrEqual(1);
  });

  it("a shift of 3× the noise: found in at least 99 of 100 trials, named by the rank test", () => {
    let found = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const g = normals(500 + seed);
      const r = judged(
        draw(20, () => g(100, 10)),
        draw(20, () => g(130, 10)),
      );
      if (r.verdict === "regressed" && r.rule.kind === "rank-test" && r.rule.significant && r.rule.practical) found++;
    }
    expect(found).toBeGreaterThanOrEqual(99);
  });

  it("the same shift the other way is an improvement; on a metric with no better direction, a change", () => {
    const g = normals(77);
    const slow = draw(20, () => g(130, 10));
    const fast = draw(20, () => g(100, 10));
    expect(judged(slow, fast).verdict).toBe("improved");
    expect(judged(fast, slow, { metric: "requestsPerSecond" }).verdict).toBe("improved");
    expect(judged(fast, slow, { metric: "value" }).verdict).toBe("changed");
  });

  it("a tiny shift over 10,000 samples is significant but within noise: the effect is too small to matter", () => {
    const g = normals(3);
    const r = judged(
      draw(10_000, () => g(100, 10)),
      draw(10_000, () => g(101, 10)),
    );
    if (r.rule.kind !== "rank-test") throw new Error(`judged by ${r.rule.kind}`);
    expect(r.rule.significant).toBe(true);
    expect(Math.abs(r.rule.cliffsDelta)).toBeLessThan(0.1);
    expect(r.rule.practical).toBe(false);
    expect(r.verdict).toBe("within noise");
    expect(r.change).toBeGreaterThan(0.5);
    expect(r.change).toBeLessThan(1.5);
  });

  it("samples too few for the rank test to reach α are judged as single values, and the rule says so", () => {
    const r = judged([100, 104, 98], [205, 210, 199]);
    expect(r.rule.kind).toBe("noise-threshold");
    if (r.rule.kind !== "noise-threshold") return;
    expect(r.rule.fallback).toContain("3 + 3 samples: the rank test cannot reach p < 0.01 (its smallest p is 0.1)");
    expect(r.verdict).toBe("regressed");
    expect(r.base.value).toBe(100);
    expect(r.new.value).toBe(205);
  });
});

describe("the single-value rule: the runs' own noise and the threshold", () => {
  it("the threshold binds when the runs are quiet: +19% is within, +21% regressed", () => {
    const quiet = [10, 10.5, 9.8, 10.2];
    expect(judged([100], [119], { series: false, reference: quiet }).verdict).toBe("within noise");
    const r = judged([100], [121], { series: false, reference: quiet });
    expect(r.verdict).toBe("regressed");
    expect(r.rule).toMatchObject({ kind: "noise-threshold", bound: "threshold", thresholdValue: 20 });
    expect(r.rule.text).toContain("change +21ms beyond 20% of the base value (20ms), the larger of it and the noise band");
    expect(r.relativeChange).toBeCloseTo(0.21, 12);
  });

  it("the noise binds when the runs themselves vary more than the threshold: z·√2·s on the logarithm, a factor of the base value", () => {
    const noisy = [60, 100, 140, 80, 120, 100];
    // on ln: each value's distance from its run's median ln 100 is 0.51, 0, 0.34, 0.22, 0.18, 0 (twice,
    // a run each); their 90th percentile / Φ⁻¹(0.95) is s; z at α = 0.01 two-sided
    const s = p90Spread([60, 100, 140, 80, 120, 100, 60, 100, 140, 80, 120, 100].map((v) => Math.abs(Math.log(v / 100))));
    const factor = Math.exp(2.5758293035489 * Math.SQRT2 * s);
    expect(factor).toBeCloseTo(2.98, 2);
    const r = judged([100], [140], { series: false, reference: noisy });
    expect(r.rule).toMatchObject({ kind: "noise-threshold", bound: "noise" });
    if (r.rule.kind !== "noise-threshold") return;
    expect(r.rule.noise).toBeCloseTo(100 * (factor - 1), 4);
    expect(r.verdict).toBe("within noise");
    // doubling is within what these runs do undisturbed; ×3.2 is not
    expect(judged([100], [200], { series: false, reference: noisy }).verdict).toBe("within noise");
    expect(judged([100], [320], { series: false, reference: noisy }).verdict).toBe("regressed");
    // downwards the band is the same factor: 100 / 2.989 = 33.5
    expect(judged([100], [40], { series: false, reference: noisy }).verdict).toBe("within noise");
    expect(judged([100], [30], { series: false, reference: noisy }).verdict).toBe("improved");
    expect(judged([100], [119], { series: false, reference: [100] }).rule.text).toContain("no noise band: no run measured it undisturbed twice or more");
  });

  it("two identical runs whose before and after differ by 30%: within noise (the 80% band of two values called it regressed)", () => {
    // the compare-noise bench's shape: sub-millisecond ab percentiles, one before and one after a run
    const base = figure([0.24], { series: false, reference: [0.2, 0.26] });
    const same = figure([0.3], { series: false, reference: [0.21, 0.27] });
    const r = judge({ base, new: same, settings: DEFAULT_SETTINGS });
    expect(r.verdict).toBe("within noise");
    if (r.rule.kind !== "noise-threshold") throw new Error(r.rule.kind);
    // each run's two values lie half their ln-distance from its median: s from the 90th percentile of those halves
    const s = p90Spread([Math.log(0.26 / 0.2) / 2, Math.log(0.26 / 0.2) / 2, Math.log(0.27 / 0.21) / 2, Math.log(0.27 / 0.21) / 2]);
    expect(r.rule.noise).toBeCloseTo(0.24 * (Math.exp(2.5758293035489 * Math.SQRT2 * s) - 1), 6);
    expect(r.rule.text).toContain("the pooled spread of the logarithm of api latency.p50 measured undisturbed, 2 in base, 2 in new");
    const slower = figure([0.6], { series: false, reference: [0.21, 0.27] });
    expect(judge({ base, new: slower, settings: DEFAULT_SETTINGS }).verdict).toBe("regressed");
  });

  it("one hiccup among the undisturbed samples does not widen the band: the spread is pooled robustly", () => {
    const steady = [20, 21, 20.5, 19.8, 20.2, 21.1, 20.4, 19.9, 20.6, 20.3, 20.8, 20.1, 200];
    expect(judged([20.4], [120], { series: false, reference: steady }).verdict).toBe("regressed");
    expect(judged([20.4], [21], { series: false, reference: steady }).verdict).toBe("within noise");
  });

  it("a value the probe never took undisturbed (under the fault) is judged on the linear scale: the references' factor is not its", () => {
    const quiet = [1, 2, 1.5, 1.2];
    const r = judged([100], [106], { series: false, reference: quiet });
    if (r.rule.kind !== "noise-threshold") throw new Error(r.rule.kind);
    // distances from the median 1.35: 0.35, 0.65, 0.15, 0.15 (twice): s from their 90th percentile
    expect(r.rule.noise).toBeCloseTo(2.5758293035489 * Math.SQRT2 * p90Spread([0.35, 0.65, 0.15, 0.15, 0.35, 0.65, 0.15, 0.15]), 6);
    expect(r.rule.text).toContain("its base value is outside the undisturbed values");
    expect(r.verdict).toBe("within noise");
    expect(judged([100], [121], { series: false, reference: quiet }).verdict).toBe("regressed");
  });

  it("a threshold of 0 and no noise: any increase of an error ratio that was 0 is a regression", () => {
    // (no total beside it: no proportion to test)
    expect(judged([0], [0.01], { series: false, metric: "errorRatio" }).verdict).toBe("regressed");
    expect(judged([0], [0], { series: false, metric: "errorRatio" }).verdict).toBe("within noise");
  });

  it("recovery.time: a run that did not recover (no value) regressed from one that did", () => {
    const recovered = figure([4200], { origin: "fault", probe: "kill", metric: "recovery.time", series: false });
    const never = figure([], { origin: "fault", probe: "kill", metric: "recovery.time", series: false });
    const s = DEFAULT_SETTINGS;
    const worse = judge({ base: recovered, new: never, settings: s });
    expect(worse).toMatchObject({ verdict: "regressed", rule: { kind: "missing-value" }, change: null, base: { value: 4200, n: 1 }, new: { value: null, n: 0 } });
    expect(judge({ base: never, new: recovered, settings: s }).verdict).toBe("improved");
    expect(judge({ base: never, new: never, settings: s }).verdict).toBe("within noise");
    const rate = figure([], { origin: "fault", probe: "http", metric: "errors.rate", series: false });
    expect(judge({ base: figure([0.5], { origin: "fault", probe: "http", metric: "errors.rate", series: false }), new: rate, settings: s }).verdict).toBe("changed");
  });
});

describe("counts out of a total: Fisher's exact test of the two proportions", () => {
  const counted = (count: number, total: number, metric = "failedRequests"): Figure => {
    const f = figure([count], { series: false, metric });
    f.counted = { of: { total: "completeRequests", ratio: metric === "errorRatio" }, total: figure([total], { series: false, metric: "completeRequests" }) };
    return f;
  };
  const judgedCounts = (b: [number, number], n: [number, number], metric?: string) => judge({ base: counted(...b, metric), new: counted(...n, metric), settings: DEFAULT_SETTINGS });

  it("0 of 100 then 1 of 100 is chance (p = 1), where the threshold called +∞% a regression", () => {
    const r = judgedCounts([0, 100], [1, 100]);
    expect(r.verdict).toBe("within noise");
    expect(r.rule).toMatchObject({ kind: "proportion-test", baseCount: 0, baseTotal: 100, newCount: 1, newTotal: 100, significant: false });
    if (r.rule.kind !== "proportion-test") return;
    expect(r.rule.p).toBeCloseTo(1, 12);
    expect(r.rule.text).toBe("0 of 100 (0%) → 1 of 100 (1%): Fisher's exact test p = 1 ≥ α = 0.01; the proportion moved 1 percentage points (≥ 20% of the base proportion, 0)");
    // 0 → 4 of 400, as the bench's identical runs gave under a 20% error fault: p = 0.124
    const four = judgedCounts([0, 400], [4, 400]);
    expect(four.verdict).toBe("within noise");
    if (four.rule.kind === "proportion-test") expect(four.rule.p).toBeCloseTo(0.12406, 4);
  });

  it("0 of 100 then 30 of 100 regressed; the other way round improved", () => {
    const r = judgedCounts([0, 100], [30, 100]);
    expect(r).toMatchObject({ verdict: "regressed", base: { value: 0 }, new: { value: 30 }, change: 30 });
    if (r.rule.kind === "proportion-test") expect(r.rule.p).toBeLessThan(1e-9);
    expect(judgedCounts([30, 100], [0, 100]).verdict).toBe("improved");
  });

  it("a significant move smaller than the threshold × the base proportion is within noise", () => {
    // 20.0% → 22.0% of 100,000: p ≈ 1e-28, but a move of 10% of the base proportion (< 20%)
    const r = judgedCounts([20_000, 100_000], [22_000, 100_000]);
    expect(r.rule).toMatchObject({ kind: "proportion-test", significant: true, practical: false });
    expect(r.verdict).toBe("within noise");
    expect(judgedCounts([20_000, 100_000], [25_000, 100_000]).verdict).toBe("regressed");
  });

  it("a ratio is turned back into its count (errorRatio × requests)", () => {
    const r = judgedCounts([0, 9], [1, 9], "errorRatio");
    expect(r.rule).toMatchObject({ kind: "proportion-test", baseCount: 0, newCount: 9, newTotal: 9 });
    expect(r.verdict).toBe("regressed");
  });

  it("no total beside it, or a count above its total: the single-value rule", () => {
    const lone = figure([0], { series: false, metric: "failedRequests" });
    expect(judge({ base: lone, new: figure([3], { series: false, metric: "failedRequests" }), settings: DEFAULT_SETTINGS }).rule.kind).toBe("noise-threshold");
    expect(judgedCounts([0, 10], [12, 10]).rule.kind).toBe("noise-threshold");
  });
});
