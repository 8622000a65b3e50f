// One run's timeline of one probe's chart, read from its journal: the fault windows, the saved
// baseline's band, each expectation over the samples it judged, and the samples of each metric
// on the run's clock — a continuous probe's (`every:`) as series, each run of a probe run once
// apart, with the interval it measured. What chart/draw.ts draws; several runs' timelines can
// share one set of axes (axesFor). Pure.
import type { Dimension } from "../../expect/metrics.js";
import type { Journal, JournalExpectation, JournalProbe } from "../journal.js";
import { baselineBand, faultWindows, sampleSpan, sampleValue, samplesOf, type Band, type Chart, type FaultWindow, type PlottedMetric } from "../series.js";
import { axesOn, domainOf, unionOf, type Axes, type Domain, type Extent, type Frame } from "./axes.js";

/** The colours of a chart's metrics, in their order. */
const COLORS = ["#1f6feb", "#8250df", "#bf3989", "#0a7d6b"];

/** A sample on the run's clock (ms since it started), with its value of one metric. */
export interface TimedSample {
  readonly startMs: number;
  readonly endMs: number;
  /** the middle of its time: where a continuous probe's point is drawn */
  readonly atMs: number;
  /** none: it could not measure, or measured no such value */
  readonly value: number | undefined;
  readonly sample: JournalProbe;
}

/** One metric's samples: a continuous probe's series (one line each) and the runs of a probe run once. */
export interface MetricTimeline {
  readonly metric: PlottedMetric;
  readonly color: string;
  readonly series: readonly (readonly TimedSample[])[];
  readonly runs: readonly TimedSample[];
}

/** An expectation, drawn as its threshold over the time of the samples it judged. */
export interface ExpectationMark {
  readonly e: JournalExpectation;
  readonly values: readonly number[];
  readonly fromMs: number;
  readonly toMs: number;
}

export interface ProbeTimeline {
  readonly probe: string;
  readonly chart: Chart;
  readonly dimension: Dimension;
  /** the run's length: the x axis of its own chart */
  readonly spanMs: number;
  readonly windows: readonly FaultWindow[];
  readonly band: Band | undefined;
  readonly metrics: readonly MetricTimeline[];
  /** the samples that could not measure */
  readonly failed: readonly TimedSample[];
  readonly expectations: readonly ExpectationMark[];
}

function baseMetric(metric: string): string {
  return metric.replace(/\.(min|max|mean|median|last)$/, "");
}

/** The run's length in ms: to its end, or to its last sample when it has none. */
export function runSpanMs(j: Journal): number {
  const t0 = Date.parse(j.startedAt);
  const end = j.endedAt !== null ? Date.parse(j.endedAt) : Math.max(t0, ...j.probes.map((p) => Date.parse(p.at)));
  return Math.max(1, end - t0);
}

function timed(j: Journal, p: JournalProbe, metric: string): TimedSample {
  const { startMs, endMs } = sampleSpan(j, p);
  return { startMs, endMs, atMs: (startMs + endMs) / 2, value: p.error !== undefined ? undefined : sampleValue(p, metric), sample: p };
}

/** A metric's samples: grouped by series (and pod) where they are one, the others one by one. */
function metricTimeline(j: Journal, samples: readonly JournalProbe[], metric: PlottedMetric, color: string): MetricTimeline {
  const series = new Map<string, TimedSample[]>();
  const runs: TimedSample[] = [];
  for (const p of samples) {
    const s = timed(j, p, metric.metric);
    if (p.series === undefined) runs.push(s);
    else series.set(`${p.series}\u0000${p.pod ?? ""}`, [...(series.get(`${p.series}\u0000${p.pod ?? ""}`) ?? []), s]);
  }
  return { metric, color, series: [...series.values()], runs };
}

/** Where an expectation's line runs: over the time its samples were drawn (a point's middle, a run's interval). */
function expectationMark(j: Journal, e: JournalExpectation, samples: readonly JournalProbe[]): ExpectationMark {
  const judged = e.series !== undefined ? samples.filter((p) => p.series === e.series) : samples.filter((p) => p.phase === e.phase && p.step === e.step);
  const spans = judged.map((p) => {
    const { startMs, endMs } = sampleSpan(j, p);
    return p.series !== undefined ? { from: (startMs + endMs) / 2, to: (startMs + endMs) / 2 } : { from: startMs, to: endMs };
  });
  const at = Date.parse(e.at) - Date.parse(j.startedAt);
  const values = e.limit === undefined ? [] : typeof e.limit === "number" ? [e.limit] : [...e.limit];
  return { e, values, fromMs: spans.length > 0 ? Math.min(...spans.map((s) => s.from)) : at, toMs: spans.length > 0 ? Math.max(...spans.map((s) => s.to)) : at };
}

/** One probe's chart of a run, read from its journal; `withBand`: the saved baseline drawn on it. */
export function timelineOf(j: Journal, probe: string, chart: Chart, withBand: boolean): ProbeTimeline {
  const samples = samplesOf(j, probe);
  const metrics = chart.metrics.map((m, i) => metricTimeline(j, samples, m, COLORS[i % COLORS.length] ?? "#1f6feb"));
  const onChart = (e: JournalExpectation): boolean => e.probe === probe && chart.metrics.some((m) => m.metric === baseMetric(e.metric));
  return {
    probe,
    chart,
    dimension: chart.metrics[0]?.dimension ?? "number",
    spanMs: runSpanMs(j),
    windows: faultWindows(j),
    band: withBand
      ? baselineBand(
          j,
          probe,
          chart.metrics.map((m) => m.metric),
        )
      : undefined,
    metrics,
    failed: samples.filter((p) => p.error !== undefined).map((p) => timed(j, p, "")),
    expectations: j.expectations.filter(onChart).map((e) => expectationMark(j, e, samples)),
  };
}

/** What the y axis must hold for this timeline. */
export function extentOf(t: ProbeTimeline): Extent {
  const valuesOf = (m: MetricTimeline | undefined): number[] => (m === undefined ? [] : [...m.series.flat(), ...m.runs].map((s) => s.value).filter((v): v is number => v !== undefined));
  return { values: t.metrics.flatMap(valuesOf), firstValues: valuesOf(t.metrics[0]), bandHigh: t.band?.high, limits: t.expectations.flatMap((x) => x.values) };
}

/** The domain of one timeline, or of several to be drawn on the same axes (one above the other): it holds them all. */
export function domainFor(timelines: readonly ProbeTimeline[]): Domain {
  return domainOf(unionOf(timelines.map(extentOf)), Math.max(1, ...timelines.map((t) => t.spanMs)), timelines[0]?.dimension ?? "number");
}

/** The axes of one timeline, or of several drawn on the same axes, on a frame. */
export function axesFor(timelines: readonly ProbeTimeline[], frame: Frame): Axes {
  return axesOn(domainFor(timelines), frame);
}
