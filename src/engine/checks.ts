// Probes and their expectations: each probe run (ab and http in this run's own chaos-tools pod,
// created on first use, one per tools image, deleted at the end unless kept), its outcomes
// emitted, its expectations evaluated against the results saved so far, and its results saved
// for later steps.
//
// Continuous probes (`every:`) yield a series: one sample per interval (a sample that overruns
// its interval delays the next to the following slot; samples of one probe never overlap).
// In a fault step's `during` they sample until the step's window ends, beside the probes run
// once; their expectations judge the series when it ends. In `steadyState` they are checked
// once before the first step and after the last, like any check, and a monitor samples them in
// between, through the whole run, for the timeline. A sample that cannot measure is recorded
// with its error and the series goes on.
import { CouldNotRunError, isChaosRunError } from "../errors.js";
import { evaluateExpectation, evaluateSeries, type SavedResults } from "../expect/expectation.js";
import { AGGREGATES, aggregate, faultMetricsOf, probeMetrics, prometheusDimension, resolveMetric, type Dimension, type MetricTable } from "../expect/metrics.js";
import type { Cluster, PodInfo, PullPolicy } from "../kube/types.js";
import type { PlannedFaultStep, PlannedProbeRun } from "../plan/types.js";
import { fetchGet, type HttpGet } from "../probes/fetch.js";
import { runProbe, type Metrics, type PodAgentAsk, type ProbeOutcome, type ToolsPod } from "../probes/run.js";
import { createToolsPod } from "./tools-pod.js";
import type { EventSink, PodRef, ProbeWhere, SeriesRef } from "./events.js";
import { interruptOf } from "./interrupt.js";
import { sleep } from "./pool.js";

export interface ChecksOptions {
  readonly cluster: Cluster;
  readonly emit: EventSink;
  readonly now: () => number;
  readonly namespace: string;
  readonly runId: string;
  readonly pullPolicy: PullPolicy;
  /** the run's signal: a tools pod being created stops waiting when it aborts */
  readonly signal: AbortSignal;
  readonly injectTimeoutMs: number;
  readonly probeTimeoutMs: number;
  /** how long a tools pod may live (toolsLifeMs): it ends by itself then, whatever becomes of the runner */
  readonly toolsLifeMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** the target pods probes measure now (a pod that went away is left out) */
  readonly targets: () => readonly PodInfo[];
  /** HTTP from the runner (prometheus probes); default Node's fetch */
  readonly httpGet?: HttpGet | undefined;
  /** the target pods' own agents, which dns probes ask */
  readonly agents?: PodAgentAsk | undefined;
}

interface Saved {
  readonly all: Metrics;
  readonly perPod: ReadonlyMap<string, Metrics>;
  readonly table: MetricTable;
  readonly kind: PlannedProbeRun["kind"];
  readonly series: boolean;
}

function numbers(m: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined) out[k] = v;
  return out;
}

/** The metric table of a planned run: a prometheus probe's value has its declared unit. */
export function tableOf(run: PlannedProbeRun): MetricTable {
  return probeMetrics(run.kind, run.spec.kind === "prometheus" ? prometheusDimension(run.spec.prometheus.unit) : undefined);
}

/** What a series saves: each metric's mean under its own name, and its aggregates (NAME.METRIC.max). */
export function seriesSummary(samples: readonly Metrics[]): Metrics {
  const keys = new Set(samples.flatMap((m) => Object.keys(m)));
  const out: Record<string, number | undefined> = {};
  for (const k of keys) {
    const values = samples.map((m) => m[k]).filter((v): v is number => v !== undefined);
    out[k] = aggregate(values, "mean");
    for (const a of AGGREGATES) out[`${k}.${a}`] = aggregate(values, a);
  }
  return out;
}

/** One sample of a series: its outcomes (per pod, and the aggregate), or the error that kept it from measuring. */
interface Sample {
  readonly outcomes: readonly ProbeOutcome[];
  readonly error: string | undefined;
}

export interface Monitor {
  /** stops sampling (a sample under way finishes) and resolves when the monitor has ended */
  stop(): Promise<void>;
}

