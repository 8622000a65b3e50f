// Every figure one run measured, read from its journal alone and grouped by where it was
// measured: the steady state (before, after, and the continuous probes' samples taken outside
// the steps), then each step (its probe runs, its probes during the fault, the continuous
// samples taken while it ran, what the fault itself observed in each pod, and the latency the
// fault added as the probes measured it). Beside them, the run's own noise: the values each
// figure took where nothing was disturbed, which is what a single value is judged against.
// A journal of 10,000 samples of 19 metrics each is read in one pass: a sample's section and
// its figures are found once per series, not once per value.
import type { Dimension } from "../expect/metrics.js";
import type { JournalFault, JournalProbe } from "../report/journal.js";
import { ADDED_LATENCY, type CountOf, faultCountOf, faultDimension, faultMeaning, probeCountOf, probeDimension, probeMeaning, type FigureMeaning } from "./directions.js";
import type { Spread } from "./noise.js";
import type { PlanView, StepView } from "./plan-view.js";
import { median, sorted } from "./stats.js";
import type { Journal, Origin } from "./types.js";

/** A run's reference values for a figure, where its noise is read; shared by the figures that read it. */
export interface Reference {
  readonly values: number[];
  /** the spread of its values, once computed (noise.ts) */
  spread?: Spread;
}

export interface Figure {
  readonly origin: Origin;
  /** where its values were measured: the origin, or for a derived figure the origin of the figure it was derived from */
  readonly basis: Origin;
  /** the probe's name, or the fault's kind */
  readonly probe: string;
  readonly pod: string | null;
  /** the pod as both runs know it (PodKey) */
  readonly podKey: string;
  readonly metric: string;
  readonly dimension: Dimension;
  readonly meaning: FigureMeaning;
  /** the values measured, in the order measured (no value left out) */
  readonly values: number[];
  /** values recorded as not measured (null) */
  nulls: number;
  /** samples of a continuous probe (every:), judged by the rank test */
  series: boolean;
  /** what the scenario configured for it (added latency) */
  readonly configured: number | null;
  /** undisturbed measurements of the same probe, pod and metric; for a fault's figure, its values over the step's pods */
  readonly reference: Reference;
  /** a count of some of a total measured in the same probe runs or fault (errors of requests): the total's figure */
  counted?: { readonly of: CountOf; readonly total: Figure } | undefined;
}

export interface Section {
  readonly key: string;
  readonly label: string;
  readonly step: number | null;
  /** by figureKey */
  readonly figures: Map<string, Figure>;
}

export interface RunFigures {
  readonly sections: ReadonlyMap<string, Section>;
}

/** A pod's name as both runs know it (identical names, or the place in the plan when names differ). */
export type PodKey = (pod: string | null) => string;

export const figureKey = (origin: Origin, probe: string, pod: string, metric: string): string => `${origin}\u0000${probe}\u0000${pod}\u0000${metric}`;

export const STEADY = {
  before: { key: "before", label: "steady state (before)" },
  monitor: { key: "monitor", label: "steady state (through the run)" },
  after: { key: "after", label: "steady state (after)" },
} as const;

export function stepSectionKey(index: number): string {
  return `step:${index}`;
}

export function stepLabel(step: StepView): string {
  return `step ${step.index + 1} ${step.name}`;
}

/**
 * Times are compared as the journal writes them, ISO 8601 in UTC with milliseconds (the schema's
 * pattern): their order as strings is their order in time, and 10,000 samples need no Date.parse.
 */
type Time = string;

/** Later than any time. */
const NEVER: Time = "\uffff";

interface Window {
  readonly section: Section;
  readonly isFault: boolean;
  readonly start: Time;
  readonly end: Time;
}

