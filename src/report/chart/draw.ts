// One run's timeline drawn on given axes: the fault windows shaded, the saved baseline as a
// band, each expectation as a dashed line over what it judged, and the samples — a continuous
// probe's (`every:`) as points joined by a line, each run of a probe run once as the interval it
// measured (a bar from its start to its end at its value: a line between two of those would
// invent what happened between them). The labels come back unplaced, for the chart to lay out
// with its others (chart/labels.ts). Pure.
import { formatDuration, formatValue } from "../../expect/format.js";
import type { Dimension } from "../../expect/metrics.js";
import { htmlText as esc } from "../sanitise.js";
import { stepLabel } from "../views.js";
import type { Axes } from "./axes.js";
import type { Box, Label, Segment } from "./labels.js";
import type { MetricTimeline, ProbeTimeline, TimedSample } from "./timeline.js";

export const VERDICT_COLOR = { pass: "#1a7f37", fail: "#cf222e", error: "#bf8700" } as const;
export const VERDICT_TEXT = { pass: "✓ PASS", fail: "✗ FAIL", error: "? NO VALUE" } as const;

/**
 * An SVG drawing: what goes under the grid, what goes over it, the labels still to be laid out,
 * and where the data was drawn (for the labels to keep off).
 */
export interface Drawing {
  readonly under: string[];
  readonly over: string[];
  readonly labels: Label[];
  readonly data: { readonly boxes: Box[]; readonly segments: Segment[] };
}

/** A box of `r` around a point. */
const around = (x: number, y: number, r: number): Box => ({ x0: x - r, y0: y - r, x1: x + r, y1: y + r });

/** A window's uncertain edge: a request sent at `fromMs`, its confirming reply at `toMs`; the fault began (or ended) in the kernel between. */
function edge(a: Axes, fromMs: number | undefined, toMs: number, what: string): string {
  if (fromMs === undefined) return "";
  const x0 = a.x(fromMs);
  const title = `${what} sent at +${formatDuration(fromMs)}, confirmed at +${formatDuration(toMs)}: the fault ${what === "apply" ? "began" : "ended"} in the kernel between the two`;
  return `<rect x="${x0.toFixed(1)}" y="${a.frame.top}" width="${Math.max(1, a.x(toMs) - x0).toFixed(1)}" height="${a.frame.height}" class="fault-edge"><title>${esc(title)}</title></rect>`;
}

/**
 * The fault windows, shaded from applied to reverted, each named at its top; lighter at each
 * edge, from the request's sending to its confirming reply, where the journal says both.
 */
function drawWindows(t: ProbeTimeline, a: Axes, d: Drawing): void {
  const { top, height } = a.frame;
  for (const w of t.windows) {
    const x0 = a.x(w.startMs);
    const x1 = Math.max(a.x(w.revertSentMs ?? w.endMs), x0 + 2);
    const title = `${w.label}: applied at +${formatDuration(w.startMs)}, reverted at +${formatDuration(w.endMs)}${w.reverted ? " (confirmed)" : " (NOT confirmed)"}`;
    const edges = `${edge(a, w.sentMs, w.startMs, "apply")}${edge(a, w.revertSentMs, w.endMs, "revert")}`;
    d.under.push(
      `<g class="fault-window" data-step="${w.step + 1}"><rect x="${x0.toFixed(1)}" y="${top}" width="${(x1 - x0).toFixed(1)}" height="${height}" class="fault"><title>${esc(title)}</title></rect>${edges}</g>`,
    );
    // the whole name is in the window's title
    const text = w.label.length > 60 ? `${w.label.slice(0, 58)}…` : w.label;
    d.labels.push({ text, x: x0 + 4, anchor: "start", y: top + 13, moves: "down", className: "fault-label", data: { step: String(w.step + 1) } });
  }
}