export class Checks {
  private readonly tools = new Map<string, Promise<ToolsPod>>();
  private readonly ready: ToolsPod[] = [];
  private readonly saved = new Map<string, Saved>();
  private readonly httpGet: HttpGet;
  /** expectations that did not hold, over the whole run */
  failed = 0;

  constructor(private readonly o: ChecksOptions) {
    this.httpGet = o.httpGet ?? fetchGet;
  }

  /** The tools pods this run created (deleted at its end unless kept). */
  toolsPods(): ToolsPod[] {
    return [...this.ready];
  }

  private toolsFor(image: string): Promise<ToolsPod> {
    const known = this.tools.get(image);
    if (known !== undefined) return known;
    const started = this.o.now();
    const name = `chaos-tools-${this.o.runId}${this.tools.size === 0 ? "" : `-${this.tools.size + 1}`}`;
    // the promise is kept, not the pod: a monitor and a fault's probes asking at once share one pod
    const request = { namespace: this.o.namespace, image, name, runId: this.o.runId, pullPolicy: this.o.pullPolicy, lifeMs: this.o.toolsLifeMs, now: this.o.now() };
    const made = createToolsPod(this.o.cluster, request, this.o.signal, this.o.injectTimeoutMs).then((t) => {
      this.ready.push(t);
      this.o.emit({ type: "tools:ready", at: this.o.now(), pod: { namespace: t.namespace, name: t.name }, image, created: t.created, durationMs: this.o.now() - started });
      return t;
    });
    made.catch(() => this.tools.delete(image));
    this.tools.set(image, made);
    return made;
  }

  private probeOnce(run: PlannedProbeRun, signal: AbortSignal): Promise<ProbeOutcome[]> {
    return runProbe(run, {
      cluster: this.o.cluster,
      tools: (image) => this.toolsFor(image),
      targets: this.o.targets(),
      env: this.o.env,
      signal,
      timeoutMs: this.o.probeTimeoutMs,
      namespace: this.o.namespace,
      httpGet: this.httpGet,
      now: this.o.now,
      agents: this.o.agents,
    });
  }

  /** The saved results as an expectation of one pod sees them (that pod's own where there are). */
  private savedView(pod: string | undefined): SavedResults {
    const view: Record<string, Readonly<Record<string, number>>> = {};
    for (const [name, sv] of this.saved) view[name] = numbers((pod !== undefined ? sv.perPod.get(pod) : undefined) ?? sv.all);
    return view;
  }

  private dimensionOf(result: string, metric: string): Dimension {
    const sv = this.saved.get(result);
    if (sv === undefined) return "number";
    return resolveMetric(sv.kind, sv.table, metric, sv.series)?.info.dimension ?? "number";
  }

  /**
   * Runs probes and evaluates their expectations; returns how many expectations failed.
   * `untilAt`: the end of a fault's window, until which continuous probes sample; without it
   * (steady state, probe steps) a continuous probe is checked once, as a series of one sample.
   */
  async run(runs: readonly PlannedProbeRun[], where: ProbeWhere, signal: AbortSignal, untilAt?: number): Promise<number> {
    let failed = 0;
    const continuous = untilAt === undefined ? [] : runs.filter((r) => r.everyMs !== undefined);
    const once = runs.filter((r) => !continuous.includes(r));
    // the series sample meanwhile; an error of the probes run once ends them too
    const stopSeries = new AbortController();
    const seriesSignal = continuous.length === 0 ? signal : AbortSignal.any([signal, stopSeries.signal]);
    const series = continuous.map((r) => {
      const p = this.sampleSeries(r, where, seriesSignal, untilAt ?? 0, seriesId(where, runs.indexOf(r), r.probe));
      // handled here (a series may fail while the probes run once are still running); its error is read below
      p.catch(() => undefined);
      return p;
    });
    try {
      for (const run of once) failed += await this.runOnce(run, where, signal);
    } catch (e) {
      stopSeries.abort(e);
      await Promise.allSettled(series);
      throw e;
    }
    for (const s of await Promise.all(series)) failed += s;
    this.failed += failed;
    return failed;
  }

