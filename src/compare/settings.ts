// compare's settings: the rank test's level, the threshold of a change that matters, the
// smallest effect on samples that matters, the smallest change of a duration that matters.
// Defaults here; a value out of range is a usage error (exit 2), whoever passes it
// (--threshold, --min-change, their --compare- forms, a caller of compareRuns).
import { UsageError } from "../errors.js";
import type { CompareOptions, Settings } from "./types.js";

export const DEFAULT_SETTINGS: Settings = { alpha: 0.01, threshold: 0.2, minEffect: 0.33, minChangeMs: 0 };

function setting(name: keyof Settings, value: number | undefined, ok: (v: number) => boolean, range: string): number {
  if (value === undefined) return DEFAULT_SETTINGS[name];
  if (!Number.isFinite(value) || !ok(value)) throw new UsageError(`compare: ${name} must be ${range} (got ${value})`);
  return value;
}

export function resolveSettings(options: CompareOptions = {}): Settings {
  return {
    alpha: setting("alpha", options.alpha, (v) => v > 0 && v < 1, "above 0 and below 1"),
    threshold: setting("threshold", options.threshold, (v) => v >= 0, "0 or more"),
    minEffect: setting("minEffect", options.minEffect, (v) => v >= 0 && v <= 1, "from 0 to 1"),
    minChangeMs: setting("minChangeMs", options.minChangeMs, (v) => v >= 0, "0 or more"),
  };
}
