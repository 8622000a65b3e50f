// The engine runs a Plan through the Cluster port; it never prints and never exits: events go
// out to observers, a RunResult comes back. Which file owns which phase, and which guarantee:
//
//   run.ts           the Run: its state, named, and its phases in order — preflight, the pod
//                    watch, the steady state before, the pods' agents, the steps, the steady state
//                    after — then the teardown in `finally`, whatever happened, then the result
//   options.ts       what the CLI decides: targets, timeouts, concurrency, --detach
//   preflight.ts     everything that can be known to fail (RBAC, Pod Security, the agent's TTL),
//                    checked before anything is touched
//   targets.ts       the target pods as the run knows them: gone, deleted by the run, replaced
//   pod-agents.ts    the pods' own agents, added or reused before the first step (agents.ts: the
//                    containers, explicit in everything, named per run, never reused by name)
//   first-fault.ts   the first step's fault travels with the fresh agents (in their environment,
//                    the ledger written before they are added), confirmed by their first renewal
//   dead-agents.ts   an agent seen dead: a fresh agent reverts what it left, at once (recover.ts)
//   steps/           one runner per kind of step behind one contract, StepRunner (step-runner.ts,
//                    which also builds `fault:applied` and `fault:observed`; index.ts dispatches):
//                    wait, probe, network (netem, partition, http through the pods' agents),
//                    stress, kill (kill-target.ts), pod-delete. hold.ts holds an agent's fault:
//                    the ledger written before the apply, leases renewed, the revert in its `finally`
//   checks.ts        probes, their series, the steady state's monitor, expectations (tools-pod.ts:
//                    the pod probes run in, which ends by itself)
//   ledger.ts        GUARANTEE: a fault is written before it is applied; read LIFO
//   leases.ts        GUARANTEE: a lease per pod and fault, each on a timer of its own, so that a
//                    runner that dies leaves no fault behind longer than a lease
//   revert.ts        GUARANTEE: each revert retried under a fresh deadline of its own, never the
//                    run's signal; the teardown (Run.teardown) drains the ledger LIFO through it
//   interrupt.ts     GUARANTEE: Ctrl-C and SIGTERM abort the run's signal with an Interrupted; the
//                    step's `finally` and the teardown revert first, result.ts then says 130/143
//   fault-fates.ts   faults lost before their step ended (exit 3), reverts not confirmed (exit 4)
//   result.ts        status and exit code, in one order
//   events.ts        GUARANTEE: observers are isolated (fanOut): a broken view never stops a run
//                    or undoes a revert
//   agent-client.ts  one request per exec, one reply, whatever the exit code; pool.ts bounded
//                    fan-out and sleeps that end with the signal; orphans.ts what dead agents left
//   sweep.ts         the third revert guarantee, a verb of its own: what dead runs left
import type { PodSecurityLevel } from "../faults/index.js";
import { formatDuration } from "../expect/format.js";
import type { Cluster } from "../kube/types.js";
import type { Reply, Request } from "../faults/protocol.generated.js";
import { asksPodAgents } from "../plan/plan.js";
import type { Plan } from "../plan/types.js";
import { callAgent, type CallOptions } from "./agent-client.js";
import { Checks, type Monitor } from "./checks.js";
import { DeadAgents } from "./dead-agents.js";
import { podKey, type EventSink, type PodRef } from "./events.js";
import { FaultFates } from "./fault-fates.js";
import { TravellingFaults, travellingStep } from "./first-fault.js";
import { LeaseKeeper } from "./leases.js";
import { RevertLedger, type LedgerEntry } from "./ledger.js";
import type { EngineOptions } from "./options.js";
import { PodAgents } from "./pod-agents.js";
import { needsOf, preflight } from "./preflight.js";
import { ranThrough, resultOf, SteadyStateBroken, stoppedBy, type Ending, type RunResult } from "./result.js";
import { revertEntries, type RevertOutcomeOf } from "./revert.js";
import { runStep } from "./steps/index.js";
import type { StepContext } from "./steps/step-runner.js";
import { Targets } from "./targets.js";
import { toolsLifeMs } from "./tools-pod.js";

export type { EngineOptions } from "./options.js";
export type { LostFault, Unreverted } from "./fault-fates.js";
export type { RunResult } from "./result.js";

export async function runPlan(plan: Plan, cluster: Cluster, emit: EventSink, signal: AbortSignal, options: EngineOptions): Promise<RunResult> {
  return new Run(plan, cluster, emit, signal, options).play();
}