/** One run being read: its sections, when its steps ran, and its reference values. */
interface Reading {
  readonly sections: Map<string, Section>;
  readonly byStep: Map<number, Section>;
  readonly windows: readonly Window[];
  /** when the first fault step began (NEVER: none began) */
  readonly disturbedFrom: Time;
  /** the first fault step's index (+∞: none) */
  readonly firstFaultStep: number;
  readonly references: Map<string, Reference>;
  /** the figures of one series or probe run in one section, by metric */
  readonly groups: Map<string, Map<string, Figure>>;
  readonly podKey: PodKey;
}

function newSection(sections: Map<string, Section>, key: string, label: string, step: number | null): Section {
  const s: Section = { key, label, step, figures: new Map() };
  sections.set(key, s);
  return s;
}

/** When each step ran: from its step:start entry in the timeline (they come in the plan's order) to the next one, or to the after steady state. */
function layout(j: Journal, plan: PlanView, podKey: PodKey): Reading {
  const sections = new Map<string, Section>();
  for (const s of Object.values(STEADY)) newSection(sections, s.key, s.label, null);
  const byStep = new Map(plan.steps.map((s) => [s.index, newSection(sections, stepSectionKey(s.index), stepLabel(s), s.index)]));
  const starts = j.timeline.filter((t) => t.type === "step:start").map((t) => t.at);
  const end =
    j.probes
      .filter((p) => p.phase === "after")
      .map((p) => p.startedAt ?? p.at)
      .sort()[0] ?? NEVER;
  const windows = plan.steps
    .slice(0, starts.length)
    .map((step, i): Window => ({ section: byStep.get(step.index) as Section, isFault: step.kind === "fault", start: starts[i] ?? "", end: starts[i + 1] ?? end }));
  const firstFault = windows.find((w) => w.isFault);
  const firstFaultStep = plan.steps.find((s) => s.kind === "fault")?.index ?? Number.POSITIVE_INFINITY;
  return { sections, byStep, windows, disturbedFrom: firstFault?.start ?? NEVER, firstFaultStep, references: new Map(), groups: new Map(), podKey };
}

/** Where a probe result belongs, and whether nothing was disturbed when it was measured (before the first fault step began, or in the steady state's own phases). */
function place(r: Reading, p: JournalProbe): { section: Section; undisturbed: boolean } | undefined {
  if (p.phase === "before" || p.phase === "after") return { section: r.sections.get(p.phase) as Section, undisturbed: true };
  if (p.phase === "monitor") {
    const at: Time = p.at;
    let section = r.sections.get("monitor") as Section;
    for (const w of r.windows) if (at >= w.start && at < w.end) section = w.section;
    return { section, undisturbed: at < r.disturbedFrom };
  }
  const section = p.step === null ? undefined : r.byStep.get(p.step);
  return section === undefined ? undefined : { section, undisturbed: p.phase === "step" && (p.step ?? 0) < r.firstFaultStep };
}

function referenceOf(r: Reading, key: string): Reference {
  let ref = r.references.get(key);
  if (ref === undefined) {
    ref = { values: [] };
    r.references.set(key, ref);
  }
  return ref;
}

type FigureSpec = Omit<Figure, "values" | "nulls" | "series">;

function figureIn(section: Section, key: string, spec: () => FigureSpec): Figure {
  let f = section.figures.get(key);
  if (f === undefined) {
    f = { ...spec(), values: [], nulls: 0, series: false };
    section.figures.set(key, f);
  }
  return f;
}

function record(f: Figure, value: number | null, series: boolean): void {
  if (value === null) f.nulls++;
  else f.values.push(value);
  if (series) f.series = true;
}

function probeFigure(r: Reading, section: Section, p: JournalProbe, pod: string, metric: string): Figure {
  const reference = referenceOf(r, `probe\u0000${p.probe}\u0000${pod}\u0000${metric}`);
  const kind = p.kind ?? "ab";
  return figureIn(section, figureKey(p.phase, p.probe, pod, metric), () => ({
    origin: p.phase,
    basis: p.phase,
    probe: p.probe,
    pod: p.pod,
    podKey: pod,
    metric,
    dimension: probeDimension(kind, metric),
    meaning: probeMeaning(metric),
    configured: null,
    reference,
  }));
}

