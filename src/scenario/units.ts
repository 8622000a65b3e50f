// Durations, percentages and rates as written in a scenario, and their normalised values.
// The patterns mirror schemas/scenario.schema.json ($defs duration, percent, rate); the
// schema rejects anything else before these run, so the parsers return undefined rather
// than throw on bad input.

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/;
const PERCENT = /^(100(?:\.0+)?|[0-9]{1,2}(?:\.[0-9]+)?)%$/;
const RATE = /^([0-9]+(?:\.[0-9]+)?)(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps|tbps|kibit|mibit|gibit|tibit|kibps|mibps|gibps|tibps)$/;

const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Bits per second for one of each rate unit tc accepts (tc(8) "RATES"). */
export const RATE_UNITS: Readonly<Record<string, number>> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
  tbps: 8e12,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  tibit: 1024 ** 4,
  kibps: 8 * 1024,
  mibps: 8 * 1024 ** 2,
  gibps: 8 * 1024 ** 3,
  tibps: 8 * 1024 ** 4,
};

/** `100ms` → 100, `1.5s` → 1500, `2m` → 120000; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null) return undefined;
  const [, num, unit] = m;
  if (num === undefined || unit === undefined) return undefined;
  const factor = MS_PER_UNIT[unit];
  if (factor === undefined) return undefined;
  return roundMs(Number(num) * factor);
}

/** `5%` → 5; undefined when not a percentage in 0..100. */
export function parsePercent(text: string): number | undefined {
  const m = PERCENT.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  return Number(m[1]);
}

export interface ParsedRate {
  readonly bitsPerSecond: number;
  /** as written, e.g. `1mbit` (tc gets this string) */
  readonly text: string;
}

/** `1mbit` → 1e6 bits/s; undefined when not a rate in tc's units. */
export function parseRate(text: string): ParsedRate | undefined {
  const m = RATE.exec(text);
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  const factor = RATE_UNITS[m[2]];
  if (factor === undefined) return undefined;
  return { bitsPerSecond: Number(m[1]) * factor, text };
}

const SIZE = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** `64Mi` → 67108864, `500M` → 5e8, `4096` → 4096 (Kubernetes' suffixes); undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const factor = SIZE_UNITS[m[2] ?? ""];
  if (factor === undefined) return undefined;
  return Number(m[1]) * factor;
}

/** Bytes for people: 67108864 → `64Mi`, 1536 → `1.5Ki`, 5e8 → `476.8Mi`. */
export function formatSize(bytes: number): string {
  const units = ["Ki", "Mi", "Gi", "Ti"];
  let v = bytes;
  let unit = "";
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit === "" ? `${bytes} bytes` : `${Math.round(v * 10) / 10}${unit}`;
}

/** Keeps sub-millisecond precision to the microsecond and drops float noise (0.1s → 100). */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export { formatDuration, trimNumber } from "../expect/format.js";