/** The saved baseline: a band from the least to the most it was while saved; its name, at its right. */
function drawBand(t: ProbeTimeline, a: Axes, d: Drawing): Label | undefined {
  const band = t.band;
  if (band === undefined) return undefined;
  const { left, width } = a.frame;
  const y0 = a.y(band.high);
  const y1 = a.y(band.low);
  const range = `${formatValue(band.low, t.dimension)} – ${formatValue(band.high, t.dimension)}`;
  d.under.push(
    `<g class="baseline"><rect x="${left}" y="${Math.min(y0, y1 - 3).toFixed(1)}" width="${width}" height="${Math.max(3, y1 - y0).toFixed(1)}" class="band"><title>${esc(`saved as ${band.name}: ${range}`)}</title></rect></g>`,
  );
  return {
    text: `baseline (${band.name}) ${range}`,
    x: left + width - 4,
    anchor: "end",
    orAt: [{ x: left + 4, anchor: "start" }],
    y: Math.min(y0, y1 - 3) - 3,
    moves: "either",
    className: "band-label",
  };
}

/**
 * A threshold as the chart needs it: the value its line is drawn at, without the arithmetic that
 * gave it (`≥ baseline.latency.p50 (0.979ms) + 50ms = 50.979ms` is `≥ 50.979ms`; the whole text
 * is in the line's title and the table).
 */
export function thresholdValueText(threshold: string): string {
  const within = /^within \[(?:.* = )?([^,=]+), (?:.* = )?([^\]=]+)\]$/.exec(threshold);
  if (within !== null) return `within [${within[1]}, ${within[2]}]`;
  const computed = /^(\S+) .* = ([^=]+)$/.exec(threshold);
  return computed !== null ? `${computed[1]} ${computed[2]}` : threshold;
}

/** Each expectation's threshold, dashed in its verdict's colour, over the samples it judged. */
function drawExpectations(t: ProbeTimeline, a: Axes, d: Drawing): void {
  const { left, top, width } = a.frame;
  for (const x of t.expectations) {
    const color = VERDICT_COLOR[x.e.verdict];
    // at least 24 px long, and inside the plot
    const x0 = Math.min(a.x(x.fromMs), left + width - 24);
    const x1 = Math.max(a.x(x.toMs), x0 + 24);
    const title = `${stepLabel(x.e)}: ${x.e.metric} ${x.e.threshold} — measured ${x.e.actualText}: ${VERDICT_TEXT[x.e.verdict]}`;
    for (const v of x.values) {
      const above = v > a.domain.yMax;
      const y = above ? top + 1 : a.y(v);
      const leftHalf = (x0 + x1) / 2 < left + width / 2;
      const line = { x0, y0: y, x1, y1: y };
      d.data.segments.push(line);
      d.over.push(
        `<g class="expectation" data-verdict="${x.e.verdict}"><line x1="${x0.toFixed(1)}" x2="${x1.toFixed(1)}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${color}" class="limit"><title>${esc(title)}</title></line></g>`,
      );
      d.labels.push({
        text: `${x.e.metric} ${thresholdValueText(x.e.threshold)}${above ? " ↑" : ""} ${VERDICT_TEXT[x.e.verdict]}`,
        x: leftHalf ? Math.max(x0, left) + 2 : x1 - 2,
        anchor: leftHalf ? "start" : "end",
        orAt: [leftHalf ? { x: x1 - 2, anchor: "end" } : { x: Math.max(x0, left) + 2, anchor: "start" }],
        y: y - 3,
        moves: "either",
        className: "limit-label",
        fill: color,
        data: { verdict: x.e.verdict },
        line,
      });
    }
  }
}

/** A sample's words: its metric, value and time, and the step it ran in. */
function sampleTitle(m: MetricTimeline, s: TimedSample, value: number, dimension: Dimension, when: string): string {
  return `${m.metric.label} ${formatValue(value, dimension)} ${when} (${s.sample.stepName})`;
}

