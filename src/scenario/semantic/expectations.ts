// What each expectation names: on a fault step, a metric the fault measures (faults.ts); on a
// probe run, a metric of its probe — an aggregate (`latency.p95.max`) and `samples` only where
// the probe is sampled as a series (`every:`). Each comparison is then read and typed
// (comparisons.ts).
import { readExpectation } from "../../expect/expectation.js";
import { aggregateOf, resolveMetric } from "../../expect/metrics.js";
import type { Dimension } from "../../expect/metrics.js";
import { joinPointer } from "../document.js";
import { closest, didYouMean } from "../suggest.js";
import { checkComparison, reportUnread } from "./comparisons.js";
import { faultMetricDimension } from "./faults.js";
import type { FaultExpectations } from "./faults.js";
import type { Findings } from "./findings.js";
import type { ProbeFacts } from "./probes.js";
import { obj } from "./read.js";
import type { Referable } from "./results.js";
import type { RunSite } from "./timeline.js";

export function checkFaultExpectations(findings: Findings, list: readonly FaultExpectations[], known: Referable): void {
  for (const fe of list) {
    for (const [metric, raw] of Object.entries(fe.expect)) {
      const path = joinPointer(fe.path, "expect", metric);
      const dim = faultMetricDimension(findings, fe.kind, metric, path);
      const read = readExpectation(metric, raw, path);
      if (!read.ok) reportUnread(findings, read.problems, path, "e.g. recovery.time: { below: 30s }");
      else checkComparison(findings, read.expectation, dim, fe.stepIndex, known);
    }
  }
}

/** A probe run's `expect:`; `facts`: its probe's, when it names a declared probe of a known kind. */
export function checkRunExpectations(findings: Findings, run: RunSite, facts: ProbeFacts | undefined, known: Referable): void {
  const expect = obj(run.expect);
  if (expect === undefined) return;
  const series = run.every !== undefined;
  for (const [metric, raw] of Object.entries(expect)) {
    const path = joinPointer(run.path, "expect", metric);
    const dim = facts === undefined ? undefined : runMetricDimension(findings, facts, metric, path, series);
    const samples = obj(raw)?.["samples"];
    if (samples !== undefined) checkSamples(findings, facts, metric, path, series);
    const read = readExpectation(metric, raw, path);
    if (!read.ok) reportUnread(findings, read.problems, path, "e.g. latency.p95: { below: 50ms }", { value: samples });
    else checkComparison(findings, read.expectation, dim, run.stepIndex, known);
  }
}

/** The dimension of a metric of the probe; an aggregate of a run that is no series, or a metric the probe lacks, is reported. */
function runMetricDimension(findings: Findings, facts: ProbeFacts, metric: string, path: string, series: boolean): Dimension | undefined {
  const resolved = resolveMetric(facts.kind, facts.metrics, metric, series);
  if (resolved !== undefined) return resolved.info.dimension;
  if (aggregateOf(facts.kind, facts.metrics, metric) !== undefined) {
    findings.add(
      "needs-every",
      { what: `the aggregate \`${metric}\`` },
      findings.locate(path, "key"),
      "sample the probe continuously with `every: 2s` on this entry (during a fault, or in steadyState)",
    );
    return undefined;
  }
  const names = Object.keys(facts.metrics);
  const extra = facts.kind === "http" ? ", status.NNN" : facts.kind === "dns" ? ", rcode.NAME (e.g. rcode.NOTIMP)" : "";
  const aggregates = series ? "; on a series also METRIC.min, .max, .mean, .median, .last" : "";
  findings.add("unknown-metric", { metric, kind: facts.kind }, findings.locate(path, "key"), `${didYouMean(closest(metric, names))}${facts.kind} metrics: ${names.join(", ")}${extra}${aggregates}`);
  return undefined;
}

/** `samples:` (a share of the samples that must pass) is about a series, and about each sample rather than an aggregate. */
function checkSamples(findings: Findings, facts: ProbeFacts | undefined, metric: string, path: string, series: boolean): void {
  if (!series) {
    findings.add("needs-every", { what: "`samples`" }, findings.locate(joinPointer(path, "samples"), "key"), "a share of samples is about a series: sample the probe with `every: 2s`");
  } else if (facts !== undefined && resolveMetric(facts.kind, facts.metrics, metric, series)?.aggregate !== undefined) {
    findings.add(
      "conflicting-keys",
      { key: "samples", other: metric },
      findings.locate(joinPointer(path, "samples"), "key"),
      "an aggregate is one value: judge the samples one by one (no suffix) or the aggregate (no samples)",
    );
  }
}
