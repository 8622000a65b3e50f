// The journal: the single source of truth of a run, written as the run goes (so an interrupted
// run leaves a true, partial record), and the only input of every view (table, JUnit,
// Markdown). Its shape is schemas/journal.schema.json; journalVersion changes when it does.
import type { EngineEvent, ProbePhase, RunStatus } from "../engine/events.js";
import { formatValue } from "../expect/format.js";
import type { CommandRun } from "../faults/protocol.generated.js";
import { faultMetricsOf } from "../expect/metrics.js";
import { formatSize } from "../scenario/units.js";
import type { Verdict } from "../expect/expectation.js";
import { describeEvent } from "./event-text.js";

export const JOURNAL_VERSION = 2;

/** A command the agent ran, as its reply said (argv, what it fed on stdin, exit code, stderr). */
export interface JournalCommand {
  argv: string[];
  stdin: string | null;
  exitCode: number;
  stderr: string | null;
  durationMs: number;
}

export interface JournalFault {
  step: number;
  stepName: string;
  faultId: string;
  namespace: string;
  pod: string;
  summary: string;
  iface: string | null;
  /** the address families the fault covered, as the agent decided (it sees the pod) */
  families: number[] | null;
  appliedAt: string | null;
  /** when its apply was sent (a travelling fault: its agent added): the fault began between this and appliedAt */
  applyStartedAt?: string;
  verified: string | null;
  /** every command the agent ran to apply it */
  applyCommands: JournalCommand[];
  heldUntil: string | null;
  /** the fault ended before its step: why (the agent's lease lapsed) */
  lost: string | null;
  revertedAt: string | null;
  /** when its revert was first sent: the fault ended between this and revertedAt */
  revertStartedAt?: string;
  revertConfirmed: boolean | null;
  revertDetail: string | null;
  revertAttempts: number | null;
  /** every command the agent ran to revert it, over all attempts */
  revertCommands: JournalCommand[];
  /** what the fault itself measured in this pod (kill, podDelete, stress); null: nothing (yet) */
  observed?: JournalObservation | null;
  /** the agent said, applying it, that the kernel ends it by itself when nobody renews its lease (nftables on this node); absent: it did not say */
  expiresInKernel?: boolean;
  /** it travelled with its agent: given in the fresh agent's environment, held from its start (no exec applied it); absent: applied by exec */
  withAgent?: boolean;
  /** where a travelling fault was confirmed: the reply its agent wrote to its log, or the agent's first renewal */
  confirmedFrom?: "log" | "renewal";
}

/** What a fault measured in one pod: its metrics (FAULT_METRICS' names; null: not measured) and what happened, in words. */
export interface JournalObservation {
  at: string;
  kind: string;
  metrics: Record<string, number | null>;
  detail: string;
}

function commands(list: readonly CommandRun[]): JournalCommand[] {
  return list.map((c) => ({ argv: [...c.argv], stdin: c.stdin ?? null, exitCode: c.exitCode, stderr: c.stderr ?? null, durationMs: c.durationMs }));
}

export interface JournalProbe {
  id: number;
  phase: ProbePhase;
  step: number | null;
  stepName: string;
  probe: string;
  pod: string | null;
  aggregate: boolean;
  at: string;
  durationMs: number;
  argv: string[];
  keepAlive: boolean;
  exitCode: number | null;
  metrics: Record<string, number | null>;
  failures: { connect: number; receive: number; length: number; exceptions: number; timeout: number } | null;
  stoppedEarly: string | null;
  save: string | null;
  stdout: string;
  stderr: string;
  /** the probe's kind (absent in journals of ab-only chaos-run: ab) */
  kind?: string;
  /** when the run (or sample) started; `at` is when it ended */
  startedAt?: string;
  /** a continuous probe's sample: its series, its place in it, the interval */
  series?: string;
  sample?: number;
  everyMs?: number;
  /** what was measured, in words */
  detail?: string;
  /** the sample could not measure: why */
  error?: string;
}

export interface JournalExpectation {
  phase: ProbePhase;
  step: number | null;
  stepName: string;
  probe: string;
  pod: string | null;
  metric: string;
  /** as written: `latency.p95 below baseline.latency.p95 * 1.5` */
  expected: string;
  /** resolved: `< baseline.latency.p95 (0.9ms) × 1.5 = 1.35ms` */
  threshold: string;
  actual: number | null;
  /** the measured value with its unit, e.g. `1.2ms` */
  actualText: string;
  verdict: Verdict;
  /** what measured it: a probe, or the fault itself (then `probe` is the fault's kind) */
  source?: "probe" | "fault";
  description: string;
  reason: string | null;
  at: string;
  /** on a continuous probe: the series judged (its samples are the probes with this series) */
  series?: string;
  /** how many samples the series had, and how many satisfied the comparison (when each was judged) */
  samples?: { total: number; passed: number | null };
  /** the resolved threshold as numbers (durations in ms, ratios 0..1): one, or [low, high] for within */
  limit?: number | [number, number];
}

