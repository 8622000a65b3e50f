// What compare produces: one typed value, plain JSON-ready data (no undefined, no typed arrays),
// that every view renders (the terminal table, Markdown, JUnit, HTML, `--format json`) and that
// `run --compare-to` gates on. Types (and the version and the verdicts' order), in the report room beside the Journal they are read
// from, so that the views of a comparison (report/compare/) need nothing of compare's code, as
// the run's views need nothing of the engine's. src/compare/ makes it.
import type { Dimension } from "../../expect/metrics.js";
import type { Journal } from "../journal.js";

export type { Journal };

export const COMPARISON_VERSION = 1;

/** Which way is better for a figure. */
export type Better = "lower" | "higher";

export interface Settings {
  readonly alpha: number;
  readonly threshold: number;
  readonly minEffect: number;
  /** a duration's change must also be at least this, ms, to matter (--min-change); 0: no floor */
  readonly minChangeMs: number;
}

/**
 * regressed / improved: beyond the noise and the threshold, in the worse / better direction;
 * changed: beyond them, for a figure with no better direction; within noise: not beyond them.
 */
export type Verdict = "regressed" | "improved" | "changed" | "within noise";

export const VERDICTS: readonly Verdict[] = ["regressed", "improved", "changed", "within noise"];

/** Where a figure was measured: a steady-state phase, a probe step's run, a probe during a fault, a continuous probe's samples, the fault itself, or derived from those. */
export type Origin = "before" | "after" | "step" | "during" | "monitor" | "fault" | "derived";

/** One side of a row: the value compared (a series' median), and how many values it stands for. */
export interface Measure {
  readonly value: number | null;
  /** values measured (samples of a series; 1 for a single value; 0 when none) */
  readonly n: number;
}

/** Samples judged by the Mann–Whitney U test and the effect sizes. */
export interface RankRule {
  readonly kind: "rank-test";
  readonly method: "exact" | "normal";
  /** U of the base sample (pairs where base is larger, ties ½) */
  readonly u: number;
  readonly p: number;
  readonly alpha: number;
  /** P(new > base) − P(new < base) */
  readonly cliffsDelta: number;
  readonly minEffect: number;
  /** the median of every new − base difference */
  readonly hodgesLehmann: number;
  /** the shift that matters: threshold × |base median| */
  readonly minShift: number;
  readonly significant: boolean;
  readonly practical: boolean;
  readonly text: string;
}

/** A single value (or too few samples for the rank test) judged against the runs' own noise and the threshold. */
export interface NoiseRule {
  readonly kind: "noise-threshold";
  readonly threshold: number;
  /** threshold × |base value| */
  readonly thresholdValue: number;
  /** the larger run's noise band, null when neither run measured its noise */
  readonly noise: number | null;
  /** what the noise was read from, in words */
  readonly noiseFrom: string;
  /** which limit the change had to pass: the larger of the two */
  readonly bound: "noise" | "threshold";
  /** samples judged as single values: why (too few for the rank test at alpha); null otherwise */
  readonly fallback: string | null;
  readonly text: string;
}

/** A count out of a total (errors of requests) judged by Fisher's exact test of the two runs' proportions. */
export interface ProportionRule {
  readonly kind: "proportion-test";
  readonly baseCount: number;
  readonly baseTotal: number;
  readonly newCount: number;
  readonly newTotal: number;
  /** Fisher's exact test, two-sided */
  readonly p: number;
  readonly alpha: number;
  readonly significant: boolean;
  /** the proportion moved by threshold × the base proportion at least */
  readonly practical: boolean;
  readonly text: string;
}

/** A figure measured in one run and not the other (recovery.time when nothing recovered). */
export interface MissingRule {
  readonly kind: "missing-value";
  readonly text: string;
}

export type Rule = RankRule | NoiseRule | ProportionRule | MissingRule;

/** Both runs' values of one figure, the change and the verdict, with the rule that gave it. */
export interface Judgement {
  readonly base: Measure;
  readonly new: Measure;
  /** new − base (for samples, the Hodges–Lehmann shift); null when a side has no value */
  readonly change: number | null;
  /** change / |base|; null when base is 0 or missing */
  readonly relativeChange: number | null;
  readonly verdict: Verdict;
  readonly rule: Rule;
}

export interface ComparisonRow extends Judgement {
  /** the section, in words: `steady state (before)`, `step 2 add latency` */
  readonly section: string;
  /** the plan's step index; null in the steady state */
  readonly step: number | null;
  readonly origin: Origin;
  /** the probe's name, or the fault's kind (origin fault) */
  readonly probe: string;
  /** the pod in the base run and in the new one (null: an aggregate over pods) */
  readonly pod: string | null;
  readonly newPod: string | null;
  /** the metric's name, e.g. `latency.p95`, `recovery.time`, `latency.p50 added` */
  readonly metric: string;
  readonly dimension: Dimension;
  /** null: no better direction (a change is "changed") */
  readonly better: Better | null;
  /** what the scenario configured for it (added latency: the fault's delay, ms); null otherwise */
  readonly configured: number | null;
}

/** What was not compared, and why. */
export interface Unmatched {
  readonly section: string;
  /** what: a step, a probe, a pod, a metric */
  readonly what: string;
  /** the run(s) it is in */
  readonly side: "base" | "new" | "both";
  readonly reason: string;
}

export interface RunSummary {
  readonly runId: string;
  readonly scenario: string;
  readonly file: string;
  readonly sha256: string;
  readonly startedAt: string;
  readonly status: Journal["status"];
  readonly exitCode: number | null;
}

export interface Comparison {
  readonly comparisonVersion: typeof COMPARISON_VERSION;
  readonly base: RunSummary;
  readonly new: RunSummary;
  readonly settings: Settings;
  /** what a reader should know first: other scenarios, a changed scenario file, runs that did not end well, pods matched by place */
  readonly notes: readonly string[];
  readonly rows: readonly ComparisonRow[];
  readonly unmatched: readonly Unmatched[];
  readonly counts: Readonly<Record<Verdict, number>>;
  /** some row regressed: `chaos-run compare` exits 1 */
  readonly regressed: boolean;
}