  /**
   * A probe that names its target when every target pod is gone (deleted, and not replaced):
   * nothing to measure, which must not pass for a measurement that held. Its expectations fail
   * (the count returned); undefined while a target pod is left.
   */
  private noTargetLeft(run: PlannedProbeRun, where: ProbeWhere): number | undefined {
    if (!run.perTargetPod || this.o.targets().length > 0) return undefined;
    const { emit, now } = this.o;
    for (const [i, exp] of run.expect.entries()) {
      emit({
        type: "expect:result",
        at: now(),
        where,
        probe: run.probe,
        pod: undefined,
        expected: run.expectText[i] ?? exp.metric,
        outcome: {
          metric: exp.metric,
          verdict: "error",
          actual: undefined,
          threshold: undefined,
          thresholdText: run.expectText[i] ?? exp.metric,
          description: `${exp.metric} (no value)`,
          reason: "no target pod is left to measure: deleted, and not replaced",
        },
      });
    }
    return run.expect.length;
  }

  private async runOnce(run: PlannedProbeRun, where: ProbeWhere, signal: AbortSignal): Promise<number> {
    const none = this.noTargetLeft(run, where);
    if (none !== undefined) return none;
    const { emit, now } = this.o;
    emit({ type: "probe:start", at: now(), where, probe: run.probe });
    const outcomes = await this.probeOnce(run, signal);
    for (const o of outcomes) emit({ type: "probe:result", at: now(), where, outcome: o, save: o.aggregate || outcomes.length === 1 ? run.save : undefined });
    // a continuous probe checked once (the steady state before and after) is a series of one sample
    const failed = run.everyMs === undefined ? this.judgeOnce(run, where, outcomes) : this.judgeSeries(run, where, [{ outcomes, error: undefined }], undefined);
    if (run.save !== undefined) this.save(run, [{ outcomes, error: undefined }]);
    return failed;
  }

  private judgeOnce(run: PlannedProbeRun, where: ProbeWhere, outcomes: readonly ProbeOutcome[]): number {
    const table = tableOf(run);
    let failed = 0;
    for (const o of outcomes.filter((x) => !x.aggregate)) {
      const saved = this.savedView(o.pod);
      run.expect.forEach((exp, i) => {
        const dimension = resolveMetric(run.kind, table, exp.metric, false)?.info.dimension ?? "number";
        const outcome = evaluateExpectation(exp, o.metrics[exp.metric], { dimension, saved, dimensionOf: (r, m) => this.dimensionOf(r, m) });
        if (outcome.verdict !== "pass") failed += 1;
        this.o.emit({ type: "expect:result", at: this.o.now(), where, probe: run.probe, pod: o.pod, expected: run.expectText[i] ?? exp.metric, outcome });
      });
    }
    return failed;
  }

  /**
   * Evaluates a series' expectations, per target pod where the probe names its target. `id`:
   * the series (undefined for a continuous probe checked once, judged like any probe run once).
   */
  private judgeSeries(run: PlannedProbeRun, where: ProbeWhere, samples: readonly Sample[], id: string | undefined): number {
    const table = tableOf(run);
    const pods = run.perTargetPod ? [...new Set(samples.flatMap((s) => s.outcomes.filter((o) => !o.aggregate).map((o) => o.pod)))] : [undefined];
    if (pods.length === 0) pods.push(undefined);
    let failed = 0;
    for (const pod of pods) {
      const saved = this.savedView(pod);
      const mine = samples.map((s) => ({ error: s.error, outcome: s.outcomes.find((o) => !o.aggregate && o.pod === pod) }));
      run.expect.forEach((exp, i) => {
        const resolved = resolveMetric(run.kind, table, exp.metric, true);
        const dimension = resolved?.info.dimension ?? "number";
        const values = mine.map((s) => (resolved === undefined ? undefined : s.outcome?.metrics[resolved.base]));
        const noValueReason = mine.find((s) => s.error !== undefined)?.error ?? mine.find((s) => s.outcome?.detail !== undefined)?.outcome?.detail;
        const context = { dimension, saved, dimensionOf: (r: string, m: string) => this.dimensionOf(r, m) };
        const point = id === undefined && resolved?.aggregate === undefined;
        const outcome = point ? evaluateExpectation(exp, values[0], context) : evaluateSeries(exp, { values, aggregate: resolved?.aggregate, noValueReason }, context);
        if (outcome.verdict !== "pass") failed += 1;
        this.o.emit({
          type: "expect:result",
          at: this.o.now(),
          where,
          probe: run.probe,
          pod,
          expected: run.expectText[i] ?? exp.metric,
          outcome,
          ...(id === undefined ? {} : { series: { id, samples: samples.length } }),
        });
      });
    }
    return failed;
  }

