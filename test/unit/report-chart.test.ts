// The HTML report's charts: a probe run once is drawn as the interval it measured and lines
// join only the samples of one continuous series (the demo's journal: a steady state's monitor
// every 4 s, a step's series every 10 s, and three one-shot runs before, between and after);
// labels never overprint one another (their boxes estimated here from the SVG; the browser test
// measures them in Chromium), however many want the same place; a threshold's label shows the
// value its line is drawn at; the value axis holds a value just above a round tick.
import { describe, expect, it } from "vitest";
import { domainOf } from "../../src/report/chart/axes.js";
import { intersects, LABEL_ROW, labelBox, layoutLabels, type Box, type Label } from "../../src/report/chart/labels.js";
import { panelSvg, plotFrame } from "../../src/report/chart/svg.js";
import { thresholdValueText } from "../../src/report/chart/draw.js";
import { axesFor, domainFor, timelineOf } from "../../src/report/chart/timeline.js";
import { renderHtml } from "../../src/report/html.js";
import { chartsFor, mainMetric, probeCharts, sampleSpan } from "../../src/report/series.js";
import { crowdedJournal, demoJournal } from "./report-crowded.js";
import type { Journal } from "../../src/report/journal.js";

/** Each chart of a report: its SVG text. */
function charts(html: string): string[] {
  return [...html.matchAll(/<svg class="chart"[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

const htmlDecoded = (s: string): string =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");

/** The labels drawn in a chart, with their boxes as the layout estimates them. */
function labelsOf(svg: string): { text: string; className: string; box: Box }[] {
  return [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].flatMap((m) => {
    const attrs = Object.fromEntries([...(m[1] ?? "").matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
    const className = attrs["class"] ?? "";
    if (!/^(fault|limit|band)-label$/.test(className)) return [];
    const text = htmlDecoded(m[2] ?? "");
    const at = { x: Number(attrs["x"]), anchor: attrs["text-anchor"] === "end" ? ("end" as const) : ("start" as const) };
    return [{ text, className, box: labelBox(at, Number(attrs["y"]), text) }];
  });
}

function overlapping(boxes: readonly { text: string; box: Box }[]): string[] {
  const out: string[] = [];
  boxes.forEach((a, i) => {
    for (const b of boxes.slice(i + 1)) if (intersects(a.box, b.box)) out.push(`${a.text} ⟷ ${b.text}`);
  });
  return out;
}

describe("the demo's latency chart", () => {
  const j = demoJournal();
  const [latency] = probeCharts(j, "pulse", "http");
  if (latency === undefined) throw new Error("the demo's probe has a latency chart");
  const t = timelineOf(j, "pulse", latency, true);
  const svg = charts(renderHtml(j))[0] ?? "";

  it("groups the samples: one line per continuous series, the one-shot runs apart", () => {
    const [p50] = t.metrics;
    expect(p50?.runs.map((s) => [s.sample.id, s.sample.phase])).toEqual([
      [1, "before"],
      [4, "step"],
      [20, "after"],
    ]);
    expect(p50?.series.map((s) => s.map((x) => x.sample.id))).toEqual([
      [2, 3, 5, 7, 8, 10, 11, 12, 14, 15, 16, 17, 18, 19],
      [6, 9, 13],
    ]);
  });

  it("joins by a line only the samples of one series, and draws each one-shot run over the interval it measured", () => {
    const axes = axesFor([t], plotFrame(230));
    const polylines = [...svg.matchAll(/<polyline class="series" stroke="[^"]*" points="([^"]*)"/g)].map((m) => (m[1] ?? "").split(" ").map((p) => Number(p.split(",")[0])));
    // p50 and p95, each with the monitor's line and the step's
    expect(polylines.map((xs) => xs.length)).toEqual([14, 3, 14, 3]);
    const oneShots = j.probes.filter((p) => p.series === undefined);
    const runs = [...svg.matchAll(/<path class="run[^"]*" stroke="[^"]*" d="M([\d.]+),[\d.]+v8M[\d.]+,[\d.]+H([\d.]+)M/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(runs).toHaveLength(oneShots.length * 2);
    for (const [i, p] of oneShots.entries()) {
      const { startMs, endMs } = sampleSpan(j, p);
      // the 12 s run before the fault spans 12 s of the axis, not a point
      expect(runs[i]?.[0]).toBeCloseTo(axes.x(startMs), 0);
      expect(runs[i]?.[1]).toBeCloseTo(Math.max(axes.x(endMs), axes.x(startMs) + 5), 0);
      // and no line passes through it
      for (const xs of polylines) expect(xs.some((x) => Math.abs(x - axes.x((startMs + endMs) / 2)) < 0.5)).toBe(false);
    }
    expect((runs[0]?.[1] ?? 0) - (runs[0]?.[0] ?? 0)).toBeGreaterThan(100);
  });

  it("labels the fault, the baseline and every expectation, no two of them in the same place", () => {
    const labels = labelsOf(svg);
    expect(labels.map((l) => l.className).sort()).toEqual(["band-label", "fault-label", "limit-label", "limit-label", "limit-label"]);
    expect(overlapping(labels)).toEqual([]);
    expect(labels.map((l) => l.text)).toContain("latency.p50 ≥ 50.979ms ✓ PASS");
  });
});

describe("a chart crowded with labels", () => {
  it("lays them all out apart, growing taller when the plot cannot hold them", () => {
    const j = crowdedJournal({ faults: 3, expectations: 30 });
    const [latency, errors] = charts(renderHtml(j));
    const labels = labelsOf(latency ?? "");
    // 3 + 1 faults, the band, 3 + 30 expectations on latency.p50 and latency.p95.max
    expect(labels.filter((l) => l.className === "fault-label")).toHaveLength(4);
    expect(labels.filter((l) => l.className === "limit-label")).toHaveLength(33);
    expect(overlapping(labels)).toEqual([]);
    const height = Number(/<svg class="chart" viewBox="0 0 960 (\d+)"/.exec(latency ?? "")?.[1]);
    expect(height).toBeGreaterThan(230);
    expect(overlapping(labelsOf(errors ?? ""))).toEqual([]);
  });

  it("places labels that all want one place in an area until none is left, never two together", () => {
    const area = { x0: 0, y0: 0, x1: 400, y1: 100 };
    const labels: Label[] = Array.from({ length: 40 }, (_, i) => ({ text: `label number ${i}`, x: 100, anchor: "start", y: 50, moves: "either", className: "limit-label" }));
    const { placed, unplaced } = layoutLabels(labels, area);
    expect(placed.length + unplaced).toBe(40);
    // one column of rows: the area holds 100 / LABEL_ROW of them
    expect(placed).toHaveLength(Math.floor(100 / LABEL_ROW));
    expect(overlapping(placed.map((p) => ({ text: p.shown, box: p.box })))).toEqual([]);
    for (const p of placed) expect(p.box.y0 >= area.y0 && p.box.y1 <= area.y1 && p.box.x0 >= area.x0 && p.box.x1 <= area.x1).toBe(true);
  });

  it("keeps a label off the data when a place near is free of it", () => {
    const area = { x0: 0, y0: 0, x1: 400, y1: 200 };
    const label: Label = { text: "latency.p50 < 50ms ✓ PASS", x: 10, anchor: "start", y: 100, moves: "either", className: "limit-label" };
    const free = layoutLabels([label], area).placed[0];
    expect(free?.y).toBe(100);
    const across = { x0: 0, y0: 95, x1: 400, y1: 95 };
    const off = layoutLabels([label], area, { boxes: [], segments: [across] }).placed[0];
    expect(off?.y).not.toBe(100);
    expect(Math.abs((off?.y ?? 0) - 100)).toBeLessThanOrEqual(3 * LABEL_ROW);
    // its own line it may touch
    expect(layoutLabels([{ ...label, line: across }], area, { boxes: [], segments: [across] }).placed[0]?.y).toBe(100);
  });
});

describe("what a chart says", () => {
  it("labels a threshold with the value its line is drawn at", () => {
    const thresholds = {
      "< 50ms": "< 50ms",
      "≥ baseline.latency.p50 (0.979ms) + 50ms = 50.979ms": "≥ 50.979ms",
      "< baseline.latency.p95 (0.71ms) × 2 + 20ms = 21.42ms": "< 21.42ms",
      "within [baseline.x (1ms) × 0.5 = 0.5ms, baseline.x (1ms) × 2 = 2ms]": "within [0.5ms, 2ms]",
      "within [1ms, 2ms]": "within [1ms, 2ms]",
    };
    expect(Object.keys(thresholds).map(thresholdValueText)).toEqual(Object.values(thresholds));
  });

  it("draws a value just above a round tick inside the axis, not off its scale", () => {
    // the scripted nginx-latency run: p50 100.99 ms during the fault, the rest about 1 ms
    const d = domainOf({ values: [0.48, 0.48, 0.5, 0.51, 0.71, 1.18, 1.9, 2.3, 100.99, 106.2], firstValues: [0.48, 0.48, 100.99, 0.51, 0.5], bandHigh: 0.71, limits: [50, 90.48] }, 55_000, "duration");
    expect(d.yMax).toBeGreaterThanOrEqual(106.2);
    expect(d.yTicks.at(-1)).toBe(d.yMax);
  });
});

describe("two runs on the same axes", () => {
  it("draws each run's timeline as a panel, one above the other, on one scale that holds both", () => {
    const a = demoJournal();
    // the same run, twice as slow
    const b: Journal = {
      ...a,
      probes: a.probes.map((p) => ({ ...p, metrics: Object.fromEntries(Object.entries(p.metrics).map(([k, v]) => [k, k.startsWith("latency.") && v !== null ? v * 2 : v])) })),
    };
    const [chart] = probeCharts(a, "pulse", "http");
    if (chart === undefined) throw new Error("the demo's probe has a latency chart");
    const [ta, tb] = [timelineOf(a, "pulse", chart, true), timelineOf(b, "pulse", chart, true)];
    const shared = domainFor([ta, tb]);
    expect(shared.yMax).toBeGreaterThan(domainFor([ta]).yMax);
    const top = panelSvg(ta, shared, 0);
    const bottom = panelSvg(tb, shared, top.bottom);
    const plots = [top, bottom].map((p) => /<rect x="72" y="([\d.]+)" width="872" height="([\d.]+)" class="plot"\/>/.exec(p.svg.join("")));
    expect(Number(plots[1]?.[1])).toBeGreaterThan(Number(plots[0]?.[1]) + Number(plots[0]?.[2]));
    // the same ticks on both: values read across
    const ticks = [top, bottom].map((p) => [...p.svg.join("").matchAll(/class="tick" text-anchor="end">([^<]+)</g)].map((m) => m[1]));
    expect(ticks[1]).toEqual(ticks[0]);
    expect(ticks[0]?.at(-1)).toBe(`${shared.yMax}ms`);
  });
});

describe("the charts of each probe kind", () => {
  it("draws a grpc probe's latency and error ratio as an http probe's, and sparks its p95", () => {
    const charts = chartsFor("grpc", [], "number");
    expect(charts.map((c) => [c.title, c.metrics.map((m) => m.metric)])).toEqual([
      ["latency", ["latency.p50", "latency.p95"]],
      ["errors", ["errorRatio"]],
    ]);
    expect(mainMetric("grpc", [])).toBe("latency.p95");
    expect(chartsFor("ab", [], "number")[1]?.metrics[0]?.metric).toBe("failedRatio");
  });
});
