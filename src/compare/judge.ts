// The verdict on one figure of two runs, and the rule that gave it, in numbers and in words.
// - Samples of a continuous probe: the Mann–Whitney U test at alpha, and an effect that matters
//   (|Cliff's delta| ≥ minEffect and a Hodges–Lehmann shift ≥ threshold × the base median), so a
//   tiny but "significant" shift over thousands of samples is within noise.
// - A count out of a total (errors of requests), single or samples too few for the rank test:
//   Fisher's exact test of the two proportions (proportion.ts).
// - A single value (or samples too few for the test ever to reach alpha): the change must pass
//   both the runs' own noise (noise.ts: z·√2 × the pooled spread of their undisturbed
//   measurements of it) and the threshold relative to the base value.
// - A duration's change (a shift, or a single value's) must also be at least minChangeMs, where
//   it is set: sub-millisecond timings move by more than any threshold on a busy machine.
// - One run has no value: a regression only where no value is the worst (nothing recovered).
import { formatValue, trimNumber } from "../expect/format.js";
import type { Dimension } from "../expect/metrics.js";
import type { Figure } from "./figures.js";
import { noiseBand } from "./noise.js";
import { judgeProportion, proportionOf } from "./proportion.js";
import { cliffsDelta, hodgesLehmann, mannWhitney, median, smallestP, sorted } from "./stats.js";
import type { Judgement, MissingRule, NoiseRule, RankRule, Settings, Verdict } from "./types.js";

export interface JudgeInput {
  /** the figure in each run, with that run's reference values for it */
  readonly base: Figure;
  readonly new: Figure;
  readonly settings: Settings;
}

/** Float dust (a median of differences) is no change. */
const EPSILON = 1e-9;

const show = (v: number, d: Dimension): string => formatValue(v, d);
const signed = (v: number, d: Dimension): string => (v > 0 ? `+${show(v, d)}` : v < 0 ? `−${show(-v, d)}` : show(0, d));
/** The smallest change that matters to figures of dimension `d`: threshold × |base|, and at least minChangeMs for a duration; with the words for it. */
function smallestChange(settings: Settings, base: number, d: Dimension, of: string): { readonly value: number; readonly text: string } {
  const relative = settings.threshold * Math.abs(base);
  const floor = d === "duration" ? settings.minChangeMs : 0;
  const thresholdText = `${show(settings.threshold, "ratio")} of the base ${of}`;
  if (floor > relative) return { value: floor, text: `the smallest change of a duration, ${show(floor, d)} (--min-change; ${thresholdText} is ${show(relative, d)})` };
  // as the rules always said it
  return { value: relative, text: of === "median" ? `${thresholdText}, ${show(relative, d)}` : `${thresholdText} (${show(relative, d)})` };
}

/** Two significant digits: 0.00016, 0.029, 1.3e-30. */
const digits2 = (v: number): string => String(Number(v.toPrecision(2)));

function verdictOf(figure: Figure, beyond: boolean, newIsHigher: boolean): Verdict {
  if (!beyond) return "within noise";
  const better = figure.meaning.better;
  if (better === undefined) return "changed";
  return (better === "lower") === newIsHigher ? "regressed" : "improved";
}

function relative(change: number, base: number): number | null {
  return base === 0 ? null : change / Math.abs(base);
}

function judgeMissing(input: JudgeInput): Judgement {
  const { base, new: next } = input;
  const b = base.values.length > 0 ? median(sorted(base.values)) : null;
  const n = next.values.length > 0 ? median(sorted(next.values)) : null;
  const d = base.dimension;
  let verdict: Verdict = "within noise";
  let text = "no value in either run";
  if (b !== null || n !== null) {
    const which = b !== null ? "base" : "new";
    const worstWhenMissing = base.meaning.noValueIsWorst;
    verdict = worstWhenMissing ? (b !== null ? "regressed" : "improved") : "changed";
    text = `a value in the ${which} run only (${show((b ?? n) as number, d)})${worstWhenMissing ? "; no value is the worst (it did not happen within the window)" : ""}`;
  }
  const rule: MissingRule = { kind: "missing-value", text };
  return { base: { value: b, n: base.values.length }, new: { value: n, n: next.values.length }, change: null, relativeChange: null, verdict, rule };
}

