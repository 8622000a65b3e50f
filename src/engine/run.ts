// The engine: runs a Plan through the Cluster port. One AbortSignal for the run; a revert
// ledger written *before* each fault is applied and drained LIFO in `finally` — on normal end,
// on error, on Ctrl-C — under a fresh deadline, because the run's own signal may be aborted by
// then. Leases are renewed while faults are held, so an agent reverts by itself if this process
// dies. Events go out to observers; the engine never prints.
import { ChaosRunError, CouldNotRunError, ExitCode, isChaosRunError } from "../errors.js";
import { evaluateExpectation, type SavedResults } from "../expect/expectation.js";
import { metricsOf } from "../expect/metrics.js";
import { agentRenewArgv, leaseSeconds } from "../faults/index.js";
import { parseAgentState, verifyApplied } from "../faults/verify.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import type { Plan, PlannedFaultStep, PlannedProbeRun } from "../plan/types.js";
import { ensureToolsPod, runProbe, type Metrics, type ToolsPod } from "../probes/run.js";
import { ensureAgent, type AgentHandle } from "./agents.js";
import type { EventSink, PodRef, ProbeWhere, RunStatus } from "./events.js";
import { Interrupted, interruptOf } from "./interrupt.js";
import { mapPool, sleep } from "./pool.js";
import { preflight } from "./preflight.js";

export interface EngineOptions {
  readonly runId: string;
  /** target pods, as read when the plan was made */
  readonly pods: readonly PodInfo[];
  readonly namespace: string;
  /** pods worked on at once */
  readonly concurrency: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
  /** how long reverting everything may take once the run is over */
  readonly revertDeadlineMs: number;
  /** bound on one probe's exec (ab's run) */
  readonly probeTimeoutMs: number;
  /**
   * disrupt without --wait: once applied, faults are left to the agent's lease (which the plan
   * sets to the fault's duration) instead of being held and reverted here.
   */
  readonly handOffToLease: boolean;
  /** environment for {{ env.NAME }} in probe URLs (read by the CLI) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** keep a tools pod this run created (default: delete it at the end) */
  readonly keepTools: boolean;
  readonly now: () => number;
}

export interface Unreverted {
  readonly pod: PodRef;
  readonly container: string;
  readonly faultId: string;
  readonly iface: string | undefined;
  readonly detail: string;
}

export interface RunResult {
  readonly status: RunStatus;
  readonly exitCode: number;
  readonly message: string | undefined;
  readonly hint: string | undefined;
  readonly unreverted: readonly Unreverted[];
}

interface LedgerEntry {
  readonly index: number;
  readonly faultId: string;
  readonly agent: AgentHandle;
  readonly revertArgv: readonly string[];
  iface: string | undefined;
  applied: boolean;
}

const podKey = (p: PodRef): string => `${p.namespace}/${p.name}`;