  private save(run: PlannedProbeRun, samples: readonly Sample[]): void {
    if (run.save === undefined) return;
    const good = samples.filter((s) => s.error === undefined);
    const whole = (s: Sample): ProbeOutcome | undefined => s.outcomes.find((o) => o.aggregate) ?? s.outcomes[0];
    const isSeries = run.everyMs !== undefined;
    const combine = (list: readonly Metrics[]): Metrics => (isSeries ? seriesSummary(list) : (list[0] ?? {}));
    const all = combine(
      good
        .map(whole)
        .filter((o): o is ProbeOutcome => o !== undefined)
        .map((o) => o.metrics),
    );
    const perPod = new Map<string, Metrics>();
    const pods = new Set(good.flatMap((s) => s.outcomes.filter((o) => !o.aggregate && o.pod !== undefined).map((o) => o.pod ?? "")));
    for (const pod of pods) perPod.set(pod, combine(good.map((s) => s.outcomes.find((o) => !o.aggregate && o.pod === pod)?.metrics).filter((m): m is Metrics => m !== undefined)));
    this.saved.set(run.save, { all, perPod, table: tableOf(run), kind: run.kind, series: isSeries });
  }

  /** One sample: the probe's outcomes, or (when it could not measure) the error, emitted as a sample of its own. */
  private async sampleOnce(run: PlannedProbeRun, where: ProbeWhere, signal: AbortSignal, ref: SeriesRef): Promise<Sample> {
    const { emit, now } = this.o;
    const startedAt = now();
    try {
      const outcomes = await this.probeOnce(run, signal);
      for (const o of outcomes) emit({ type: "probe:result", at: now(), where, outcome: o, save: o.aggregate || outcomes.length === 1 ? run.save : undefined, series: ref });
      return { outcomes, error: undefined };
    } catch (e) {
      if (!isChaosRunError(e) || interruptOf(signal) !== undefined || signal.aborted) throw e;
      const error = e.message;
      const outcome: ProbeOutcome = {
        probe: run.probe,
        kind: run.kind,
        pod: undefined,
        aggregate: false,
        argv: run.argv,
        exitCode: undefined,
        stdout: "",
        stderr: "",
        durationMs: now() - startedAt,
        metrics: {},
        failures: undefined,
        keepAlive: run.spec.kind === "ab" ? run.spec.ab.keepAlive : true,
        stoppedEarly: undefined,
        startedAt,
        error,
      };
      emit({ type: "probe:result", at: now(), where, outcome, save: undefined, series: ref });
      return { outcomes: [], error };
    }
  }

  /**
   * Samples a run until `untilAt` (or until `stop` aborts, for the monitor): the k-th sample
   * starts at t0 + k × every, or at the next free slot after an overrun.
   */
  private async sampleLoop(run: PlannedProbeRun, where: ProbeWhere, signal: AbortSignal, untilAt: number, id: string, stop: AbortSignal | undefined): Promise<Sample[]> {
    const every = run.everyMs ?? 1000;
    const t0 = this.o.now();
    const samples: Sample[] = [];
    this.o.emit({ type: "probe:start", at: t0, where, probe: run.probe });
    for (let k = 0; ; ) {
      const slot = t0 + k * every;
      if (slot >= untilAt || stop?.aborted === true) break;
      const wait = slot - this.o.now();
      if (wait > 0) {
        const both = stop === undefined ? signal : AbortSignal.any([signal, stop]);
        try {
          await sleep(wait, both);
        } catch (e) {
          if (signal.aborted) throw e;
          break;
        }
      }
      samples.push(await this.sampleOnce(run, where, signal, { id, index: samples.length, everyMs: every }));
      k = Math.max(k + 1, Math.ceil((this.o.now() - t0) / every));
    }
    return samples;
  }

