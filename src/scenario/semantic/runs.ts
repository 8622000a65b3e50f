// Probe runs (steadyState entries, probe steps, a fault's `during:`): sampled no more often than
// an exec or an API call can take, naming a declared probe; then their expectations
// (expectations.ts).
import { joinPointer } from "../document.js";
import { closest, didYouMean } from "../suggest.js";
import { formatDuration, parseDuration } from "../units.js";
import { checkRunExpectations } from "./expectations.js";
import type { Findings } from "./findings.js";
import type { ProbeFacts } from "./probes.js";
import { str } from "./read.js";
import type { Referable } from "./results.js";
import type { RunSite } from "./timeline.js";

/** The least interval of a continuous probe: each sample is an exec or an API call. */
export const MIN_EVERY_MS = 200;

export function checkRuns(findings: Findings, runs: readonly RunSite[], known: Referable): void {
  for (const run of runs) {
    checkEvery(findings, run);
    checkRunExpectations(findings, run, probeOf(findings, run, known), known);
  }
}

function checkEvery(findings: Findings, run: RunSite): void {
  const every = str(run.every);
  const ms = every === undefined ? undefined : parseDuration(every);
  if (every !== undefined && ms !== undefined && ms < MIN_EVERY_MS) {
    findings.add(
      "out-of-range",
      { value: every, bound: `at least ${formatDuration(MIN_EVERY_MS)}` },
      findings.locate(joinPointer(run.path, "every")),
      "each sample is an exec or an API call: sample less often",
    );
  }
}

/** The facts of the probe a run names; a name not declared is reported. */
function probeOf(findings: Findings, run: RunSite, known: Referable): ProbeFacts | undefined {
  const probe = str(run.probe);
  if (probe === undefined) return undefined;
  if (known.probes.has(probe)) return known.probes.get(probe);
  const names = [...known.probes.keys()];
  const hint = names.length === 0 ? "declare it under `probes:`" : `${didYouMean(closest(probe, names))}declared probes: ${names.join(", ")}`;
  findings.add("unknown-probe", { name: probe }, findings.locate(joinPointer(run.path, "probe")), hint);
  return undefined;
}
