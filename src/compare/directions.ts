// Which way is better, per figure: the one table compare reads to call a change a regression or
// an improvement. A figure not listed here has no better direction (a k8s field, a Prometheus
// query's value, how many requests a workload sent): a change beyond the noise is said to be
// "changed", never a regression. Names are those of src/expect/metrics.ts.
import { FAULT_METRICS, PROBE_METRICS, type Dimension, type MetricInfo } from "../expect/metrics.js";
import type { Better } from "./types.js";

export type { Better };

export interface FigureMeaning {
  readonly better: Better | undefined;
  /**
   * No value is the worst value: recovery.time has none when nothing recovered in the window,
   * so a run that recovered and one that did not differ in the worse direction.
   */
  readonly noValueIsWorst: boolean;
}

/** Probe metrics, whatever the kind (a name means the same in every kind that has it). */
const PROBE_BETTER: ReadonlyMap<string, Better> = new Map([
  ["errorRatio", "lower"],
  ["errors", "lower"],
  ["timeouts", "lower"],
  ["refused", "lower"],
  ["status.5xx", "lower"],
  ["failedRequests", "lower"],
  ["non2xxResponses", "lower"],
  ["requestsPerSecond", "higher"],
  ["succeeded", "higher"],
  ["stdoutMatched", "higher"],
  ["timedOut", "lower"],
  ["duration", "lower"],
]);

/** What faults measured, by the fault's kind; the HTTP proxy's counts say what the workload and the fault did, not how well the service held. */
const FAULT_BETTER: ReadonlyMap<string, Better> = new Map([
  ["kill recovery.time", "lower"],
  ["kill restarts", "lower"],
  ["podDelete recovery.time", "lower"],
  ["podDelete pods.ready", "higher"],
  ["stress cpu.wait", "lower"],
  ["stress cpu.throttled", "lower"],
  ["stress cpu.throttledTime", "lower"],
  ["stress memory.oomKilled", "lower"],
  ["stress restarts", "lower"],
  ["stress oomKilled", "lower"],
]);

const NO_VALUE_IS_WORST: ReadonlySet<string> = new Set(["kill recovery.time", "podDelete recovery.time"]);

/**
 * Figures that count some of a total measured beside them in the same probe run or fault: what
 * they are counted out of, and whether the figure is the count itself or the ratio of it to the
 * total. Such a figure is judged by a test of two proportions, not against a relative threshold
 * (0 errors of 400 requests, then 1 of 400, is chance; 0 then 120 is not).
 */
export interface CountOf {
  readonly total: string;
  readonly ratio: boolean;
}

const PROBE_COUNTS: ReadonlyMap<string, CountOf> = new Map([
  ["failedRequests", { total: "completeRequests", ratio: false }],
  ["non2xxResponses", { total: "completeRequests", ratio: false }],
  ["errors", { total: "requests", ratio: false }],
  ["errorRatio", { total: "requests", ratio: true }],
  ["timeouts", { total: "requests", ratio: false }],
  ["refused", { total: "requests", ratio: false }],
  ...["1xx", "2xx", "3xx", "4xx", "5xx"].map((c): [string, CountOf] => [`status.${c}`, { total: "requests", ratio: false }]),
]);

const FAULT_COUNTS: ReadonlyMap<string, CountOf> = new Map([
  ["http faulted", { total: "requests", ratio: false }],
  ["http errors", { total: "faulted", ratio: false }],
  ["http errors.rate", { total: "faulted", ratio: true }],
]);

/** What a probe's metric counts out of (undefined: it is no count of a total). */
export function probeCountOf(metric: string): CountOf | undefined {
  return PROBE_COUNTS.get(metric);
}

export function faultCountOf(kind: string, metric: string): CountOf | undefined {
  return FAULT_COUNTS.get(`${kind} ${metric}`);
}

export function probeMeaning(metric: string): FigureMeaning {
  const better = metric.startsWith("latency.") ? "lower" : PROBE_BETTER.get(metric);
  return { better, noValueIsWorst: false };
}

export function faultMeaning(kind: string, metric: string): FigureMeaning {
  const key = `${kind} ${metric}`;
  return { better: FAULT_BETTER.get(key), noValueIsWorst: NO_VALUE_IS_WORST.has(key) };
}

/** Measured added latency: more than the base run added is worse. */
export const ADDED_LATENCY: FigureMeaning = { better: "lower", noValueIsWorst: false };

function infoOf(table: Readonly<Record<string, MetricInfo>> | undefined, metric: string): MetricInfo | undefined {
  return table !== undefined && Object.hasOwn(table, metric) ? table[metric] : undefined;
}

/** The dimension of a probe's metric (durations in ms, ratios 0..1); `number` when the kind does not say. */
export function probeDimension(kind: string, metric: string): Dimension {
  const table = Object.hasOwn(PROBE_METRICS, kind) ? PROBE_METRICS[kind as keyof typeof PROBE_METRICS] : undefined;
  return infoOf(table, metric)?.dimension ?? "number";
}

export function faultDimension(kind: string, metric: string): Dimension {
  const table = Object.hasOwn(FAULT_METRICS, kind) ? FAULT_METRICS[kind as keyof typeof FAULT_METRICS] : undefined;
  return infoOf(table, metric)?.dimension ?? "number";
}
