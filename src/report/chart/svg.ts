// A chart as hand-made SVG: the plot's frame (its grid, the ticks of both axes, the legend),
// one run's timeline drawn on it, and the labels laid out over everything so that none
// overprints another; a chart whose labels do not fit grows taller until they do. Pure.
import { formatValue } from "../../expect/format.js";
import { htmlText as esc } from "../sanitise.js";
import { axesOn, ticks, type Axes, type Domain, type Frame } from "./axes.js";
import { layoutLabels, LABEL_ROW, type Label, type Obstacles, type PlacedLabel } from "./labels.js";
import { drawTimeline } from "./draw.js";
import { domainFor, type MetricTimeline, type ProbeTimeline } from "./timeline.js";

/** The SVG's width, and a chart's height as it starts (it grows by label rows when they do not fit). */
export const CHART_WIDTH = 960;
const CHART_HEIGHT = 230;
/** Around the plot: the y ticks on the left, the legend above, the x ticks below. */
const MARGIN = { left: 72, right: 16, top: 30, bottom: 30 } as const;

/** The plot's rectangle in a panel of `height` (its margins included), the plot's top at `top`. */
export function plotFrame(height: number, top: number = MARGIN.top): Frame {
  return { left: MARGIN.left, top, width: CHART_WIDTH - MARGIN.left - MARGIN.right, height: height - MARGIN.top - MARGIN.bottom };
}

/** The plot's rectangle: white, under everything. */
export function plotSvg(frame: Frame): string {
  return `<rect x="${frame.left}" y="${frame.top}" width="${frame.width}" height="${frame.height}" class="plot"/>`;
}

/** The grid and the y ticks. */
export function gridSvg(a: Axes): string[] {
  const { left, width } = a.frame;
  const out: string[] = [];
  for (const v of a.domain.yTicks) {
    const y = a.y(v).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${left + width}" y1="${y}" y2="${y}" class="grid"/><text x="${left - 6}" y="${(a.y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${esc(formatValue(v, a.domain.dimension))}</text>`,
    );
  }
  return out;
}

/** The x ticks, in seconds since the run started, under the plot. */
export function timeTicksSvg(a: Axes): string[] {
  const y = a.frame.top + a.frame.height + MARGIN.bottom - 10;
  return ticks(a.domain.spanMs / 1000, 8).map((v) => `<text x="${a.x(v * 1000).toFixed(1)}" y="${y}" class="tick" text-anchor="middle">${esc(`${Math.round(v * 10) / 10}s`)}</text>`);
}

/** The chart's title and its metrics in their colours, above the plot. */
export function legendSvg(title: string, metrics: readonly MetricTimeline[], frame: Frame): string {
  const legend = metrics.map((m) => `<tspan fill="${m.color}">● ${esc(m.metric.label)}</tspan>`).join("  ");
  return `<text x="${frame.left}" y="${frame.top - 10}" class="legend">${esc(title)}  ${legend}</text>`;
}

/** Labels where the layout put them, each with the data-* attributes of what it names. */
export function labelsSvg(placed: readonly PlacedLabel[]): string {
  const text = (l: PlacedLabel): string => {
    const data = Object.entries(l.data ?? {})
      .map(([k, v]) => ` data-${k}="${esc(v)}"`)
      .join("");
    const fill = l.fill === undefined ? "" : ` fill="${l.fill}"`;
    return `<text x="${l.x.toFixed(1)}" y="${l.y.toFixed(1)}" class="${l.className}" text-anchor="${l.anchor}"${fill}${data}>${esc(l.shown)}</text>`;
  };
  return `<g class="labels">${placed.map(text).join("")}</g>`;
}

/** The labels laid out in the plot, off the data where they can be; how many did not fit. */
export function placeLabels(labels: readonly Label[], frame: Frame, data?: Obstacles): { placed: PlacedLabel[]; unplaced: number } {
  return layoutLabels(labels, { x0: frame.left, y0: frame.top, x1: frame.left + frame.width, y1: frame.top + frame.height }, data);
}

/**
 * One run's timeline as a panel: its plot `top` px down the SVG, on the axes of `domain` (one
 * timeline's own, or one shared by runs drawn one above the other), as tall as a chart starts or
 * taller if its labels need it. Returns its SVG and where the next panel may start.
 */
export function panelSvg(t: ProbeTimeline, domain: Domain, top: number): { readonly svg: string[]; readonly bottom: number } {
  let height = CHART_HEIGHT;
  for (;;) {
    const axes = axesOn(domain, plotFrame(height, top + MARGIN.top));
    const drawing = drawTimeline(t, axes);
    const { placed, unplaced } = placeLabels(drawing.labels, axes.frame, drawing.data);
    if (unplaced > 0) {
      // a row for each label left out, and lay them all out again on the taller plot
      height += unplaced * LABEL_ROW;
      continue;
    }
    const svg = [plotSvg(axes.frame), ...drawing.under, ...gridSvg(axes), ...timeTicksSvg(axes), ...drawing.over, labelsSvg(placed), legendSvg(t.chart.title, t.metrics, axes.frame)];
    return { svg, bottom: top + height };
  }
}

/** An SVG element holding `height` px of panels. */
export function svgElement(label: string, height: number, panels: readonly string[]): string {
  return [`<svg class="chart" viewBox="0 0 ${CHART_WIDTH} ${height}" width="${CHART_WIDTH}" height="${height}" role="img" aria-label="${esc(label)}">`, ...panels, "</svg>"].join("");
}

/** One run's timeline of a probe's chart, as an SVG element. */
export function chartSvg(t: ProbeTimeline): string {
  const panel = panelSvg(t, domainFor([t]), 0);
  return svgElement(`${t.probe} ${t.chart.title} over time`, panel.bottom, panel.svg);
}