function judgeSamples(input: JudgeInput): Judgement {
  const { base, new: next, settings } = input;
  const b = sorted(base.values);
  const n = sorted(next.values);
  const test = mannWhitney(b, n);
  const delta = cliffsDelta(test, b.length, n.length);
  const shift = hodgesLehmann(b, n);
  const baseMedian = median(b);
  const d = base.dimension;
  const smallest = smallestChange(settings, baseMedian, d, "median");
  const minShift = smallest.value;
  const significant = test.p < settings.alpha;
  const practical = Math.abs(delta) >= settings.minEffect && Math.abs(shift) >= minShift;
  const text = [
    `Mann–Whitney U = ${trimNumber(test.u)} (${test.method}, ${b.length} + ${n.length} samples), p = ${digits2(test.p)} ${significant ? "<" : "≥"} α = ${settings.alpha}`,
    `Cliff's δ = ${delta > 0 ? "+" : ""}${delta.toFixed(2)} (${Math.abs(delta) >= settings.minEffect ? "|δ| ≥" : "|δ| <"} ${settings.minEffect})`,
    `Hodges–Lehmann shift ${signed(shift, d)} (${Math.abs(shift) >= minShift ? "≥" : "<"} ${smallest.text})`,
  ].join("; ");
  const rule: RankRule = {
    kind: "rank-test",
    method: test.method,
    u: test.u,
    p: test.p,
    alpha: settings.alpha,
    cliffsDelta: delta,
    minEffect: settings.minEffect,
    hodgesLehmann: shift,
    minShift,
    significant,
    practical,
    text,
  };
  return {
    base: { value: baseMedian, n: b.length },
    new: { value: median(n), n: n.length },
    change: shift,
    relativeChange: relative(shift, baseMedian),
    verdict: verdictOf(base, significant && practical, delta > 0),
    rule,
  };
}

function judgeSingle(input: JudgeInput, fallback: string | null): Judgement {
  const { base, new: next, settings } = input;
  const b = median(sorted(base.values));
  const n = median(sorted(next.values));
  const change = n - b;
  const d = base.dimension;
  const smallest = smallestChange(settings, b, d, "value");
  const thresholdValue = smallest.value;
  const band = noiseBand(base, next, b, change, settings.alpha);
  const noise = band.noise;
  const bound = noise !== null && noise > thresholdValue ? "noise" : "threshold";
  const limit = Math.max(thresholdValue, noise ?? 0);
  const beyond = Math.abs(change) > limit + EPSILON * Math.max(Math.abs(b), Math.abs(n), 1);
  const noiseFrom = band.from;
  const thresholdText = smallest.text;
  const noiseText = `the noise band ${show(noise ?? 0, d)} (${noiseFrom})`;
  const [first, second] = bound === "noise" ? [noiseText, thresholdText] : [thresholdText, noiseText];
  const limits = noise === null ? `${thresholdText}; no noise band: ${noiseFrom}` : `${first}, the larger of it and ${second}`;
  const text = `${fallback === null ? "" : `${fallback}; `}change ${signed(change, d)} ${beyond ? "beyond" : "within"} ${limits}`;
  const rule: NoiseRule = { kind: "noise-threshold", threshold: settings.threshold, thresholdValue, noise, noiseFrom, bound, fallback, text };
  const counts = { base: base.values.length, new: next.values.length };
  return { base: { value: b, n: counts.base }, new: { value: n, n: counts.new }, change, relativeChange: relative(change, b), verdict: verdictOf(base, beyond, change > 0), rule };
}

/** The verdict on one figure measured in both runs. */
export function judge(input: JudgeInput): Judgement {
  const m = input.base.values.length;
  const n = input.new.values.length;
  if (m === 0 || n === 0) return judgeMissing(input);
  const series = input.base.series && input.new.series;
  const floor = series ? smallestP(m, n) : 1;
  if (series && floor < input.settings.alpha) return judgeSamples(input);
  const b = proportionOf(input.base);
  const c = proportionOf(input.new);
  if (b !== undefined && c !== undefined) return judgeProportion(input, b, c);
  if (!series) return judgeSingle(input, null);
  return judgeSingle(input, `${m} + ${n} samples: the rank test cannot reach p < ${input.settings.alpha} (its smallest p is ${digits2(floor)}), so their medians are judged as single values`);
}