/** One run of a plan: what it holds and knows, by name, and its phases as methods. */
class Run {
  /** every fault the run applies, written before it is applied; whatever it still holds at the end is reverted then */
  private readonly ledger = new RevertLedger();
  /** what became of the faults: lost before their step ended, or not confirmed reverted */
  private readonly fates: FaultFates;
  private readonly leases: LeaseKeeper;
  private readonly targets: Targets;
  private readonly agents = new PodAgents();
  /** the first step's fault, where it travels with the fresh agents (first-fault.ts) */
  private readonly travelling: TravellingFaults | undefined;
  /** the pods' agents are added before the steady state is checked: its dns probes ask them */
  private readonly agentsFirst: boolean;
  private readonly deadAgents: DeadAgents;
  private readonly checks: Checks;
  /** the steady state's continuous probes, sampled through the run */
  private monitor: Monitor | undefined;
  /** the Pod Security level the namespace enforces (undefined: it could not be read) */
  private namespaceLevel: PodSecurityLevel | undefined;
  private ending: Ending = { status: "passed", failure: undefined };
  private readonly now: () => number;

  constructor(
    private readonly plan: Plan,
    private readonly cluster: Cluster,
    private readonly emit: EventSink,
    /** the run's signal: Ctrl-C and SIGTERM abort it (with an Interrupted) */
    private readonly signal: AbortSignal,
    private readonly options: EngineOptions,
  ) {
    const now = options.now;
    this.now = now;
    this.targets = new Targets(options.pods, emit, now);
    this.fates = new FaultFates(plan.steps, emit, now);
    this.leases = this.leaseKeeper();
    // a dns probe of the steady state resolves through the pods' agents: they come first, and bring no fault with them
    this.agentsFirst = asksPodAgents(plan.steadyState);
    const first = options.firstFaultWithAgent === false || this.agentsFirst ? undefined : travellingStep(plan);
    const { image, pullPolicy, capabilities, ttlMs } = plan.agent;
    const { runId, injectTimeoutMs, execTimeoutMs } = options;
    this.travelling = first === undefined ? undefined : new TravellingFaults(first, this.ledger, { runId, leaseMs: plan.agent.leaseMs, timeoutMs: execTimeoutMs });
    const recovery = { cluster, emit, now, runId, image, pullPolicy, capabilities, ttlMs, injectTimeoutMs, execTimeoutMs };
    this.deadAgents = new DeadAgents({ emit, now, agents: this.agents, ledger: this.ledger, leases: this.leases, fates: this.fates }, recovery);
    this.checks = new Checks({
      cluster,
      emit,
      now,
      namespace: options.namespace,
      runId,
      pullPolicy,
      signal,
      injectTimeoutMs,
      probeTimeoutMs: options.probeTimeoutMs,
      toolsLifeMs: toolsLifeMs(plan, options.probeTimeoutMs, injectTimeoutMs),
      env: options.env,
      targets: () => this.targets.measured(),
      httpGet: options.httpGet,
      agents: { runId, ask: (pod, request, o) => this.askAgent(pod, request, o) },
    });
  }

  /** One request to a target pod's own agent (a dns probe's): the reply, or why there is none. */
  private async askAgent(pod: PodRef, request: Request, o: CallOptions): Promise<{ reply: Reply } | { problem: string }> {
    const agent = this.agents.of(pod);
    if (agent === undefined) return { problem: `pod ${podKey(pod)} has no chaos agent of this run` };
    const call = await callAgent(this.cluster, agent, request, o);
    return call.kind === "reply" ? { reply: call.reply } : { problem: call.problem };
  }

  /** The phases in order; whatever ends them, the teardown reverts what the ledger still holds before the result is told. */
  async play(): Promise<RunResult> {
    const { plan, cluster, options } = this;
    const needs = needsOf(plan);
    this.emit({ type: "run:start", at: this.now(), runId: options.runId, plan, cluster: cluster.identity });
    try {
      this.namespaceLevel = await preflight(plan, cluster, options.namespace, options.pods, needs, options.env, this.emit, this.now, options.runnerPod);
      // one follower per target pod on the namespace's one watch: the pod going, and its agent ending
      this.targets.follow(cluster, (pod) => this.deadAgents.seen(pod));
      if (needs.injectAgents && this.agentsFirst) await this.agents.add(cluster, plan.agent, options, plan.timelineMs, this.signal, this.emit, undefined);
      await this.steadyStateBefore();
      if (needs.injectAgents && !this.agentsFirst) await this.agents.add(cluster, plan.agent, options, plan.timelineMs, this.signal, this.emit, this.travelling);
      await this.runSteps();
      await this.monitor?.stop();
      if (plan.steadyState.length > 0) await this.checks.run(plan.steadyState, { phase: "after", index: undefined, stepName: "steady state (after)" }, this.signal);
      this.ending = ranThrough(this.checks.failed);
    } catch (e) {
      this.ending = stoppedBy(e, this.signal);
    } finally {
      this.travelling?.stop(); // early renewals of a first fault no step took: the teardown reverts it
      await this.teardown();
    }
    const result = resultOf(this.ending, this.fates);
    this.emit({ type: "run:end", at: this.now(), status: result.status, exitCode: result.exitCode, message: result.message, hint: result.hint });
    return result;
  }

