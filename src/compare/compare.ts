// compareRuns(base, new): two runs' journals → one Comparison, the value every view of
// `chaos-run compare` renders and `run --compare-to` gates on. Pure: no I/O, no clock; the
// same journals and settings give the same Comparison.
import { STEADY, runFigures, stepLabel, stepSectionKey, type Figure, type RunFigures, type Section } from "./figures.js";
import { judge } from "./judge.js";
import { matchPods, matchSteps, probeShape, type StepPair } from "./match.js";
import { readPlan, type PlanView } from "./plan-view.js";
import { resolveSettings } from "./settings.js";
import { COMPARISON_VERSION, VERDICTS } from "./types.js";
import type { CompareOptions, Comparison, ComparisonRow, Journal, RunSummary, Settings, Unmatched, Verdict } from "./types.js";

function summaryOf(j: Journal): RunSummary {
  return { runId: j.runId, scenario: j.scenario.name, file: j.scenario.file, sha256: j.scenario.sha256, startedAt: j.startedAt, status: j.status, exitCode: j.exitCode };
}

function runNotes(base: Journal, next: Journal): string[] {
  const notes: string[] = [];
  if (base.scenario.name !== next.scenario.name) notes.push(`the runs are of different scenarios (base "${base.scenario.name}", new "${next.scenario.name}"): compared only where their steps match`);
  else if (base.scenario.sha256 !== next.scenario.sha256) notes.push(`the scenario file changed between the runs (sha256 ${base.scenario.sha256.slice(0, 12)} → ${next.scenario.sha256.slice(0, 12)})`);
  for (const [side, j] of [["base", base] as const, ["new", next] as const]) {
    if (j.status !== "passed" && j.status !== "failed") notes.push(`the ${side} run ended ${j.status}${j.exitCode === null ? "" : ` (exit ${j.exitCode})`}: its journal may hold only part of the run`);
  }
  return notes;
}

/** One section to compare: its key and the plan's view of its step in each run (none in the steady state). */
interface SectionPair {
  readonly key: string;
  readonly label: string;
  readonly steps: StepPair | undefined;
}

function sectionPairs(pairs: readonly StepPair[]): SectionPair[] {
  const steady = (s: (typeof STEADY)[keyof typeof STEADY]): SectionPair => ({ key: s.key, label: s.label, steps: undefined });
  const steps = pairs.map((p): SectionPair => ({ key: stepSectionKey(p.base.index), label: stepLabel(p.base), steps: p }));
  return [steady(STEADY.before), steady(STEADY.monitor), ...steps, steady(STEADY.after)];
}

interface Context {
  readonly settings: Settings;
  readonly plans: { readonly base: PlanView; readonly new: PlanView };
  readonly runs: { readonly base: RunFigures; readonly new: RunFigures };
  readonly rows: ComparisonRow[];
  readonly unmatched: Unmatched[];
}

const who = (f: Figure): string => `${f.origin === "fault" ? "fault" : "probe"} ${f.probe}${f.pod === null ? "" : ` on ${f.pod}`}`;

function row(ctx: Context, pair: SectionPair, b: Figure, n: Figure): ComparisonRow {
  const j = judge({ base: b, new: n, settings: ctx.settings });
  return {
    section: pair.label,
    step: pair.steps?.base.index ?? null,
    origin: b.origin,
    probe: b.probe,
    pod: b.pod,
    newPod: n.pod,
    metric: b.metric,
    dimension: b.dimension,
    better: b.meaning.better ?? null,
    configured: b.configured,
    ...j,
  };
}

/** Why a figure of both runs is not compared: its probe runs something else in each (where a plan does not say, by name alone). */
function shapeDifference(ctx: Context, pair: SectionPair, b: Figure, n: Figure): string | undefined {
  const sb = probeShape(ctx.plans.base, pair.steps?.base, b.basis, b.probe);
  const sn = probeShape(ctx.plans.new, pair.steps?.new, n.basis, n.probe);
  return sb === undefined || sn === undefined || sb === sn ? undefined : `probe ${b.probe} is not the same probe in both runs (its kind, command or query differs)`;
}

function oneSided(ctx: Context, pair: SectionPair, only: Section, other: Section | undefined, side: "base" | "new"): void {
  const reported = new Set<string>();
  const groupOf = (f: Figure): string => `${f.origin}\u0000${f.probe}\u0000${f.podKey}`;
  const otherGroups = new Set([...(other?.figures.values() ?? [])].map(groupOf));
  for (const [key, f] of only.figures) {
    if (other?.figures.has(key) === true) continue;
    const group = groupOf(f);
    const groupKnown = otherGroups.has(group);
    if (!groupKnown && reported.has(group)) continue;
    reported.add(group);
    const what = groupKnown ? `${who(f)}: ${f.metric}` : `${who(f)} (${f.origin})`;
    ctx.unmatched.push({ section: pair.label, what, side, reason: `measured in the ${side} run only` });
  }
}

function compareSection(ctx: Context, pair: SectionPair): void {
  const b = ctx.runs.base.sections.get(pair.key);
  const n = ctx.runs.new.sections.get(pair.key);
  if (b !== undefined) oneSided(ctx, pair, b, n, "base");
  if (n !== undefined) oneSided(ctx, pair, n, b, "new");
  if (b === undefined || n === undefined) return;
  const differing = new Set<string>();
  for (const [key, fb] of b.figures) {
    const fn = n.figures.get(key);
    if (fn === undefined) continue;
    const why = shapeDifference(ctx, pair, fb, fn);
    if (why === undefined) ctx.rows.push(row(ctx, pair, fb, fn));
    else if (!differing.has(fb.probe)) {
      differing.add(fb.probe);
      ctx.unmatched.push({ section: pair.label, what: `probe ${fb.probe}`, side: "both", reason: why });
    }
  }
}

function countOf(rows: readonly ComparisonRow[]): Record<Verdict, number> {
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const r of rows) counts[r.verdict]++;
  return counts;
}

/** Compares two runs: every figure measured in both, where their steps match, judged against the runs' own noise. */
export function compareRuns(base: Journal, next: Journal, options: CompareOptions = {}): Comparison {
  const settings = resolveSettings(options);
  const plans = { base: readPlan(base.plan), new: readPlan(next.plan) };
  const steps = matchSteps(plans.base, plans.new);
  const pods = matchPods(base, plans.base, next, plans.new);
  const runs = { base: runFigures(base, plans.base, pods.base), new: runFigures(next, plans.new, pods.new) };
  const ctx: Context = { settings, plans, runs, rows: [], unmatched: [...steps.unmatched, ...pods.unmatched] };
  for (const pair of sectionPairs(steps.pairs)) compareSection(ctx, pair);
  const counts = countOf(ctx.rows);
  const notes = runNotes(base, next);
  if (pods.note !== null) notes.push(pods.note);
  return { comparisonVersion: COMPARISON_VERSION, base: summaryOf(base), new: summaryOf(next), settings, notes, rows: ctx.rows, unmatched: ctx.unmatched, counts, regressed: counts.regressed > 0 };
}
