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