  /** The steady state must hold before anything is changed; its continuous probes then sample through the whole run, for its timeline. */
  private async steadyStateBefore(): Promise<void> {
    const steady = this.plan.steadyState;
    if (steady.length === 0) return;
    const failed = await this.checks.run(steady, { phase: "before", index: undefined, stepName: "steady state (before)" }, this.signal);
    if (failed > 0) throw new SteadyStateBroken(failed);
    const continuous = steady.filter((r) => r.everyMs !== undefined);
    if (continuous.length > 0) this.monitor = this.checks.monitor(continuous, this.signal);
  }

  /** Each step in order, through the runner of its kind; an interrupt between two steps stops the run before the next. */
  private async runSteps(): Promise<void> {
    const ctx = this.stepContext();
    for (const step of this.plan.steps) {
      if (this.signal.aborted) throw this.signal.reason;
      this.emit({ type: "step:start", at: this.now(), index: step.index, name: step.name, kind: step.kind, durationMs: step.durationMs });
      await runStep(step, ctx);
      this.emit({ type: "step:end", at: this.now(), index: step.index, ok: true, detail: undefined });
    }
  }

  private stepContext(): StepContext {
    return {
      cluster: this.cluster,
      emit: this.emit,
      now: this.now,
      signal: this.signal,
      options: this.options,
      agent: this.plan.agent,
      targets: this.targets,
      podAgents: () => this.agents.all().filter((a) => !this.targets.isGone(a.pod)),
      ledger: this.ledger,
      leases: this.leases,
      revert: (entries) => this.revert(entries),
      checks: this.checks,
      namespaceLevel: this.namespaceLevel,
      travelling: (agent, index) => this.travelling?.take(agent, index),
    };
  }

  /**
   * Reverts ledger entries (given LIFO) under a deadline of their own — the run's signal may be
   * aborted by now, and a revert must not be cut short by it; each entry leaves the ledger once
   * its revert ran, and what became of its fault is recorded.
   */
  private async revert(entries: readonly LedgerEntry[]): Promise<RevertOutcomeOf[]> {
    const { cluster, emit, now, options } = this;
    const outcomes = await revertEntries(entries, {
      cluster,
      emit,
      now,
      concurrency: options.concurrency,
      execTimeoutMs: options.execTimeoutMs,
      deadlineMs: options.revertDeadlineMs,
      gone: this.targets.gone,
      recovery: this.deadAgents.recovery,
    });
    for (const o of outcomes) this.ledger.settle(o.entry);
    this.fates.recordReverts(outcomes);
    return outcomes;
  }

  /**
   * Whatever ended the run (Ctrl-C included): every lease released, whatever the ledger still
   * holds reverted LIFO under a fresh deadline, the fresh agents of dead ones let finish, the
   * monitor stopped (after the reverts: a sample under way must not hold them up), the watch
   * closed, and the tools pods deleted unless kept.
   */
  private async teardown(): Promise<void> {
    this.leases.releaseAll();
    const leftover = this.ledger.open();
    if (leftover.length > 0) await this.revert(leftover);
    // a fresh agent still at work for an agent that died after its faults were reverted
    await this.deadAgents.recovery.settled();
    // the lines held to the agents end with the run (an agent's stdin stays open; it reads nothing more)
    for (const a of this.agents.all()) a.line?.close();
    await this.monitor?.stop();
    this.targets.unfollow();
    if (this.options.keepTools) return;
    for (const t of this.checks.toolsPods()) {
      await this.cluster
        .deletePod(t.namespace, t.name)
        .catch((err: unknown) => this.emit({ type: "warning", at: this.now(), message: `could not delete the tools pod ${t.namespace}/${t.name}: ${String(err)}` }));
    }
  }

  /** Leases per pod and fault: a fault whose agent answers `lease-lapsed` is lost; renewals that fail or are slow are said. */
  private leaseKeeper(): LeaseKeeper {
    const { emit, now, plan } = this;
    const leaseMs = plan.agent.leaseMs;
    return new LeaseKeeper({
      runId: this.options.runId,
      leaseMs,
      call: (agent, request, o) => callAgent(this.cluster, agent, request, o),
      onLost: (agent, faultId, reason) => {
        const entry = this.ledger.open().find((e) => e.faultId === faultId && podKey(e.agent.pod) === podKey(agent.pod));
        if (entry !== undefined) this.fates.markLost(entry, reason, "lease");
      },
      onWarning: (agent, faultId, why) => emit({ type: "warning", at: now(), message: `could not renew the lease of ${faultId} in pod ${podKey(agent.pod)} (renewing again): ${why}` }),
      onSlow: (agent, faultId, tookMs) =>
        emit({
          type: "warning",
          at: now(),
          message: `renewing the lease of ${faultId} in pod ${podKey(agent.pod)} took ${formatDuration(Math.round(tookMs / 100) * 100)}, over half its ${formatDuration(leaseMs)} lease: an exec to this pod is slow, and the agent may revert the fault by itself before a renewal reaches it; give the agent a longer lease (agent.lease in the scenario)`,
        }),
    });
  }
}
