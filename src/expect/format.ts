// Formatting of values for thresholds and reports.
import type { Dimension } from "./metrics.js";

/** A number without float noise: 1.3500000000000001 → `1.35`. */
export function trimNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const rounded = Math.round(n * 1e6) / 1e6;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** A duration for people: 1500 → `1.5s`, 100 → `100ms`, 0.25 → `0.25ms`, 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${trimNumber(ms)}ms`;
  if (ms < 60_000) return `${trimNumber(ms / 1000)}s`;
  const minutes = Math.floor(ms / 60_000);
  const rest = ms - minutes * 60_000;
  if (minutes < 60) return rest === 0 ? `${minutes}m` : `${minutes}m${formatDuration(rest)}`;
  const hours = Math.floor(minutes / 60);
  const restMs = ms - hours * 3_600_000;
  return restMs === 0 ? `${hours}h` : `${hours}h${formatDuration(restMs)}`;
}

/** A ratio (0..1) as a percentage: 0.125 → `12.5%`. */
export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return `${trimNumber(Math.round(value * 1e6) / 1e4)}%`;
}

export function formatValue(value: number, dimension: Dimension): string {
  switch (dimension) {
    case "duration":
      return formatDuration(value);
    case "ratio":
      return formatRatio(value);
    case "number":
      return trimNumber(value);
  }
}