export interface Journal {
  journalVersion: typeof JOURNAL_VERSION;
  tool: { name: "chaos-run"; version: string; node: string; platform: string };
  runId: string;
  scenario: { name: string; description: string | null; file: string; sha256: string };
  cluster: { context: string; server: string; user: string; namespace: string } | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  status: RunStatus | "running";
  exitCode: number | null;
  message: string | null;
  hint: string | null;
  /** the plan as `chaos-run plan --format json` prints it */
  plan: unknown;
  agents: { namespace: string; pod: string; container: string; reused: boolean }[];
  tools: { namespace: string; pod: string; image: string; created: boolean }[];
  faults: JournalFault[];
  probes: JournalProbe[];
  expectations: JournalExpectation[];
  warnings: string[];
  /** every event, as the plain view prints it */
  timeline: { at: string; type: EngineEvent["type"]; text: string }[];
}

export interface JournalStart {
  readonly runId: string;
  readonly version: string;
  readonly node: string;
  readonly platform: string;
  readonly file: string;
  readonly sha256: string;
  readonly startedAt: number;
}

export function newJournal(start: JournalStart): Journal {
  return {
    journalVersion: JOURNAL_VERSION,
    tool: { name: "chaos-run", version: start.version, node: start.node, platform: start.platform },
    runId: start.runId,
    scenario: { name: "", description: null, file: start.file, sha256: start.sha256 },
    cluster: null,
    startedAt: new Date(start.startedAt).toISOString(),
    endedAt: null,
    durationMs: null,
    status: "running",
    exitCode: null,
    message: null,
    hint: null,
    plan: null,
    agents: [],
    tools: [],
    faults: [],
    probes: [],
    expectations: [],
    warnings: [],
    timeline: [],
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** One engine event of a given type. */
type EventOf<T extends EngineEvent["type"]> = Extract<EngineEvent, { type: T }>;

/** Records one engine event in the journal (the plan's JSON comes from the caller, once). */
export function recordEvent(j: Journal, e: EngineEvent, planJson: () => unknown): void {
  const text = describeEvent(e);
  if (text !== undefined) j.timeline.push({ at: iso(e.at), type: e.type, text });
  switch (e.type) {
    case "run:start":
      recordStart(j, e, planJson);
      break;
    case "agent:ready":
      j.agents.push({ namespace: e.pod.namespace, pod: e.pod.name, container: e.container, reused: e.reused });
      break;
    case "tools:ready":
      j.tools.push({ namespace: e.pod.namespace, pod: e.pod.name, image: e.image, created: e.created });
      break;
    case "fault:applied":
    case "fault:lost":
    case "fault:observed":
    case "fault:held":
    case "fault:reverted":
      recordFault(j, e);
      break;
    case "probe:result":
      j.probes.push(probeEntry(j.probes.length + 1, e));
      break;
    case "expect:result":
      j.expectations.push(expectationEntry(e));
      break;
    case "warning":
      j.warnings.push(e.message);
      break;
    case "run:end":
      j.endedAt = iso(e.at);
      j.durationMs = e.at - Date.parse(j.startedAt);
      j.status = e.status;
      j.exitCode = e.exitCode;
      j.message = e.message ?? null;
      j.hint = e.hint ?? null;
      break;
    default:
      break;
  }
}

/** The run's scenario, cluster and plan, and one fault entry per fault step and pod, not applied yet. */
function recordStart(j: Journal, e: EventOf<"run:start">, planJson: () => unknown): void {
  j.scenario.name = e.plan.scenario.name;
  j.scenario.description = e.plan.scenario.description ?? null;
  j.cluster = { context: e.cluster.context, server: e.cluster.server, user: e.cluster.user, namespace: e.plan.namespace ?? e.cluster.namespace };
  j.plan = planJson();
  for (const step of e.plan.steps) {
    if (step.kind !== "fault") continue;
    for (const pod of e.plan.target.pods) {
      j.faults.push({
        step: step.index,
        stepName: step.name,
        faultId: step.fault.id,
        namespace: e.plan.namespace ?? e.cluster.namespace,
        pod: pod.name,
        summary: step.fault.summary,
        iface: null,
        families: null,
        appliedAt: null,
        verified: null,
        applyCommands: [],
        heldUntil: null,
        lost: null,
        revertedAt: null,
        revertConfirmed: null,
        revertDetail: null,
        revertAttempts: null,
        revertCommands: [],
      });
    }
  }
}

/** What happened to a fault in one pod, on its entry (found by fault id and pod). */
function recordFault(j: Journal, e: EventOf<"fault:applied" | "fault:lost" | "fault:observed" | "fault:held" | "fault:reverted">): void {
  // an observation names its step too: a fault id is the step's
  const f = j.faults.find((x) => x.faultId === e.faultId && x.pod === e.pod.name && (e.type !== "fault:observed" || x.step === e.index));
  if (e.type === "fault:lost") j.warnings.push(`pod ${e.pod.namespace}/${e.pod.name}: fault ${e.faultId} ended before its step did: ${e.reason}`);
  if (f === undefined) return;
  switch (e.type) {
    case "fault:applied":
      f.appliedAt = iso(e.at);
      f.applyStartedAt = iso(e.at - e.durationMs);
      f.iface = e.iface ?? null;
      f.families = [...e.families];
      f.verified = e.detail;
      f.applyCommands = commands(e.commands);
      if (e.expiresInKernel !== undefined) f.expiresInKernel = e.expiresInKernel;
      if (e.withAgent === true) f.withAgent = true;
      if (e.confirmedFrom !== undefined) f.confirmedFrom = e.confirmedFrom;
      break;
    case "fault:lost":
      f.lost = e.reason;
      break;
    case "fault:observed":
      f.observed = { at: iso(e.at), kind: e.kind, metrics: nullForMissing(e.metrics), detail: e.detail };
      break;
    case "fault:held":
      f.heldUntil = iso(e.untilMs);
      break;
    case "fault:reverted":
      f.revertedAt = iso(e.at);
      f.revertStartedAt = iso(e.at - e.durationMs);
      f.revertConfirmed = e.confirmed;
      f.revertDetail = e.detail === "" ? null : e.detail;
      f.revertAttempts = e.attempts;
      f.revertCommands = commands(e.commands);
      break;
  }
}

/** Metrics as JSON holds them: a metric not measured is null, not absent. */
function nullForMissing(metrics: Readonly<Record<string, number | undefined>>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(metrics)) out[k] = v ?? null;
  return out;
}

/** A probe run's (or a continuous probe's sample's) entry. */
function probeEntry(id: number, e: EventOf<"probe:result">): JournalProbe {
  const o = e.outcome;
  const extra: Partial<JournalProbe> = {};
  if (o.kind !== "ab") extra.kind = o.kind;
  if (o.startedAt !== undefined) extra.startedAt = iso(o.startedAt);
  if (e.series !== undefined) {
    extra.series = e.series.id;
    extra.sample = e.series.index;
    extra.everyMs = e.series.everyMs;
  }
  if (o.detail !== undefined) extra.detail = o.detail;
  if (o.error !== undefined) extra.error = o.error;
  return {
    id,
    phase: e.where.phase,
    step: e.where.index ?? null,
    stepName: e.where.stepName,
    probe: o.probe,
    pod: o.aggregate ? null : (o.pod ?? null),
    aggregate: o.aggregate,
    at: iso(e.at),
    durationMs: Math.round(o.durationMs),
    argv: [...o.argv],
    keepAlive: o.keepAlive,
    exitCode: o.exitCode ?? null,
    metrics: nullForMissing(o.metrics),
    failures: o.failures ?? null,
    stoppedEarly: o.stoppedEarly ?? null,
    save: e.save ?? null,
    stdout: o.stdout,
    stderr: o.stderr,
    ...extra,
  };
}

/** An expectation's entry: its threshold resolved, its measured value in words with its unit. */
function expectationEntry(e: EventOf<"expect:result">): JournalExpectation {
  const o = e.outcome;
  // a fault's own metrics may be shown as bytes or percent; a probe's by their dimension
  const info = e.source === "fault" ? faultMetricsOf(e.probe)?.[o.metric] : undefined;
  const dimension = e.dimension ?? o.dimension ?? info?.dimension ?? "number";
  const valueText = (v: number): string => (info?.display === "bytes" ? formatSize(v) : formatValue(v, dimension));
  const extra: Partial<JournalExpectation> = {};
  if (e.series !== undefined) extra.series = e.series.id;
  if (typeof o.threshold === "number" && Number.isFinite(o.threshold)) extra.limit = o.threshold;
  else if (Array.isArray(o.threshold)) extra.limit = [o.threshold[0], o.threshold[1]];
  if (o.samples !== undefined) extra.samples = { total: o.samples.total, passed: o.samples.passed ?? null };
  const seriesText = o.samples?.passed !== undefined ? `${o.samples.passed} of ${o.samples.total} samples` : undefined;
  return {
    phase: e.where.phase,
    step: e.where.index ?? null,
    stepName: e.where.stepName,
    probe: e.probe,
    pod: e.pod ?? null,
    metric: o.metric,
    expected: e.expected,
    threshold: o.thresholdText,
    actual: o.actual ?? null,
    actualText: seriesText !== undefined ? `${seriesText}${o.actual === undefined ? "" : `, worst ${valueText(o.actual)}`}` : o.actual === undefined ? "(no value)" : valueText(o.actual),
    verdict: o.verdict,
    ...(e.source === undefined ? {} : { source: e.source }),
    description: o.description,
    reason: o.reason ?? null,
    at: iso(e.at),
    ...extra,
  };
}
