// The statistics of `chaos-run compare` with known answers: the Mann–Whitney U test against a
// count made by hand and against scipy 1.17.1 (scipy.stats.mannwhitneyu, whose defaults it
// follows: exact without ties for small samples, else the normal approximation with the tie and
// continuity corrections), its level on seeded identical samples, the effect sizes against brute
// force over every pair, and the quantiles the noise is read with.
import { describe, expect, it } from "vitest";
import { binomial, cliffsDelta, fisherExact, hodgesLehmann, kthDifference, mannWhitney, normalQuantile, quantile, smallestP, sorted, uCounts } from "../../src/compare/stats.js";
import { mulberry32 } from "../../src/plan/prng.js";
import { draw, normals } from "./compare-journals.js";

describe("Mann–Whitney U", () => {
  it("counts U by hand: base 19 22 16 29 24 against new 20 11 17 12", () => {
    // pairs where base is larger: 19 > 11 17 12 (3), 22 > all (4), 16 > 11 12 (2), 29 (4), 24 (4) = 17
    const t = mannWhitney(sorted([19, 22, 16, 29, 24]), sorted([20, 11, 17, 12]));
    expect(t.u).toBe(17);
    // exact: of the C(9, 4) = 126 orderings, 3 + 2 + 1 + 1 give U = 17, 18, 19, 20 (next test):
    // P(U ≥ 17) = 7/126, two-sided 14/126
    expect(t.method).toBe("exact");
    expect(t.p).toBeCloseTo(14 / 126, 12); // scipy: 0.1111111111111111
  });

  it("counts the orderings of each U as the textbook's table does (m = n = 3: 1 1 2 3 3 3 3 2 1 1, 20 in all)", () => {
    expect(Array.from(uCounts(3, 3))).toEqual([1, 1, 2, 3, 3, 3, 3, 2, 1, 1]);
    expect(Array.from(uCounts(5, 4)).slice(17)).toEqual([3, 2, 1, 1]);
    expect(Array.from(uCounts(20, 20)).reduce((a, b) => a + b, 0)).toBe(binomial(40, 20));
    expect(binomial(40, 20)).toBe(137846528820);
  });

  it("agrees with scipy: exact without ties (10 + 12, 20 + 20)", () => {
    const b1 = [10.0, 10.6, 9.45, 8.22, 9.09, 8.02, 10.12, 12.68, 9.02, 8.76];
    const b2 = [12.98, 12.71, 12.21, 10.14, 11.94, 13.39, 9.31, 11.08, 8.2, 9.42, 8.32, 11.53];
    const t = mannWhitney(sorted(b1), sorted(b2));
    expect(t).toMatchObject({ method: "exact", u: 33 });
    expect(t.p).toBeCloseTo(0.08042112686075535, 12);
    const d1 = [2.0, 0.762, -1.199, 0.075, 0.577, -0.189, 0.683, -0.067, 0.667, 1.439, -0.676, 0.203, -0.463, 0.127, -1.187, -0.579, -0.196, 0.899, 1.145, -1.324];
    const d2 = [0.005, 1.447, -1.192, 0.337, 0.703, 2.057, 1.489, 0.473, 0.431, 0.55, 2.324, 0.372, 0.496, 1.153, 0.679, 0.603, -0.314, 0.788, 0.356, 1.966];
    const d = mannWhitney(sorted(d1), sorted(d2));
    expect(d).toMatchObject({ method: "exact", u: 126 });
    expect(d.p).toBeCloseTo(0.04595422986872423, 12);
  });

  it("agrees with scipy: the normal approximation with ties (9 + 9 with two ties; 30 + 25 integers)", () => {
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const a = mannWhitney(sorted(x), sorted(y));
    expect(a).toMatchObject({ method: "normal", u: 58 });
    expect(a.p).toBeCloseTo(0.13291945818531892, 7);
    const c1 = [5, 3, 0, 0, 2, 0, 0, 3, 5, 2, 4, 5, 4, 3, 2, 3, 1, 2, 2, 1, 5, 0, 0, 1, 5, 4, 5, 1, 4, 2];
    const c2 = [3, 1, 4, 5, 4, 1, 4, 2, 6, 6, 2, 4, 6, 6, 5, 4, 1, 5, 3, 1, 2, 4, 5, 4, 4];
    const c = mannWhitney(sorted(c1), sorted(c2));
    expect(c).toMatchObject({ method: "normal", u: 239 });
    expect(c.p).toBeCloseTo(0.020267947626500915, 7);
  });

  it("gives p = 1 when every value is the same, and says the smallest p two sample sizes allow", () => {
    expect(mannWhitney(sorted([0, 0, 0, 0, 0]), sorted(Array(50).fill(0))).p).toBe(1);
    expect(smallestP(3, 3)).toBeCloseTo(0.1, 12);
    expect(smallestP(7, 7)).toBeCloseTo(2 / 3432, 12);
    expect(smallestP(1, 1)).toBe(1);
    expect(smallestP(10_000, 10_000)).toBeLessThan(1e-11);
  });
});

