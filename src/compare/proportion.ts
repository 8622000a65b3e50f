// A count out of a total (errors of requests, non-2xx answers of completed requests, the HTTP
// proxy's errors of the requests it faulted) is judged as what it is: two proportions, by
// Fisher's exact test at the rank test's level, and a change of the proportion that matters
// (threshold × the base proportion). A relative threshold on the count alone calls 0 → 1 error
// in 400 requests an infinite rise; the test knows it is chance (p = 1).
import type { Figure } from "./figures.js";
import type { JudgeInput } from "./judge.js";
import { fisherExact, median, sorted } from "./stats.js";
import type { Judgement, ProportionRule, Verdict } from "./types.js";

export interface Proportion {
  readonly count: number;
  readonly total: number;
}

/** A run's count and total, summed over its measurements; undefined when they are not whole counts of a total measured beside each value. */
export function proportionOf(f: Figure): Proportion | undefined {
  const c = f.counted;
  if (c === undefined || c.total.values.length !== f.values.length || f.values.length === 0) return undefined;
  let count = 0;
  let total = 0;
  for (let i = 0; i < f.values.length; i++) {
    const n = c.total.values[i] as number;
    const v = f.values[i] as number;
    const k = c.of.ratio ? Math.round(v * n) : v;
    if (!Number.isInteger(n) || !Number.isInteger(k) || k < 0 || k > n) return undefined;
    count += k;
    total += n;
  }
  return total > 0 ? { count, total } : undefined;
}

const percent = (p: Proportion): string => `${trim((100 * p.count) / p.total)}%`;
const trim = (v: number): string => String(Number(v.toPrecision(3)));
const digits2 = (v: number): string => String(Number(v.toPrecision(2)));

/** The verdict on a count of a total in both runs (b, n: each run's proportion). */
export function judgeProportion(input: JudgeInput, b: Proportion, n: Proportion): Judgement {
  const { base, new: next, settings } = input;
  const p = fisherExact(b.count, b.total, n.count, n.total);
  const rateB = b.count / b.total;
  const rateN = n.count / n.total;
  const significant = p < settings.alpha;
  const minMove = settings.threshold * rateB;
  const practical = Math.abs(rateN - rateB) >= minMove && rateN !== rateB;
  const better = base.meaning.better;
  let verdict: Verdict = "within noise";
  if (significant && practical) verdict = better === undefined ? "changed" : (better === "lower") === rateN > rateB ? "regressed" : "improved";
  const text = [
    `${b.count} of ${b.total} (${percent(b)}) → ${n.count} of ${n.total} (${percent(n)}): Fisher's exact test p = ${digits2(p)} ${significant ? "<" : "≥"} α = ${settings.alpha}`,
    `the proportion moved ${trim(100 * Math.abs(rateN - rateB))} percentage points (${practical ? "≥" : "<"} ${trim(100 * settings.threshold)}% of the base proportion, ${trim(100 * minMove)})`,
  ].join("; ");
  const rule: ProportionRule = { kind: "proportion-test", baseCount: b.count, baseTotal: b.total, newCount: n.count, newTotal: n.total, p, alpha: settings.alpha, significant, practical, text };
  const valueB = median(sorted(base.values));
  const valueN = median(sorted(next.values));
  const change = valueN - valueB;
  return {
    base: { value: valueB, n: base.values.length },
    new: { value: valueN, n: next.values.length },
    change,
    relativeChange: valueB === 0 ? null : change / Math.abs(valueB),
    verdict,
    rule,
  };
}