/** The steady state does not hold before the experiment: nothing was changed (exit 1). */
class SteadyStateBroken extends ChaosRunError {
  constructor(failed: number) {
    super(ExitCode.ExpectationFailed, `the steady state does not hold before the experiment (${failed} expectation${failed > 1 ? "s" : ""} failed): nothing was changed`, {
      hint: "the system is not healthy to begin with; fix that (or the expectations) before injecting faults",
    });
  }
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

export async function runPlan(plan: Plan, cluster: Cluster, emit: EventSink, signal: AbortSignal, options: EngineOptions): Promise<RunResult> {
  const now = options.now;
  const ledger: LedgerEntry[] = [];
  const unreverted: Unreverted[] = [];
  const gone = new Map<string, string>();
  const stopWatching: (() => void)[] = [];
  const agents = new Map<string, AgentHandle>();
  const lease = leaseSeconds(plan.agent.leaseMs);
  let failure: ChaosRunError | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let renewing = false;
  /** aborted when a held fault is lost (its lease lapsed): the step cannot go on as planned */
  let stepAbort: AbortController | undefined;
  const warned = new Set<string>();
  // set once the probe machinery exists (below); the fault steps call it for their `during` probes
  let runDuring: (step: PlannedFaultStep, stepSignal: AbortSignal) => Promise<number> = async () => 0;

  emit({ type: "run:start", at: now(), runId: options.runId, plan, cluster: cluster.identity });

  const execIn = (agent: AgentHandle, argv: readonly string[], execSignal: AbortSignal) =>
    cluster.exec(agent.pod.namespace, agent.pod.name, agent.container, argv, { signal: execSignal, timeoutMs: options.execTimeoutMs });

  /** Renews every held fault's lease, pod by pod; never overlaps itself. */
  const renewLeases = async (): Promise<void> => {
    if (renewing) return;
    renewing = true;
    try {
      const byPod = new Map<string, LedgerEntry[]>();
      for (const e of ledger) if (e.applied && !gone.has(podKey(e.agent.pod))) byPod.set(podKey(e.agent.pod), [...(byPod.get(podKey(e.agent.pod)) ?? []), e]);
      await mapPool([...byPod.values()], options.concurrency, async (entries) => {
        const first = entries[0];
        if (first === undefined) return;
        const r = await execIn(first.agent, agentRenewArgv(lease, entries.map((e) => e.faultId)), AbortSignal.timeout(options.execTimeoutMs));
        if (r.exitCode === 0 || gone.has(podKey(first.agent.pod))) return;
        const ids = entries.map((e) => e.faultId).join(", ");
        if (/renew: no fault/.test(r.stderr)) {
          // the agent already reverted it: the fault is no longer in effect
          stepAbort?.abort(
            new CouldNotRunError(`the agent in pod ${podKey(first.agent.pod)} reverted ${ids} by itself: its ${lease}s lease lapsed before chaos-run renewed it`, {
              hint: "give the agent a longer lease (agent.lease in the scenario); a busy API server or node slows renewals down",
            }),
          );
        } else if (!warned.has(podKey(first.agent.pod))) {
          warned.add(podKey(first.agent.pod));
          emit({ type: "warning", at: now(), message: `could not renew the lease of ${ids} in pod ${podKey(first.agent.pod)} (retrying): ${r.error ?? r.stderr.trim()}` });
        }
      });
    } finally {
      renewing = false;
    }
  };
  const startRenewing = (): void => {
    if (renewTimer !== undefined) return;
    renewTimer = setInterval(() => void renewLeases(), Math.max(500, (lease * 1000) / 3));
  };
  const stopRenewing = (): void => {
    if (renewTimer !== undefined) clearInterval(renewTimer);
    renewTimer = undefined;
  };

  /** Reverts ledger entries (LIFO), each pod's in order, pods concurrently. Keeps going past failures. */
  const revert = async (entries: LedgerEntry[], revertSignal: AbortSignal): Promise<void> => {
    const byPod = new Map<string, LedgerEntry[]>();
    for (const e of [...entries].reverse()) byPod.set(podKey(e.agent.pod), [...(byPod.get(podKey(e.agent.pod)) ?? []), e]);
    await mapPool([...byPod.values()], options.concurrency, async (podEntries) => {
      for (const e of podEntries) {
        const started = now();
        const r = gone.has(podKey(e.agent.pod)) ? undefined : await execIn(e.agent, e.revertArgv, revertSignal);
        let confirmed = r?.exitCode === 0;
        let detail = r === undefined ? "" : r.exitCode === 0 ? "" : (r.stderr.trim() || r.error || `exit ${String(r.exitCode)}`);
        if (!confirmed) {
          const reason = gone.get(podKey(e.agent.pod)) ?? (await podGoneReason(cluster, e.agent.pod));
          if (reason !== undefined) {
            confirmed = true;
            detail = `pod ${reason}: the fault went with its network namespace`;
          }
        }
        const i = ledger.indexOf(e);
        if (i >= 0) ledger.splice(i, 1);
        emit({ type: "fault:reverted", at: now(), index: e.index, faultId: e.faultId, pod: e.agent.pod, confirmed, detail, durationMs: now() - started });
        if (!confirmed) unreverted.push({ pod: e.agent.pod, container: e.agent.container, faultId: e.faultId, iface: e.iface, detail });
      }
    });
  };

  const runFaultStep = async (step: PlannedFaultStep): Promise<void> => {
    const f = step.fault;
    const handles = [...agents.values()].filter((a) => !gone.has(podKey(a.pod)));
    const entries = handles.map((agent): LedgerEntry => ({ index: step.index, faultId: f.id, agent, revertArgv: f.agentRevert, iface: undefined, applied: false }));
    // The ledger knows of a fault before the agent does: an interrupt mid-apply still reverts it.
    ledger.push(...entries);
    const abort = new AbortController();
    stepAbort = abort;
    const onRunAbort = (): void => abort.abort(signal.reason);
    signal.addEventListener("abort", onRunAbort, { once: true });
    // renewing starts with the first apply: a wide fan-out can take longer than a lease
    if (!options.handOffToLease) startRenewing();
    try {
      await applyAndHold(step, entries, abort.signal);
    } finally {
      stopRenewing();
      signal.removeEventListener("abort", onRunAbort);
      stepAbort = undefined;
    }
    // the step's own end: revert now (a failure here is kept for exit 4, the run goes on)
    await revert(entries.filter((e) => ledger.includes(e)), AbortSignal.timeout(options.revertDeadlineMs));
    const lost = [...gone.keys()];
    if (lost.length > 0) throw new CouldNotRunError(`target pod${lost.length > 1 ? "s" : ""} ${lost.join(", ")} went away during step ${step.index + 1} (${step.name}); the other pods were reverted`);
  };

  const applyAndHold = async (step: PlannedFaultStep, entries: LedgerEntry[], stepSignal: AbortSignal): Promise<void> => {
    const f = step.fault;
    const results = await mapPool(entries, options.concurrency, async (e) => {
      const started = now();
      const r = await execIn(e.agent, f.agentApply, signal);
      e.applied = r.exitCode === 0 || r.exitCode === undefined;
      if (r.exitCode !== 0) {
        if (interruptOf(signal) !== undefined) throw signal.reason;
        if (gone.has(podKey(e.agent.pod))) throw new CouldNotRunError(`pod ${podKey(e.agent.pod)} was ${gone.get(podKey(e.agent.pod)) ?? "deleted"} during step ${step.index + 1} (${step.name})`);
        const why = r.stderr.trim() || r.error || `exit ${String(r.exitCode)}`;
        throw new CouldNotRunError(`step ${step.index + 1} (${step.name}): the agent in pod ${podKey(e.agent.pod)} could not apply ${f.summary}: ${why}`, {
          hint: r.exitCode === 4 ? "the agent refused rather than replace what it could not restore; see its message" : `kubectl logs -n ${e.agent.pod.namespace} ${e.agent.pod.name} -c ${e.agent.container}`,
        });
      }
      const state = parseAgentState(r.stdout);
      e.iface = state.iface;
      const v = verifyApplied(f.fault, { id: f.id, handle: f.handle }, state);
      if (!v.ok) throw new CouldNotRunError(`step ${step.index + 1} (${step.name}): ${f.summary} is not in effect in pod ${podKey(e.agent.pod)} after applying: ${v.detail}`);
      emit({ type: "fault:applied", at: now(), index: step.index, faultId: f.id, pod: e.agent.pod, iface: state.iface, detail: v.detail, durationMs: now() - started });
    });
    const firstError = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (firstError !== undefined) throw firstError.reason;

    if (options.handOffToLease) {
      for (const e of entries) {
        emit({ type: "fault:held", at: now(), index: step.index, faultId: f.id, pod: e.agent.pod, untilMs: now() + lease * 1000 });
        ledger.splice(ledger.indexOf(e), 1);
      }
      return;
    }
    // no renewal here: each apply started its own lease, and the timer started with the step
    // renews them every third of a lease (an extra exec per pod now would land on the cluster
    // just as the step's probes begin to measure)
    const appliedAt = now();
    if (step.during.length > 0) await runDuring(step, stepSignal);
    const left = step.durationMs - (now() - appliedAt);
    if (left > 0) await sleep(left, stepSignal);
    else if (step.during.length > 0) {
      emit({ type: "warning", at: now(), message: `step ${step.index + 1} (${step.name}): its probes took ${Math.round((now() - appliedAt) / 1000)}s, longer than the fault's ${Math.round(step.durationMs / 1000)}s; the fault was held until they ended` });
    }
  };

  const tools = new Map<string, ToolsPod>();
  const saved = new Map<string, Saved>();
  let failedExpectations = 0;
  const hasProbes = plan.steadyState.length > 0 || plan.steps.some((st) => st.kind === "probe" || (st.kind === "fault" && st.during.length > 0));
  const hasFaults = plan.steps.some((st) => st.kind === "fault");

  const toolsFor = async (image: string): Promise<ToolsPod> => {
    const known = tools.get(image);
    if (known !== undefined) return known;
    const started = now();
    const t = await ensureToolsPod(cluster, options.namespace, image, options.runId, signal, options.injectTimeoutMs);
    tools.set(image, t);
    emit({ type: "tools:ready", at: now(), pod: { namespace: t.namespace, name: t.name }, image, created: t.created, durationMs: now() - started });
    return t;
  };

  /** Runs probes and evaluates their expectations; returns how many expectations failed. */
  const runChecks = async (runs: readonly PlannedProbeRun[], where: ProbeWhere, probeSignal: AbortSignal): Promise<number> => {
    let failed = 0;
    for (const run of runs) {
      emit({ type: "probe:start", at: now(), where, probe: run.probe });
      const t = await toolsFor(run.toolsImage);
      const targets = options.pods.filter((p) => !gone.has(podKey(p)));
      const outcomes = await runProbe(run, { cluster, tools: t, targets, env: options.env, signal: probeSignal, timeoutMs: options.probeTimeoutMs });
      for (const o of outcomes) emit({ type: "probe:result", at: now(), where, outcome: o, save: o.aggregate || outcomes.length === 1 ? run.save : undefined });
      const measured = outcomes.filter((o) => !o.aggregate);
      for (const o of measured) {
        const view: Record<string, Readonly<Record<string, number>>> = {};
        for (const [name, sv] of saved) view[name] = numbers((o.pod !== undefined ? sv.perPod.get(o.pod) : undefined) ?? sv.all);
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
        if (whole !== undefined) saved.set(run.save, { all: whole.metrics, perPod });
      }
    }
    failedExpectations += failed;
    return failed;
  };
  runDuring = (step, stepSignal) => runChecks(step.during, { phase: "during", index: step.index, stepName: step.name }, stepSignal);

  let status: RunStatus = "passed";
  try {
    await preflight(plan, cluster, options.namespace, { toolsPod: hasProbes, injectAgents: hasFaults || plan.steps.length === 0 }, emit, now);
    for (const pod of options.pods) {
      stopWatching.push(
        cluster.onPodGone(pod.namespace, pod.name, (reason) => {
          gone.set(podKey(pod), reason);
          emit({ type: "warning", at: now(), message: `target pod ${podKey(pod)} was ${reason} during the run` });
        }),
      );
    }
    if (plan.steadyState.length > 0) {
      const failed = await runChecks(plan.steadyState, { phase: "before", index: undefined, stepName: "steady state (before)" }, signal);
      if (failed > 0) throw new SteadyStateBroken(failed);
    }
    if (hasFaults || plan.steps.length === 0) {
      const injected = await mapPool(options.pods, options.concurrency, async (pod) => {
        const started = now();
        const handle = await ensureAgent(
          cluster,
          pod,
          { image: plan.agent.image, ttlMs: plan.agent.ttlMs, runId: options.runId, neededMs: plan.timelineMs + 60_000, injectTimeoutMs: options.injectTimeoutMs, execTimeoutMs: options.execTimeoutMs },
          signal,
          (container) => emit({ type: "agent:injecting", at: now(), pod: { namespace: pod.namespace, name: pod.name }, container }),
        );
        agents.set(podKey(handle.pod), handle);
        emit({ type: "agent:ready", at: now(), pod: handle.pod, container: handle.container, reused: handle.reused, durationMs: now() - started });
      });
      const injectError = injected.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (injectError !== undefined) throw injectError.reason;
    }

    for (const step of plan.steps) {
      if (signal.aborted) throw signal.reason;
      emit({ type: "step:start", at: now(), index: step.index, name: step.name, kind: step.kind, durationMs: step.durationMs });
      switch (step.kind) {
        case "fault":
          await runFaultStep(step);
          break;
        case "wait":
          await sleep(step.durationMs, signal);
          break;
        case "probe":
          await runChecks([step.run], { phase: "step", index: step.index, stepName: step.name }, signal);
          break;
      }
      emit({ type: "step:end", at: now(), index: step.index, ok: true, detail: undefined });
    }
    if (plan.steadyState.length > 0) await runChecks(plan.steadyState, { phase: "after", index: undefined, stepName: "steady state (after)" }, signal);
    if (failedExpectations > 0) {
      status = "failed";
      failure = new ChaosRunError(ExitCode.ExpectationFailed, `${failedExpectations} expectation${failedExpectations > 1 ? "s" : ""} did not hold`);
    }
  } catch (e) {
    const interrupt = interruptOf(signal) ?? (e instanceof Interrupted ? e : undefined);
    if (interrupt !== undefined) {
      status = "interrupted";
      failure = new ChaosRunError(interrupt.signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated, `interrupted by ${interrupt.signal}`);
    } else if (e instanceof SteadyStateBroken) {
      status = "failed";
      failure = e;
    } else {
      status = "error";
      failure = isChaosRunError(e) ? e : new CouldNotRunError(e instanceof Error ? e.message : String(e), { cause: e });
    }
  } finally {
    stopRenewing();
    if (ledger.length > 0) await revert([...ledger], AbortSignal.timeout(options.revertDeadlineMs));
    for (const stop of stopWatching) stop();
    if (!options.keepTools) {
      for (const t of tools.values()) {
        if (t.created) await cluster.deletePod(t.namespace, t.name).catch((err: unknown) => emit({ type: "warning", at: now(), message: `could not delete the tools pod ${t.namespace}/${t.name}: ${String(err)}` }));
      }
    }
  }

  if (unreverted.length > 0) {
    const lines = unreverted.map(
      (u) =>
        `  pod ${podKey(u.pod)}${u.iface !== undefined ? ` (interface ${u.iface})` : ""}: fault ${u.faultId}: ${u.detail}\n` +
        `    clean it by hand: kubectl exec -n ${u.pod.namespace} ${u.pod.name} -c ${u.container} -- chaos-agent revert --id ${u.faultId}`,
    );
    const message = `${unreverted.length} fault${unreverted.length > 1 ? "s" : ""} could not be confirmed reverted; a fault may remain:\n${lines.join("\n")}`;
    const result: RunResult = { status: status === "passed" ? "error" : status, exitCode: ExitCode.RevertUnconfirmed, message, hint: "the agents also revert by themselves when their lease lapses; chaos-run sweep reverts every agent's faults in a namespace", unreverted };
    emit({ type: "run:end", at: now(), status: result.status, exitCode: result.exitCode, message: result.message, hint: result.hint });
    return result;
  }
  const result: RunResult =
    failure === undefined
      ? { status, exitCode: ExitCode.Ok, message: undefined, hint: undefined, unreverted }
      : { status, exitCode: failure.exitCode, message: failure.message, hint: failure.hint, unreverted };
  emit({ type: "run:end", at: now(), status: result.status, exitCode: result.exitCode, message: result.message, hint: result.hint });
  return result;
}

async function podGoneReason(cluster: Cluster, pod: PodRef): Promise<string | undefined> {
  try {
    const p = await cluster.getPod(pod.namespace, pod.name);
    if (p === undefined) return "deleted";
    return p.deleting ? "terminating" : undefined;
  } catch {
    return undefined;
  }
}