describe("effect sizes", () => {
  const brute = (b: readonly number[], n: readonly number[]) => {
    const diffs = b.flatMap((x) => n.map((y) => y - x)).sort((p, q) => p - q);
    const mid = diffs.length / 2;
    const hl = diffs.length % 2 === 1 ? (diffs[Math.floor(mid)] as number) : ((diffs[mid - 1] as number) + (diffs[mid] as number)) / 2;
    const delta = (diffs.filter((d) => d > 0).length - diffs.filter((d) => d < 0).length) / diffs.length;
    return { hl, delta, diffs };
  };

  it("Hodges–Lehmann and Cliff's delta equal brute force over every pair, ties and odd sizes included", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = mulberry32(seed);
      const m = 1 + Math.floor(random() * 30);
      const n = 1 + Math.floor(random() * 30);
      // rounded: many ties
      const b = draw(m, () => Math.round(random() * 20) / 2);
      const x = draw(n, () => Math.round(random() * 24) / 2);
      const want = brute(b, x);
      expect(hodgesLehmann(sorted(b), sorted(x))).toBe(want.hl);
      expect(cliffsDelta(mannWhitney(sorted(b), sorted(x)), m, n)).toBeCloseTo(want.delta, 12);
      const k = 1 + Math.floor(random() * m * n);
      expect(kthDifference(sorted(b), sorted(x), k)).toBe(want.diffs[k - 1]);
    }
  });

  it("reads quantiles between ranks (numpy's default)", () => {
    const s = sorted([0.979, 1.154, 1.461, 11.151, 23.636]);
    expect(quantile(s, 0.5)).toBe(1.461);
    expect(quantile(s, 0.1)).toBeCloseTo(0.979 + 0.4 * (1.154 - 0.979), 12);
    expect(quantile(s, 0.9)).toBeCloseTo(11.151 + 0.6 * (23.636 - 11.151), 12);
  });
});

describe("the level of the test", () => {
  it("the test itself holds its level: p < 0.01 in about 1% of 1,000 trials of identical distributions", () => {
    let significant = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const g = normals(10_000 + seed);
      const a = sorted(draw(30, () => Math.round(g(50, 8))));
      const b = sorted(draw(30, () => Math.round(g(50, 8))));
      if (mannWhitney(a, b).p < 0.01) significant++;
    }
    expect(significant).toBeGreaterThanOrEqual(2);
    expect(significant).toBeLessThanOrEqual(20);
  });
});

describe("Fisher's exact test and the normal quantile", () => {
  it("gives R's fisher.test p on known tables", () => {
    // fisher.test(matrix(c(3, 1, 1, 3), 2)): p = 0.4857 (= 34/70)
    expect(fisherExact(3, 4, 1, 4)).toBeCloseTo(34 / 70, 12);
    // the dieting table of Fisher's test's textbook example: [[1, 9], [11, 3]], p = 0.002759456
    expect(fisherExact(1, 12, 9, 12)).toBeCloseTo(0.002759456185, 10);
    expect(fisherExact(1, 10, 11, 14)).toBeCloseTo(0.002759456185, 10);
    // identical proportions: p = 1; 0 of 100 against 30 of 100: 1.43e-10
    expect(fisherExact(5, 50, 5, 50)).toBeCloseTo(1, 12);
    expect(fisherExact(0, 100, 30, 100)).toBeCloseTo(1.43391e-10, 14);
  });

  it("z at α = 0.01 and 0.05, two-sided: 2.5758 and 1.9600", () => {
    expect(normalQuantile(0.005)).toBeCloseTo(2.5758293, 5);
    expect(normalQuantile(0.025)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 6);
  });
});
