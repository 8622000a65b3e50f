// Probes and their expectations: each probe run in this run's own chaos-tools pod (created on
// first use, one per tools image, deleted at the end unless kept), its outcomes emitted, its
// expectations evaluated against the results saved so far, and its results saved for later steps.
import { evaluateExpectation, type SavedResults } from "../expect/expectation.js";
import { PROBE_METRICS, faultMetricsOf, metricsOf, type Dimension } from "../expect/metrics.js";
import type { Cluster, PodInfo, PullPolicy } from "../kube/types.js";
import type { PlannedFaultStep, PlannedProbeRun } from "../plan/types.js";
import { createToolsPod, runProbe, type Metrics, type ToolsPod } from "../probes/run.js";
import type { EventSink, PodRef, ProbeWhere } from "./events.js";

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
  readonly env: Readonly<Record<string, string | undefined>>;
  /** the target pods probes measure now (a pod that went away is left out) */
  readonly targets: () => readonly PodInfo[];
}

interface Saved {
  readonly all: Metrics;
  readonly perPod: ReadonlyMap<string, Metrics>;
}

function numbers(m: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined) out[k] = v;
  return out;
}

export class Checks {
  private readonly tools = new Map<string, ToolsPod>();
  private readonly saved = new Map<string, Saved>();
  /** expectations that did not hold, over the whole run */
  failed = 0;

  constructor(private readonly o: ChecksOptions) {}

  /** The tools pods this run created (deleted at its end unless kept). */
  toolsPods(): ToolsPod[] {
    return [...this.tools.values()];
  }

  private async toolsFor(image: string): Promise<ToolsPod> {
    const known = this.tools.get(image);
    if (known !== undefined) return known;
    const started = this.o.now();
    const name = `chaos-tools-${this.o.runId}${this.tools.size === 0 ? "" : `-${this.tools.size + 1}`}`;
    const t = await createToolsPod(this.o.cluster, { namespace: this.o.namespace, image, name, runId: this.o.runId, pullPolicy: this.o.pullPolicy }, this.o.signal, this.o.injectTimeoutMs);
    this.tools.set(image, t);
    this.o.emit({ type: "tools:ready", at: this.o.now(), pod: { namespace: t.namespace, name: t.name }, image, created: t.created, durationMs: this.o.now() - started });
    return t;
  }

  /** Runs probes and evaluates their expectations; returns how many expectations failed. */
  async run(runs: readonly PlannedProbeRun[], where: ProbeWhere, signal: AbortSignal): Promise<number> {
    const { emit, now } = this.o;
    let failed = 0;
    for (const run of runs) {
      if (run.perTargetPod && this.o.targets().length === 0) {
        // every target pod is gone (deleted, and not replaced): nothing to measure, which must
        // not pass for a measurement that held
        for (const [i, exp] of run.expect.entries()) {
          failed += 1;
          emit({
            type: "expect:result",
            at: now(),
            where,
            probe: run.probe,
            pod: undefined,
            expected: run.expectText[i] ?? exp.metric,
            outcome: { metric: exp.metric, verdict: "error", actual: undefined, threshold: undefined, thresholdText: run.expectText[i] ?? exp.metric, description: `${exp.metric} (no value)`, reason: "no target pod is left to measure: deleted, and not replaced" },
          });
        }
        continue;
      }
      emit({ type: "probe:start", at: now(), where, probe: run.probe });
      const t = await this.toolsFor(run.toolsImage);
      const outcomes = await runProbe(run, { cluster: this.o.cluster, tools: t, targets: this.o.targets(), env: this.o.env, signal, timeoutMs: this.o.probeTimeoutMs });
      for (const o of outcomes) emit({ type: "probe:result", at: now(), where, outcome: o, save: o.aggregate || outcomes.length === 1 ? run.save : undefined });
      const measured = outcomes.filter((o) => !o.aggregate);
      for (const o of measured) {
        const view: Record<string, Readonly<Record<string, number>>> = {};
        for (const [name, sv] of this.saved) view[name] = numbers((o.pod !== undefined ? sv.perPod.get(o.pod) : undefined) ?? sv.all);
        const savedView: SavedResults = view;
        run.expect.forEach((exp, i) => {
          const dimension = metricsOf(run.kind)[exp.metric]?.dimension ?? "number";
          const outcome = evaluateExpectation(exp, o.metrics[exp.metric], {
            dimension,
            saved: savedView,
            dimensionOf: (_result, metric) => metricsOf(run.kind)[metric]?.dimension ?? "number",
          });
          if (outcome.verdict !== "pass") failed += 1;
          emit({ type: "expect:result", at: now(), where, probe: run.probe, pod: o.pod, expected: run.expectText[i] ?? exp.metric, outcome });
        });
      }
      if (run.save !== undefined) {
        const whole = outcomes.find((o) => o.aggregate) ?? outcomes[0];
        const perPod = new Map<string, Metrics>();
        for (const o of measured) if (o.pod !== undefined) perPod.set(o.pod, o.metrics);
        if (whole !== undefined) this.saved.set(run.save, { all: whole.metrics, perPod });
      }
    }
    this.failed += failed;
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
    const probeDimension = (metric: string): Dimension => {
      for (const t of Object.values(PROBE_METRICS) as Readonly<Record<string, { readonly dimension: Dimension }>>[]) {
        const info = t[metric];
        if (info !== undefined) return info.dimension;
      }
      return "number";
    };
    const none: readonly { readonly pod: PodRef | undefined; readonly metrics: Readonly<Record<string, number | undefined>> }[] = [{ pod: undefined, metrics: {} }];
    const pods = observations.length > 0 ? observations : none;
    let failed = 0;
    for (const o of pods) {
      const view: Record<string, Readonly<Record<string, number>>> = {};
      for (const [name, sv] of this.saved) view[name] = numbers((o.pod !== undefined ? sv.perPod.get(o.pod.name) : undefined) ?? sv.all);
      expect.forEach((exp, i) => {
        const dimension = table[exp.metric]?.dimension ?? "number";
        const outcome = evaluateExpectation(exp, o.metrics[exp.metric], { dimension, saved: view, dimensionOf: (_r, metric) => probeDimension(metric) });
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
}
