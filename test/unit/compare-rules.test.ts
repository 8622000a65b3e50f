// The verdict rules of `chaos-run compare` on seeded synthetic figures with known answers:
// identical distributions are not called a regression, a shift of three times the noise is, a
// tiny shift that 10,000 samples make "significant" is within noise; a single value passes only
// beyond both the runs' own noise and the threshold; a run with no value where the other has one.
import { describe, expect, it } from "vitest";
import { faultMeaning, probeMeaning } from "../../src/compare/directions.js";
import type { Figure } from "../../src/compare/figures.js";
import { judge } from "../../src/compare/judge.js";
import { DEFAULT_SETTINGS } from "../../src/compare/settings.js";
import { quantile, sorted } from "../../src/compare/stats.js";
import type { Settings } from "../../src/compare/types.js";
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

  it("the noise binds when the runs themselves vary more than the threshold", () => {
    const noisy = [60, 100, 140, 80, 120, 100];
    const r = judged([100], [140], { series: false, reference: noisy });
    expect(r.rule).toMatchObject({ kind: "noise-threshold", bound: "noise" });
    if (r.rule.kind !== "noise-threshold") return;
    expect(r.rule.noise).toBeCloseTo(quantile(sorted(noisy), 0.9) - quantile(sorted(noisy), 0.1), 12);
    expect(r.verdict).toBe("within noise");
    expect(judged([100], [200], { series: false, reference: noisy }).verdict).toBe("regressed");
    expect(judged([100], [119], { series: false, reference: [100] }).rule.text).toContain("no noise band: no run measured it undisturbed twice or more");
  });

  it("a threshold of 0 and no noise: any increase of an error ratio that was 0 is a regression", () => {
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
