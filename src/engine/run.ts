// The engine: runs a Plan through the Cluster port, in small parts — the revert ledger
// (ledger.ts: written before each apply, drained LIFO), the lease keeper (leases.ts: per pod and
// fault, independent timers), the step runner (steps.ts), reverts with retries (revert.ts),
// probes and expectations (checks.ts), agents (agents.ts). This file wires them: one AbortSignal
// for the run, and a `finally` that releases every lease and reverts whatever the ledger still
// holds under a fresh deadline (the run's own signal may be aborted by then). Events go out to
// observers; the engine never prints.
import { ChaosRunError, CouldNotRunError, ExitCode, isChaosRunError } from "../errors.js";
import { formatDuration } from "../expect/format.js";
import { stressAgentServeArgs, stressSecurity, type PodSecurityLevel } from "../faults/index.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import type { Plan } from "../plan/types.js";
import { callAgent, type AgentHandle } from "./agent-client.js";
import { agentContainer, ensureAgent, freeName } from "./agents.js";
import type { HttpGet } from "../probes/fetch.js";
import { Checks, type Monitor } from "./checks.js";
import type { EventSink, PodRef, RunStatus } from "./events.js";
import { Interrupted, interruptOf } from "./interrupt.js";
import { LeaseKeeper } from "./leases.js";
import { RevertLedger, type LedgerEntry } from "./ledger.js";
import { mapPool, sleep } from "./pool.js";
import { podUsers, preflight, TTL_MARGIN_MS } from "./preflight.js";
import { AgentRecovery, recoveredWords, type Recovered } from "./recover.js";
import { revertEntries, type RevertOutcomeOf } from "./revert.js";
import { toolsLifeMs } from "./tools-pod.js";
import { isAgentFaultStep, runFaultStep, type AgentFaultStep } from "./steps.js";
import { isKillStep, runKillStep, type EventStepContext, type Observation } from "./kill.js";
import { isPodDeleteStep, runPodDeleteStep } from "./pod-delete.js";
import { stressObservation } from "./stress.js";
import { httpObservation } from "./http-observed.js";

export interface EngineOptions {
  readonly runId: string;
  /** target pods, as read when the plan was made */
  readonly pods: readonly PodInfo[];
  readonly namespace: string;
  /** pods worked on at once */
  readonly concurrency: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
  /** how long reverting one fault may take, retries included, once its step is over */
  readonly revertDeadlineMs: number;
  /** bound on one probe's exec (ab's run) */
  readonly probeTimeoutMs: number;
  /**
   * disrupt --detach: once applied, faults are left to the agent's lease (which the plan sets
   * to the fault's duration) instead of being held and reverted here.
   */
  readonly handOffToLease: boolean;
  /** environment for {{ env.NAME }} in probe URLs (read by the CLI) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** keep the tools pods this run created (default: delete them at the end) */
  readonly keepTools: boolean;
  /** HTTP from the runner (prometheus probes); default Node's fetch */
  readonly httpGet?: HttpGet | undefined;
  readonly now: () => number;
  /** kill and podDelete steps end as soon as every pod has recovered, rather than hold their whole window (the seed verbs) */
  readonly untilRecovered?: boolean | undefined;
}

export interface Unreverted {
  readonly pod: PodRef;
  readonly container: string;
  readonly faultId: string;
  readonly iface: string | undefined;
  readonly detail: string;
  /** the agent still runs (it can be asked again by hand); undefined: unknown */
  readonly agentRunning: boolean | undefined;
}

/** A fault that ended before its step did: the agent reverted it by itself, or it died and a fresh agent did. */
export interface LostFault {
  readonly step: number;
  readonly stepName: string;
  readonly durationMs: number;
  readonly faultId: string;
  readonly pod: PodRef;
  readonly reason: string;
  /** lease: renewals did not reach the agent in time; agent: the agent's container ended */
  readonly cause?: "lease" | "agent" | undefined;
}

