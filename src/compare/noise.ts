// A single value's noise band: how far apart two runs' values of a figure can fall by chance,
// read from the runs' own repeated undisturbed measurements of it (the same probe before the
// faults and after them). The standard deviation s of one measurement is pooled over both runs,
// robustly (the 90th percentile of each value's distance from its own run's median, as a normal's
// standard deviation: one hiccup in ten does not widen it, a tail figure's skew does), and the difference of two single values, one a run, has
// the standard deviation √2·s: the band is z·√2·s, z the normal quantile at the rank test's
// level, two-sided. Timings and rates scale with the machine
// (a busier host slows every request by a factor), so where every measurement is positive s is
// read on their logarithm and the band is a factor of the base value; a figure derived as a
// difference (added latency) and counts that can be 0 stay on the linear scale.
// A fault's figure has no repeated measurement: its noise is the spread over the step's pods
// (the central 80% of each run's, the larger of the two).
import { formatValue } from "../expect/format.js";
import type { Figure, Reference } from "./figures.js";
import { median, normalQuantile, quantile, sorted } from "./stats.js";

/** The spread of a run's reference values, computed once per reference. */
export interface Spread {
  readonly n: number;
  /** |x − the run's median| of each value; none below two values (one value shows no noise) */
  readonly deviations: readonly number[];
  /** the same on ln x; null when a value is not positive */
  readonly logDeviations: readonly number[] | null;
  /** the central 80% (10th to 90th percentile); null below two values */
  readonly central: number | null;
  readonly min: number;
  readonly max: number;
}

function deviations(values: readonly number[]): number[] {
  if (values.length < 2) return [];
  const m = median(sorted(values));
  return values.map((v) => Math.abs(v - m));
}

export function spreadOf(reference: Reference): Spread {
  if (reference.spread === undefined) {
    const v = reference.values;
    const s = sorted(v);
    reference.spread = {
      n: v.length,
      deviations: deviations(v),
      logDeviations: v.every((x) => x > 0) ? deviations(v.map(Math.log)) : null,
      central: s.length < 2 ? null : quantile(s, 0.9) - quantile(s, 0.1),
      min: s[0] ?? Number.NaN,
      max: s[s.length - 1] ?? Number.NaN,
    };
  }
  return reference.spread;
}

/** The normal's standard deviation from the 90th percentile of the absolute deviations: 1 / Φ⁻¹(0.95). */
const P90_TO_SD = 1 / 1.6448536269514722;

/**
 * s pooled over both runs: the 90th percentile of every value's distance from its own run's
 * median, as a standard deviation. The median distance (MAD) understated the spread of a small
 * probe's tail figures — its p90 of 3 requests is their maximum, skewed by nature — so that two
 * runs at 20 ms on a loaded machine differed "beyond the noise" in CI (21.9 → 29.3 ms, s 0.033);
 * the 90th percentile keeps those, and still leaves out one hiccup in ten.
 */
function pooled(a: readonly number[], b: readonly number[]): number {
  return P90_TO_SD * quantile(sorted([...a, ...b]), 0.9);
}

export interface NoiseBand {
  /** in the figure's unit, in the direction of the change; null: no run measured it undisturbed twice */
  readonly noise: number | null;
  /** what it was read from, in words */
  readonly from: string;
}

const counts = (base: Spread, next: Spread): string => `${base.n} in base, ${next.n} in new`;
const digits2 = (v: number): string => String(Number(v.toPrecision(2)));

function podSpread(base: Spread, next: Spread): NoiseBand {
  const bands = [base.central, next.central].filter((x): x is number => x !== null);
  return { noise: bands.length > 0 ? Math.max(...bands) : null, from: `the spread over the step's pods, ${counts(base, next)}` };
}

/** The noise band of a single value b of `figure` whose change is `change`, from both runs' references. */
export function noiseBand(base: Figure, next: Figure, b: number, change: number, alpha: number): NoiseBand {
  const sb = spreadOf(base.reference);
  const sn = spreadOf(next.reference);
  if (base.origin === "fault") return podSpread(sb, sn);
  if (sb.deviations.length + sn.deviations.length === 0) return { noise: null, from: "no run measured it undisturbed twice or more" };
  const what = `${base.probe} ${base.origin === "derived" ? "latency.p50" : base.metric} measured undisturbed, ${counts(sb, sn)}`;
  const z = normalQuantile(alpha / 2);
  const among = b >= Math.min(sb.min, sn.min) && b <= Math.max(sb.max, sn.max);
  const log = base.origin !== "derived" && b > 0 && sb.logDeviations !== null && sn.logDeviations !== null;
  if (!log || !among) {
    const s = pooled(sb.deviations, sn.deviations);
    const why = log ? " (its base value is outside the undisturbed values: their factor is not its)" : "";
    return { noise: z * Math.SQRT2 * s, from: `z·√2·s, z = ${digits2(z)} (α = ${alpha}, two-sided), s = ${formatValue(s, base.dimension)} the pooled spread of ${what}${why}` };
  }
  const s = pooled(sb.logDeviations as number[], sn.logDeviations as number[]);
  const factor = Math.exp(z * Math.SQRT2 * s);
  const noise = change >= 0 ? b * (factor - 1) : b * (1 - 1 / factor);
  return {
    noise,
    from: `a factor e^(z·√2·s) = ${digits2(factor)} of the base value, z = ${digits2(z)} (α = ${alpha}, two-sided), s = ${digits2(s)} the pooled spread of the logarithm of ${what}`,
  };
}
