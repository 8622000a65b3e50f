// Saved results (`save: NAME` on a probe run) and the references to them in expressions
// (`baseline.latency.p95`): a name is saved once, used only after the step that saves it, and
// names a metric its probe measures.
import type { Expr } from "../../expect/expression.js";
import type { Dimension } from "../../expect/metrics.js";
import { resolveMetric } from "../../expect/metrics.js";
import type { Located } from "../document.js";
import { joinPointer } from "../document.js";
import { closest, didYouMean } from "../suggest.js";
import type { Findings } from "./findings.js";
import type { DeclaredProbes } from "./probes.js";
import { str } from "./read.js";
import type { RunSite } from "./timeline.js";

export interface SavedAt {
  readonly stepIndex: number;
  readonly probe: string | undefined;
  readonly path: string;
  readonly label: string;
  /** saved from a continuous probe: its aggregates (NAME.METRIC.max) can be referred to */
  readonly series: boolean;
}

/** What an expression's references are checked against. */
export interface Referable {
  readonly saved: ReadonlyMap<string, SavedAt>;
  readonly probes: DeclaredProbes;
}

/** The results the probe runs save, by name; a name saved twice is reported (the first stands). */
export function savedResults(findings: Findings, runs: readonly RunSite[]): Map<string, SavedAt> {
  const saved = new Map<string, SavedAt>();
  for (const run of runs) {
    const save = str(run.save);
    if (save === undefined) continue;
    const prior = saved.get(save);
    if (prior !== undefined) {
      findings.add("duplicate-result", { name: save }, findings.locate(joinPointer(run.path, "save")), `${prior.label} saves \`${save}\` already: pick another name`);
      continue;
    }
    saved.set(save, { stepIndex: run.stepIndex, probe: str(run.probe), path: joinPointer(run.path, "save"), label: run.label, series: run.every !== undefined });
  }
  return saved;
}

/**
 * The dimension of a saved result's metric named in an expression used at `stepIndex` (-1:
 * steadyState); undefined, and reported at `span`, when it cannot be used there.
 */
export function referenceDimension(findings: Findings, ref: Extract<Expr, { kind: "ref" }>, span: () => Located, stepIndex: number, known: Referable): Dimension | undefined {
  const { saved, probes } = known;
  const at = saved.get(ref.result);
  if (at === undefined) {
    const names = [...saved.keys()];
    const hint = `${didYouMean(closest(ref.result, saved.keys()))}${names.length > 0 ? `saved results: ${names.join(", ")}` : "save one with `save: NAME` on a probe step"}`;
    findings.add("unknown-result", { name: ref.result }, span(), hint);
    return undefined;
  }
  if (at.stepIndex >= stepIndex) {
    const when =
      stepIndex < 0
        ? "steadyState runs before every step"
        : at.stepIndex === stepIndex
          ? "a step's results are available from the next step on"
          : "results are available from the step after the one that saves them";
    findings.add("result-used-before-saved", { name: ref.result, savedAt: at.label }, span(), when);
    return undefined;
  }
  const facts = at.probe === undefined ? undefined : probes.get(at.probe);
  if (facts === undefined) return undefined;
  const resolved = resolveMetric(facts.kind, facts.metrics, ref.metric, at.series);
  if (resolved !== undefined) return resolved.info.dimension;
  const names = Object.keys(facts.metrics);
  const s = closest(ref.metric, names);
  findings.add(
    "unknown-metric",
    { metric: ref.metric, kind: facts.kind },
    span(),
    `${s !== undefined ? `did you mean \`${ref.result}.${s}\`? ` : ""}${facts.kind} metrics: ${names.join(", ")}${at.series ? "; of a series also METRIC.min, .max, .mean, .median, .last" : ""}`,
  );
  return undefined;
}