function addProbe(r: Reading, p: JournalProbe): void {
  const placed = place(r, p);
  if (placed === undefined) return;
  const pod = r.podKey(p.pod);
  const groupKey = `${placed.section.key}\u0000${p.phase}\u0000${p.probe}\u0000${pod}`;
  let group = r.groups.get(groupKey);
  if (group === undefined) {
    group = new Map();
    r.groups.set(groupKey, group);
  }
  const series = p.series !== undefined;
  const metrics = p.metrics;
  for (const metric in metrics) {
    const value = metrics[metric];
    let f = group.get(metric);
    if (f === undefined) {
      f = probeFigure(r, placed.section, p, pod, metric);
      group.set(metric, f);
    }
    if (series) f.series = true;
    if (value === null || value === undefined) f.nulls++;
    else {
      f.values.push(value);
      if (placed.undisturbed) f.reference.values.push(value);
    }
  }
}

function addObserved(r: Reading, f: JournalFault): void {
  const o = f.observed;
  const section = r.byStep.get(f.step);
  if (o === undefined || o === null || section === undefined) return;
  const pod = r.podKey(f.pod);
  for (const [metric, value] of Object.entries(o.metrics)) {
    // the spread of the same figure over the step's pods is this run's noise for it
    const reference = referenceOf(r, `fault\u0000${f.step}\u0000${o.kind}\u0000${metric}`);
    const spec = (): FigureSpec => ({
      origin: "fault",
      basis: "fault",
      probe: o.kind,
      pod: f.pod,
      podKey: pod,
      metric,
      dimension: faultDimension(o.kind, metric),
      meaning: faultMeaning(o.kind, metric),
      configured: null,
      reference,
    });
    record(figureIn(section, figureKey("fault", o.kind, pod, metric), spec), value, false);
    if (value !== null) reference.values.push(value);
  }
}

const ADDED_FROM = "latency.p50";

/** The latency a fault step added as its probes measured it: their median latency.p50 in the step less the undisturbed median of the same probe and pod. */
function addAddedLatency(r: Reading, step: StepView): void {
  const section = r.byStep.get(step.index);
  if (step.delayMs === null || section === undefined) return;
  for (const f of [...section.figures.values()]) {
    if (f.metric !== ADDED_FROM || (f.origin !== "during" && f.origin !== "monitor") || f.values.length === 0 || f.reference.values.length === 0) continue;
    const added = median(sorted(f.values)) - median(sorted(f.reference.values));
    const metric = f.origin === "during" ? `${ADDED_FROM} added` : `${ADDED_FROM} added (through the run)`;
    const spec = (): FigureSpec => ({ ...f, origin: "derived", basis: f.origin, metric, dimension: "duration", meaning: ADDED_LATENCY, configured: step.delayMs });
    record(figureIn(section, figureKey("derived", f.probe, f.podKey, metric), spec), added, false);
  }
}

/** Each count of a total, with the figure of its total measured beside it (the same origin, probe or fault, pod and section). */
function linkTotals(r: Reading): void {
  for (const section of r.sections.values()) {
    for (const f of section.figures.values()) {
      const of = f.origin === "fault" ? faultCountOf(f.probe, f.metric) : f.origin === "derived" ? undefined : probeCountOf(f.metric);
      const total = of === undefined ? undefined : section.figures.get(figureKey(f.origin, f.probe, f.podKey, of.total));
      if (of !== undefined && total !== undefined) f.counted = { of, total };
    }
  }
}

/** Every figure of one run, by section (the steady state's, then each step of the plan's). */
export function runFigures(j: Journal, plan: PlanView, podKey: PodKey): RunFigures {
  const r = layout(j, plan, podKey);
  for (const p of j.probes) if (p.error === undefined) addProbe(r, p);
  for (const f of j.faults) addObserved(r, f);
  for (const step of plan.steps) addAddedLatency(r, step);
  linkTotals(r);
  return { sections: r.sections };
}