/** A continuous probe's series: its points joined by a line, broken where a sample has no value. */
function drawSeries(m: MetricTimeline, samples: readonly TimedSample[], a: Axes, dimension: Dimension, d: Drawing): void {
  const runs: { x: number; y: number }[][] = [[]];
  for (const s of samples) {
    if (s.value === undefined) runs.push([]);
    else runs[runs.length - 1]?.push({ x: a.x(s.atMs), y: a.y(s.value) });
  }
  for (const r of runs.filter((x) => x.length > 1)) {
    d.over.push(`<polyline class="series" stroke="${m.color}" points="${r.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ")}"/>`);
    for (const [i, p] of r.slice(1).entries()) d.data.segments.push({ x0: r[i]?.x ?? p.x, y0: r[i]?.y ?? p.y, x1: p.x, y1: p.y });
  }
  for (const s of samples) {
    if (s.value === undefined) continue;
    const off = s.value > a.domain.yMax ? " (off the scale)" : "";
    const title = `${sampleTitle(m, s, s.value, dimension, `at +${formatDuration(s.atMs)}`)}${off}`;
    d.data.boxes.push(around(a.x(s.atMs), a.y(s.value), 4));
    d.over.push(
      `<circle cx="${a.x(s.atMs).toFixed(1)}" cy="${a.y(s.value).toFixed(1)}" r="${off === "" ? "2.6" : "3.5"}" fill="${off === "" ? m.color : "#fff"}" stroke="${m.color}"><title>${esc(title)}</title></circle>`,
    );
  }
}

/** A run of a probe run once: the interval it measured, at its value, with a tick at each end. */
function drawRun(m: MetricTimeline, s: TimedSample, a: Axes, dimension: Dimension, d: Drawing): void {
  if (s.value === undefined) return;
  // a run of a few ms still shows its two ends, inside the plot
  const x0 = Math.min(a.x(s.startMs), a.frame.left + a.frame.width - 5);
  const x1 = Math.max(a.x(s.endMs), x0 + 5);
  const y = a.y(s.value);
  const off = s.value > a.domain.yMax ? " (off the scale)" : "";
  const title = `${sampleTitle(m, s, s.value, dimension, `from +${formatDuration(s.startMs)} to +${formatDuration(s.endMs)}`)}${off}`;
  const path = `M${x0.toFixed(1)},${(y - 4).toFixed(1)}v8M${x0.toFixed(1)},${y.toFixed(1)}H${x1.toFixed(1)}M${x1.toFixed(1)},${(y - 4).toFixed(1)}v8`;
  d.data.boxes.push({ x0: x0 - 1, y0: y - 4, x1: x1 + 1, y1: y + 4 });
  d.over.push(`<path class="run${off === "" ? "" : " off-scale"}" stroke="${m.color}" d="${path}"><title>${esc(title)}</title></path>`);
}

/** The samples that could not measure: a cross at the bottom of the plot, at the middle of their time. */
function drawFailed(t: ProbeTimeline, a: Axes, d: Drawing): void {
  const y = a.frame.top + a.frame.height - 6;
  for (const s of t.failed) {
    const x = a.x(s.atMs);
    d.data.boxes.push(around(x, y, 5));
    d.over.push(
      `<g class="sample-error"><path d="M${(x - 4).toFixed(1)},${(y - 4).toFixed(1)}l8,8m0,-8l-8,8" stroke="${VERDICT_COLOR.fail}"/><title>${esc(`+${formatDuration(s.atMs)}: could not measure: ${s.sample.error ?? ""}`)}</title></g>`,
    );
  }
}

/**
 * One run's timeline on given axes: the fault windows and the band (under the grid), the
 * expectations and the samples (over it), and the labels of all of them, to be laid out with
 * the chart's others (chart/labels.ts).
 */
export function drawTimeline(t: ProbeTimeline, a: Axes): Drawing {
  const d: Drawing = { under: [], over: [], labels: [], data: { boxes: [], segments: [] } };
  drawWindows(t, a, d);
  const band = drawBand(t, a, d);
  drawExpectations(t, a, d);
  // the band's name is laid out last: a fault's and an expectation's keep their places before it
  if (band !== undefined) d.labels.push(band);
  for (const m of t.metrics) {
    for (const s of m.series) drawSeries(m, s, a, t.dimension, d);
    for (const s of m.runs) drawRun(m, s, a, t.dimension, d);
  }
  drawFailed(t, a, d);
  return d;
}
