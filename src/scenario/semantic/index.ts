// Checks the schema cannot express, one module per concern, each reporting through Findings
// (findings.ts) and located by the same pointer → node function as the schema's diagnostics:
//   target.ts        the blast radius (mode, maxPods, pods listed) and system namespaces
//   agent.ts         the agent's lease against its ttl
//   probes.ts        each declared probe's fields by kind (URLs, templates, JSONPath, regex, apiVersion)
//   templates.ts     {{ … }} templates and probe URLs (the URL's shape: urlShapeProblem in ../template.ts)
//   timeline.ts      steadyState and the steps in order: step names; where probes run, collected
//   faults.ts        each fault step: nothing after a podDelete, stress sizes, CIDRs; the metrics faults measure
//   results.ts       saved results: each name once, and references to them (used after the step that saves them)
//   runs.ts          probe runs: `every:` and the probe they name
//   expectations.ts  the metric each expectation names (of its fault, of its probe; series only where sampled)
//   comparisons.ts   each comparison read and its operands typed (durations, numbers, ratios)
// read.ts reads the data defensively: the checks run (and report) even when the schema found
// problems elsewhere, so a file's problems come all at once. The order semanticDiagnostics
// runs them in is the order of what they find, and it is kept (see findings.ts).
import type { Diagnostic } from "../diagnostics.js";
import type { ParsedSource } from "../document.js";
import { checkAgent } from "./agent.js";
import { checkFaultExpectations } from "./expectations.js";
import { Findings } from "./findings.js";
import { checkProbes } from "./probes.js";
import { obj } from "./read.js";
import { savedResults } from "./results.js";
import { checkRuns } from "./runs.js";
import { checkTarget } from "./target.js";
import { checkTimeline } from "./timeline.js";

export { MIN_EVERY_MS } from "./runs.js";

export function semanticDiagnostics(source: ParsedSource): Diagnostic[] {
  const root = obj(source.data);
  if (root === undefined) return [];
  const findings = new Findings(source);
  const target = obj(root["target"]);
  if (target !== undefined) checkTarget(findings, target, root["steps"]);
  const agent = obj(root["agent"]);
  if (agent !== undefined) checkAgent(findings, agent);
  const probes = checkProbes(findings, obj(root["probes"]));
  const timeline = checkTimeline(findings, root);
  const known = { saved: savedResults(findings, timeline.runs), probes };
  checkFaultExpectations(findings, timeline.faultExpectations, known);
  checkRuns(findings, timeline.runs, known);
  return findings.diagnostics;
}