export interface RunResult {
  readonly status: RunStatus;
  readonly exitCode: number;
  readonly message: string | undefined;
  readonly hint: string | undefined;
  readonly unreverted: readonly Unreverted[];
  readonly lost: readonly LostFault[];
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

/** The exit-4 message: what may remain, where, and how to clean it — even when the agent is dead. */
export function unrevertedMessage(unreverted: readonly Unreverted[]): { message: string; hint: string } {
  const namespaces = [...new Set(unreverted.map((u) => u.pod.namespace))];
  const sweep = namespaces.map((ns) => `chaos-run sweep -n ${ns}`).join(", ");
  const lines = unreverted.map((u) => {
    const head = `  pod ${podKey(u.pod)}${u.iface !== undefined ? ` (interface ${u.iface})` : ""}: fault ${u.faultId}: ${u.detail}`;
    const byHand =
      u.agentRunning === false
        ? `    its agent ${u.container} is gone: ${`chaos-run sweep -n ${u.pod.namespace}`} adds a fresh agent that reverts what it left`
        : `    its agent ${u.container}${u.agentRunning === true ? " still runs" : " may still run"}: kubectl exec -n ${u.pod.namespace} ${u.pod.name} -c ${u.container} -- chaos-agent revert ${u.faultId}`;
    return `${head}\n${byHand}`;
  });
  return {
    message: `${unreverted.length} fault${unreverted.length > 1 ? "s" : ""} could not be confirmed reverted; a fault may remain:\n${lines.join("\n")}`,
    hint: `${sweep} reverts what the agents hold there, and adds a fresh agent to a pod whose agent died; a running agent also reverts by itself when its lease lapses`,
  };
}

function lostMessage(lost: readonly LostFault[]): { message: string; hint: string } {
  const lines = lost.map((l) => `  pod ${podKey(l.pod)}: fault ${l.faultId} (step ${l.step + 1}, ${l.stepName}) did not hold for its ${formatDuration(l.durationMs)}: ${l.reason}`);
  const hints: string[] = [];
  const died = [...new Set(lost.filter((l) => l.cause === "agent").map((l) => `kubectl describe pod -n ${l.pod.namespace} ${l.pod.name}`))];
  if (died.length > 0) hints.push(`an agent's container ended (OOMKilled: the pod's memory limit or the node's memory; a crash: its log, kubectl logs -c AGENT): ${died.join(", ")}`);
  if (lost.some((l) => l.cause !== "agent")) hints.push("a busy API server or node slows renewals down: give the agent a longer lease (agent.lease in the scenario)");
  return {
    message: `${lost.length} fault${lost.length > 1 ? "s" : ""} ended before ${lost.length > 1 ? "their steps" : "its step"} did, so what was measured is not what was planned:\n${lines.join("\n")}`,
    hint: hints.join("; "),
  };
}

export async function runPlan(plan: Plan, cluster: Cluster, emit: EventSink, signal: AbortSignal, options: EngineOptions): Promise<RunResult> {
  const now = options.now;
  const ledger = new RevertLedger();
  const unreverted: Unreverted[] = [];
  const lost: LostFault[] = [];
  const gone = new Map<string, string>();
  /** pods this run deleted (podDelete): their going is the fault, not news */
  const deletedByRun = new Set<string>();
  /** a deleted pod's Ready replacement, which later probes measure instead */
  const replacements = new Map<string, PodInfo>();
  const stopWatching: (() => void)[] = [];
  const agents = new Map<string, AgentHandle>();
  let failure: ChaosRunError | undefined;

  const stepOf = new Map(plan.steps.map((s) => [s.index, s]));
  const leases = new LeaseKeeper({
    runId: options.runId,
    leaseMs: plan.agent.leaseMs,
    call: (agent, request, o) => callAgent(cluster, agent, request, o),
    onLost: (agent, faultId, reason) => {
      const entry = ledger.open().find((e) => e.faultId === faultId && podKey(e.agent.pod) === podKey(agent.pod));
      if (entry !== undefined) markLost(entry, reason, "lease");
    },
    onWarning: (agent, faultId, why) => emit({ type: "warning", at: now(), message: `could not renew the lease of ${faultId} in pod ${podKey(agent.pod)} (renewing again): ${why}` }),
    onSlow: (agent, faultId, tookMs) =>
      emit({
        type: "warning",
        at: now(),
        message: `renewing the lease of ${faultId} in pod ${podKey(agent.pod)} took ${formatDuration(Math.round(tookMs / 100) * 100)}, over half its ${formatDuration(plan.agent.leaseMs)} lease: an exec to this pod is slow, and the agent may revert the fault by itself before a renewal reaches it; give the agent a longer lease (agent.lease in the scenario)`,
      }),
  });
  const markLost = (entry: LedgerEntry, reason: string, cause: LostFault["cause"]): void => {
    if (entry.state === "lost") return;
    entry.state = "lost";
    const step = stepOf.get(entry.step);
    lost.push({ step: entry.step, stepName: step?.name ?? "", durationMs: step?.durationMs ?? 0, faultId: entry.faultId, pod: entry.agent.pod, reason, cause });
    emit({ type: "fault:lost", at: now(), index: entry.step, faultId: entry.faultId, pod: entry.agent.pod, reason });
  };
  const recordReverts = (outcomes: readonly RevertOutcomeOf[]): void => {
    for (const o of outcomes) {
      // the agent had reverted it by itself before its step ended: renewals that never reached
      // it (a hung exec) are found out here at the latest
      if (o.endedEarly !== undefined && o.entry.state === "applied") markLost(o.entry, o.endedEarly, "lease");
      if (o.confirmed) continue;
      unreverted.push({ pod: o.entry.agent.pod, container: o.entry.agent.container, faultId: o.entry.faultId, iface: o.entry.iface, detail: o.detail, agentRunning: o.agentRunning });
    }
  };
  /** faults a dead agent held while their steps ran: lost once its recovery says how they ended */
  const heldByDead = new Map<string, LedgerEntry[]>();
  const recovery = new AgentRecovery(
    {
      cluster,
      emit,
      now,
      runId: options.runId,
      image: plan.agent.image,
      pullPolicy: plan.agent.pullPolicy,
      capabilities: plan.agent.capabilities,
      ttlMs: plan.agent.ttlMs,
      injectTimeoutMs: options.injectTimeoutMs,
      execTimeoutMs: options.execTimeoutMs,
    },
    (r) => recovered(r),
  );
  const recovered = (r: Recovered): void => {
    const k = podKey(r.dead.pod);
    // the fresh agent is the pod's agent from now on (later steps apply through it)
    if (r.fresh !== undefined && agents.get(k)?.container === r.dead.container) agents.set(k, r.fresh);
    const words = recoveredWords(r);
    for (const e of heldByDead.get(`${k}/${r.dead.container}`) ?? []) markLost(e, words, "agent");
    emit({ type: "warning", at: now(), message: `pod ${k}: ${words}` });
  };
  /** An agent of this run's was seen terminated: its faults are reverted by a fresh agent at once. */
  const agentEnded = (pod: PodInfo): void => {
    const handle = agents.get(podKey(pod));
    if (handle === undefined || pod.deleting || recovery.of(handle) !== undefined) return;
    const c = pod.ephemeralContainers.find((x) => x.name === handle.container);
    if (c === undefined || c.state !== "terminated") return;
    const mine = ledger.open().filter((e) => e.agent.container === handle.container && podKey(e.agent.pod) === podKey(pod) && e.processOnly !== true);
    // those whose steps are still on (held, or being applied) did not hold for their duration
    const holding = mine.filter((e) => e.state === "applying" || leases.isHeld(e.agent, e.faultId));
    for (const e of holding) leases.release(e.agent, e.faultId);
    heldByDead.set(`${podKey(pod)}/${handle.container}`, holding);
    emit({
      type: "warning",
      at: now(),
      message: `pod ${podKey(pod)}: agent ${handle.container} ended (${c.reason ?? "terminated"}${c.exitCode !== undefined ? `, exit ${c.exitCode}` : ""})${mine.length > 0 ? ` holding ${mine.map((e) => e.faultId).join(", ")}` : ""}: adding a fresh agent to revert what it left`,
    });
    void recovery.recover(handle, c, pod);
  };
  const checks = new Checks({
    cluster,
    emit,
    now,
    namespace: options.namespace,
    runId: options.runId,
    pullPolicy: plan.agent.pullPolicy,
    signal,
    injectTimeoutMs: options.injectTimeoutMs,
    probeTimeoutMs: options.probeTimeoutMs,
    toolsLifeMs: toolsLifeMs(plan, options.probeTimeoutMs, options.injectTimeoutMs),
    env: options.env,
    targets: () => options.pods.flatMap((p) => (replacements.has(podKey(p)) ? [replacements.get(podKey(p)) as PodInfo] : gone.has(podKey(p)) ? [] : [p])),
    httpGet: options.httpGet,
  });
  let monitor: Monitor | undefined;
  const faultSteps = plan.steps.flatMap((st) => (st.kind === "fault" ? [st] : []));
  const hasFaults = faultSteps.length > 0;
  const agentNeeded = plan.agent.needed ?? (hasFaults || plan.steps.length === 0);
  const hasProbes = plan.steadyState.length > 0 || plan.steps.some((st) => st.kind === "probe" || (st.kind === "fault" && st.during.length > 0));

  const eventContext = (): EventStepContext => ({
    cluster,
    emit,
    now,
    signal,
    concurrency: options.concurrency,
    execTimeoutMs: options.execTimeoutMs,
    injectTimeoutMs: options.injectTimeoutMs,
    runId: options.runId,
    agentImage: plan.agent.image,
    pullPolicy: plan.agent.pullPolicy,
    pods: () => options.pods.filter((p) => !gone.has(podKey(p))),
    during: (s, stepSignal, untilAt) => checks.run(s.during, { phase: "during", index: s.index, stepName: s.name }, stepSignal, untilAt),
    untilRecovered: options.untilRecovered === true,
  });
  /** A fault agents hold: the pods' agents (netem, partition, http) or stress agents of its own, which also say what they measured. */
  const agentStep = async (step: AgentFaultStep): Promise<void> => {
    const f = step.fault;
    const stress = f.delivery === "stress-agent";
    /** this step's reverts, per pod: what stress and http faults measured comes with them */
    const revertedIn = new Map<string, RevertOutcomeOf>();
    const before = new Map<string, PodInfo | undefined>();
    const holders = new Map<string, AgentHandle>();
    if (f.delivery === "stress-agent") {
      const live = options.pods.filter((p) => !gone.has(podKey(p)));
      const added = await mapPool(live, options.concurrency, async (p) => {
        const fresh = (await cluster.getPod(p.namespace, p.name)) ?? p;
        before.set(podKey(p), fresh);
        const name = freeName(fresh, f.agentName);
        const ref = { namespace: p.namespace, name: p.name };
        emit({ type: "agent:injecting", at: now(), pod: ref, container: name });
        const started = now();
        // no capability; the pod's user where the pod or the namespace demands non-root
        const security = stressSecurity(podUsers(fresh), namespaceLevel);
        const spec = agentContainer(name, { image: plan.agent.image, pullPolicy: plan.agent.pullPolicy, capabilities: [], security, ttlMs: f.agentTtlMs, runId: options.runId });
        await cluster.addEphemeralContainer(p.namespace, p.name, { ...spec, args: stressAgentServeArgs(f.agentTtlMs) });
        await cluster.waitContainerRunning(p.namespace, p.name, name, { signal, timeoutMs: options.injectTimeoutMs });
        holders.set(podKey(ref), { pod: ref, container: name, reused: false });
        emit({ type: "agent:ready", at: now(), pod: ref, container: name, reused: false, durationMs: now() - started });
      });
      const failed = added.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    }
    const holding = (): AgentHandle[] => [...(stress ? holders : agents).values()].filter((a) => !gone.has(podKey(a.pod)));
    try {
      await runFaultStep(step, {
        cluster,
        emit,
        now,
        ledger,
        leases,
        agents: holding,
        gone,
        signal,
        concurrency: options.concurrency,
        execTimeoutMs: options.execTimeoutMs,
        revertDeadlineMs: options.revertDeadlineMs,
        recovery,
        handOffToLease: options.handOffToLease,
        leaseMs: plan.agent.leaseMs,
        agentImage: plan.agent.image,
        during: (s, stepSignal, untilAt) => checks.run(s.during, { phase: "during", index: s.index, stepName: s.name }, stepSignal, untilAt),
        reverted: (outcomes) => {
          // a fault never applied measured nothing
          for (const o of outcomes) if (o.entry.step === step.index && o.entry.state !== "applying") revertedIn.set(podKey(o.entry.agent.pod), o);
          recordReverts(outcomes);
        },
      });
    } finally {
      const observations: Observation[] = [];
      const observed = (kind: "stress" | "http", o: Observation): void => {
        emit({ type: "fault:observed", at: now(), index: step.index, faultId: step.fault.id, kind, pod: o.pod, metrics: o.metrics, detail: o.detail });
        observations.push(o);
      };
      if (stress) {
        for (const a of holders.values()) {
          const r = revertedIn.get(podKey(a.pod));
          if (r === undefined) continue;
          const after = await cluster.getPod(a.pod.namespace, a.pod.name).catch(() => undefined);
          observed("stress", stressObservation(a.pod, r.reading, before.get(podKey(a.pod)), after, a.container));
        }
      } else if (f.fault.kind === "http") {
        for (const r of revertedIn.values()) {
          const o = httpObservation(r.entry.agent.pod, r.http, f.fault.http.port);
          observed("http", o);
          if (o.untouched !== undefined) emit({ type: "warning", at: now(), message: o.untouched });
        }
      }
      if ((stress || f.fault.kind === "http") && !signal.aborted && !options.handOffToLease) checks.evaluateFault(step, observations);
    }
  };

  emit({ type: "run:start", at: now(), runId: options.runId, plan, cluster: cluster.identity });
  let status: RunStatus = "passed";
  /** the Pod Security level the namespace enforces (undefined: it could not be read) */
  let namespaceLevel: PodSecurityLevel | undefined;
  try {
    namespaceLevel = await preflight(
      plan,
      cluster,
      options.namespace,
      options.pods,
      {
        toolsPod: hasProbes,
        injectAgents: agentNeeded,
        killAgents: faultSteps.some((st) => st.fault.delivery === "kill-agent"),
        stressAgents: faultSteps.some((st) => st.fault.delivery === "stress-agent"),
        deletePods: faultSteps.some((st) => st.fault.delivery === "api"),
      },
      options.env,
      emit,
      now,
    );
    // one follower per target pod on the namespace's one watch: the pod going, and its agent ending
    for (const pod of options.pods) {
      stopWatching.push(
        cluster.followPod(pod.namespace, pod.name, {
          gone: (reason) => {
            gone.set(podKey(pod), reason);
            if (!deletedByRun.has(podKey(pod))) emit({ type: "warning", at: now(), message: `target pod ${podKey(pod)} was ${reason} during the run` });
          },
          changed: agentEnded,
        }),
      );
    }
    if (plan.steadyState.length > 0) {
      const failed = await checks.run(plan.steadyState, { phase: "before", index: undefined, stepName: "steady state (before)" }, signal);
      if (failed > 0) throw new SteadyStateBroken(failed);
      // the steady state's continuous probes sample through the whole run, for its timeline
      const continuous = plan.steadyState.filter((r) => r.everyMs !== undefined);
      if (continuous.length > 0) monitor = checks.monitor(continuous, signal);
    }
    if (agentNeeded) {
      const injected = await mapPool(options.pods, options.concurrency, async (pod) => {
        const started = now();
        const handle = await ensureAgent(
          cluster,
          pod,
          {
            image: plan.agent.image,
            pullPolicy: plan.agent.pullPolicy,
            capabilities: plan.agent.capabilities,
            ttlMs: plan.agent.ttlMs,
            runId: options.runId,
            neededMs: plan.timelineMs + TTL_MARGIN_MS,
            injectTimeoutMs: options.injectTimeoutMs,
            execTimeoutMs: options.execTimeoutMs,
          },
          signal,
          (container) => emit({ type: "agent:injecting", at: now(), pod: { namespace: pod.namespace, name: pod.name }, container }),
          (why) => emit({ type: "warning", at: now(), message: `pod ${podKey(pod)}: not reusing agent ${why}` }),
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
          if (isKillStep(step)) checks.evaluateFault(step, await runKillStep(step, eventContext()));
          else if (isPodDeleteStep(step)) {
            const observations = await runPodDeleteStep(step, {
              ...eventContext(),
              deleting: (p) => deletedByRun.add(podKey(p)),
              replaced: (old, replacement) => {
                replacements.set(podKey(old), replacement);
                emit({ type: "warning", at: now(), message: `pod ${podKey(old)} was replaced by ${replacement.name}: later probes measure ${replacement.name}` });
              },
            });
            checks.evaluateFault(step, observations);
          } else if (isAgentFaultStep(step)) await agentStep(step);
          else throw new TypeError(`fault step ${step.index + 1} has no delivery the engine knows`);
          break;
        case "wait":
          await sleep(step.durationMs, signal);
          break;
        case "probe":
          await checks.run([step.run], { phase: "step", index: step.index, stepName: step.name }, signal);
          break;
      }
      emit({ type: "step:end", at: now(), index: step.index, ok: true, detail: undefined });
    }
    await monitor?.stop();
    if (plan.steadyState.length > 0) await checks.run(plan.steadyState, { phase: "after", index: undefined, stepName: "steady state (after)" }, signal);
    if (checks.failed > 0) {
      status = "failed";
      failure = new ChaosRunError(ExitCode.ExpectationFailed, `${checks.failed} expectation${checks.failed > 1 ? "s" : ""} did not hold`);
    }
  } catch (e) {
    const interrupt = interruptOf(signal) ?? (e instanceof Interrupted ? e : undefined);
    if (interrupt !== undefined) {
      status = "interrupted";
      failure = new ChaosRunError(interrupt.exitCode === ExitCode.Interrupted ? ExitCode.Interrupted : ExitCode.Terminated, `interrupted by ${interrupt.signal}`);
    } else if (e instanceof SteadyStateBroken) {
      status = "failed";
      failure = e;
    } else {
      status = "error";
      failure = isChaosRunError(e) ? e : new CouldNotRunError(e instanceof Error ? e.message : String(e), { cause: e });
    }
  } finally {
    leases.releaseAll();
    const leftover = ledger.open();
    if (leftover.length > 0) {
      const outcomes = await revertEntries(leftover, {
        cluster,
        emit,
        now,
        concurrency: options.concurrency,
        execTimeoutMs: options.execTimeoutMs,
        deadlineMs: options.revertDeadlineMs,
        gone,
        recovery,
      });
      for (const o of outcomes) ledger.settle(o.entry);
      recordReverts(outcomes);
    }
    // a fresh agent still at work for an agent that died after its faults were reverted
    await recovery.settled();
    // after the reverts: a sample under way must not hold them up
    await monitor?.stop();
    for (const stop of stopWatching) stop();
    if (!options.keepTools) {
      for (const t of checks.toolsPods()) {
        await cluster.deletePod(t.namespace, t.name).catch((err: unknown) => emit({ type: "warning", at: now(), message: `could not delete the tools pod ${t.namespace}/${t.name}: ${String(err)}` }));
      }
    }
  }

  let result: RunResult;
  if (unreverted.length > 0) {
    const { message, hint } = unrevertedMessage(unreverted);
    // what stopped the run is worth knowing too (e.g. an agent of another version, which no revert can reach)
    const why = failure !== undefined && failure.exitCode !== ExitCode.ExpectationFailed ? `\nthe run had stopped: ${failure.message}` : "";
    const first = failure?.hint !== undefined && failure.exitCode !== ExitCode.ExpectationFailed ? `${failure.hint}; then ` : "";
    result = { status: status === "passed" || status === "failed" ? "error" : status, exitCode: ExitCode.RevertUnconfirmed, message: message + why, hint: first + hint, unreverted, lost };
  } else if (lost.length > 0 && (failure === undefined || failure.exitCode === ExitCode.ExpectationFailed)) {
    result = { status: "error", exitCode: ExitCode.CouldNotRun, ...lostMessage(lost), unreverted, lost };
  } else if (failure === undefined) {
    result = { status, exitCode: ExitCode.Ok, message: undefined, hint: undefined, unreverted, lost };
  } else {
    result = { status, exitCode: failure.exitCode, message: failure.message, hint: failure.hint, unreverted, lost };
  }
  emit({ type: "run:end", at: now(), status: result.status, exitCode: result.exitCode, message: result.message, hint: result.hint });
  return result;
}
