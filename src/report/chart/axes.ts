// A chart's axes: the domain (the run's clock on x, the metric's values on y) and the plot's
// rectangle it is drawn in. Kept apart so that one domain can serve several plots: two runs drawn
// one above the other on the same axes read against each other. Pure.
import type { Dimension } from "../../expect/metrics.js";

/** The plot's rectangle in the SVG's coordinates. */
export interface Frame {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** What the axes span: ms since the run started on x, the metric's values on y (from 0). */
export interface Domain {
  readonly spanMs: number;
  readonly yMax: number;
  readonly yTicks: readonly number[];
  readonly dimension: Dimension;
}

/** A domain on a frame: where a time and a value are drawn. */
export interface Axes {
  readonly domain: Domain;
  readonly frame: Frame;
  readonly x: (ms: number) => number;
  /** a value above the domain is drawn at the top edge */
  readonly y: (v: number) => number;
}

/**
 * Round tick values from 0, about `count` steps: up to `max` (the time axis: no tick past the
 * run's end), or, with `cover`, up to the first tick at or above it (the value axis: its top is
 * the last tick, and a value just above a round one must not be drawn as off the scale).
 */
export function ticks(max: number, count = 4, cover = false): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  const last = out[out.length - 1] ?? 0;
  if (cover && last < max - step * 1e-9) out.push(Math.round((last + step) / step) * step);
  return out;
}

/** What a chart's y domain is made from. */
export interface Extent {
  /** every value drawn, of every metric */
  readonly values: readonly number[];
  /** the values of the chart's first metric (the one a person reads first: p50) */
  readonly firstValues: readonly number[];
  /** the top of the saved baseline's band */
  readonly bandHigh: number | undefined;
  /** the expectations' thresholds */
  readonly limits: readonly number[];
}

/**
 * The y domain: the scale follows the bulk of the samples, so that one outlier (a p95 of a few
 * requests) does not flatten the rest (what lies above is drawn at the top edge); the first
 * metric, the baseline band and thresholds near the data are always in it.
 */
export function domainOf(extent: Extent, spanMs: number, dimension: Dimension): Domain {
  const all = [...extent.values].sort((a, b) => a - b);
  const bulk = all.length === 0 ? 0 : (all[Math.min(all.length - 1, Math.floor(all.length * 0.9))] ?? 0);
  const dataMax = Math.max(bulk * 1.25, 0, ...extent.firstValues, extent.bandHigh ?? 0);
  // a threshold far above the data would flatten it: drawn at the top edge instead
  const cap = dataMax > 0 ? dataMax * 4 : Math.max(1, ...extent.limits);
  let max = Math.max(dataMax, ...extent.limits.filter((v) => v <= cap));
  if (dimension === "ratio") max = Math.max(max, 0.05);
  if (max === 0) max = 1;
  const yTicks = ticks(max * 1.08, 4, true);
  return { spanMs: Math.max(spanMs, 1), yMax: yTicks[yTicks.length - 1] ?? max, yTicks, dimension };
}

/** The union of several extents: runs drawn on the same axes. */
export function unionOf(extents: readonly Extent[]): Extent {
  const highs = extents.map((e) => e.bandHigh).filter((v): v is number => v !== undefined);
  return {
    values: extents.flatMap((e) => e.values),
    firstValues: extents.flatMap((e) => e.firstValues),
    bandHigh: highs.length === 0 ? undefined : Math.max(...highs),
    limits: extents.flatMap((e) => e.limits),
  };
}

export function axesOn(domain: Domain, frame: Frame): Axes {
  const { spanMs, yMax } = domain;
  return {
    domain,
    frame,
    x: (ms) => frame.left + (Math.max(0, Math.min(spanMs, ms)) / spanMs) * frame.width,
    y: (v) => frame.top + frame.height - (Math.min(v, yMax) / yMax) * frame.height,
  };
}