  private async sampleSeries(run: PlannedProbeRun, where: ProbeWhere, signal: AbortSignal, untilAt: number, id: string): Promise<number> {
    const none = this.noTargetLeft(run, where);
    if (none !== undefined) return none;
    const samples = await this.sampleLoop(run, where, signal, untilAt, id, undefined);
    if (samples.length > 0 && samples.every((s) => s.error !== undefined)) {
      throw new CouldNotRunError(`probe ${run.probe} could not measure during ${where.stepName}: every one of its ${samples.length} samples failed: ${samples[0]?.error ?? ""}`);
    }
    const failed = this.judgeSeries(run, where, samples, id);
    this.save(run, samples);
    return failed;
  }

  /**
   * Evaluates a fault step's own expectations (`expect:` beside `fault:`) against what the fault
   * measured in each target pod; returns how many did not hold. A pod observed without a value
   * (no recovery in the window) fails its expectation; no pod observed at all fails them all.
   */
  evaluateFault(step: PlannedFaultStep, observations: readonly { readonly pod: PodRef; readonly metrics: Readonly<Record<string, number | undefined>> }[]): number {
    const expect = step.expect ?? [];
    if (expect.length === 0) return 0;
    const { emit, now } = this.o;
    const kind = step.fault.fault.kind;
    const table = faultMetricsOf(kind) ?? {};
    const where: ProbeWhere = { phase: "step", index: step.index, stepName: step.name };
    const none: readonly { readonly pod: PodRef | undefined; readonly metrics: Readonly<Record<string, number | undefined>> }[] = [{ pod: undefined, metrics: {} }];
    const pods = observations.length > 0 ? observations : none;
    let failed = 0;
    for (const o of pods) {
      const saved = this.savedView(o.pod?.name);
      expect.forEach((exp, i) => {
        const dimension = table[exp.metric]?.dimension ?? "number";
        const outcome = evaluateExpectation(exp, o.metrics[exp.metric], { dimension, saved, dimensionOf: (r, m) => this.dimensionOf(r, m) });
        const reason =
          outcome.verdict === "error" && o.metrics[exp.metric] === undefined
            ? o.pod === undefined
              ? `no target pod was observed: the ${kind} reached none`
              : `the ${kind} measured no ${exp.metric} in pod ${o.pod.name}`
            : outcome.reason;
        if (outcome.verdict !== "pass") failed += 1;
        emit({ type: "expect:result", at: now(), where, probe: kind, pod: o.pod?.name, expected: step.expectText?.[i] ?? exp.metric, outcome: { ...outcome, reason }, source: "fault", dimension });
      });
    }
    this.failed += failed;
    return failed;
  }

  /**
   * Samples the steady state's continuous probes through the run (phase `monitor`): for the
   * timeline, not judged. Failed samples are recorded; only an interrupt ends it early.
   */
  monitor(runs: readonly PlannedProbeRun[], signal: AbortSignal): Monitor {
    const stop = new AbortController();
    const where: ProbeWhere = { phase: "monitor", index: undefined, stepName: "steady state (through the run)" };
    const loops = runs.map((r, i) => this.sampleLoop(r, where, signal, Number.POSITIVE_INFINITY, seriesId(where, i, r.probe), stop.signal).catch(() => []));
    return {
      stop: async () => {
        stop.abort();
        await Promise.all(loops);
      },
    };
  }
}

/** A series' id in the journal: where it ran, its place in that list, its probe (`s2-0-web`, `monitor-0-web`). */
export function seriesId(where: ProbeWhere, position: number, probe: string): string {
  const at = where.index === undefined ? where.phase : `s${where.index + 1}`;
  return `${at}-${position}-${probe}`;
}
