// Holding a fault through agents — the pods' own (netem, partition, http) or a stress step's own:
// the ledger is written first, then the fault applied in every pod, held for the step's duration
// (its `during` probes measure meanwhile, the lease keeper renews each pod's lease on its own
// timer), then the leases released and the step's entries reverted — in `finally`, whatever ended
// the step. A pod whose fault was lost (its lease lapsed) does not stop the others.
import { CouldNotRunError } from "../../errors.js";
import type { Reply } from "../../faults/protocol.generated.js";
import type { PlannedAgentFault, PlannedStressFault } from "../../plan/types.js";
import { callAgent, type AgentHandle } from "../agent-client.js";
import { podKey } from "../events.js";
import { confirmTravelling, couldNotApply, travellingFailure, type Travelling } from "../first-fault.js";
import { ledgerEntry, type LedgerEntry } from "../ledger.js";
import { orphanWords } from "../orphans.js";
import { mapPool, sleep, throwFirstRejected } from "../pool.js";
import type { RevertOutcomeOf } from "../revert.js";
import { applyFailure } from "./apply-failure.js";
import { emitApplied, runDuring, type FaultStepOf, type Observation, type StepContext } from "./step-runner.js";

/** A step whose fault agents hold under a lease and revert: the pods' agents (netem, partition, http) or stress agents of its own. */
export type HeldFaultStep = FaultStepOf<PlannedAgentFault | PlannedStressFault>;

/** A held step's reverts, per pod: what stress and http faults measured comes with them. */
export type RevertsByPod = Map<string, RevertOutcomeOf>;

/** The agent applied the fault: said, and held under its lease (unless it is handed off to the lease). */
function applied(
  step: HeldFaultStep,
  e: LedgerEntry,
  reply: Reply,
  ctx: StepContext,
  started: number,
  travelled: { readonly from: "log" | "renewal"; readonly handOver: (() => number | undefined) | undefined } | undefined,
): void {
  const withAgent = travelled?.from;
  // a fault that travelled was renewed early until now; the step's keeper keeps that schedule
  const next = travelled?.handOver?.();
  e.state = "applied";
  const state = reply.fault;
  const spec = step.fault.apply.fault.spec;
  for (const o of reply.orphans ?? []) {
    ctx.emit({
      type: "warning",
      at: ctx.now(),
      message: `pod ${podKey(e.agent.pod)}: the agent found ${orphanWords(o)}, left by an agent that is gone, and ${o.confirmed ? "reverted it" : "could NOT revert it"}: ${o.detail}`,
    });
  }
  if (state === undefined || state.id !== step.fault.id || state.kind !== spec.kind) {
    throw new CouldNotRunError(
      `step ${step.index + 1} (${step.name}): the agent in pod ${podKey(e.agent.pod)} applied the fault but its reply does not describe it (${state === undefined ? "no fault state" : `fault ${state.id}, ${state.kind}`})`,
      {
        hint: `its image (${ctx.agent.image}) may be of another chaos-run version: pass --agent-image`,
      },
    );
  }
  e.iface = state.interface;
  if (!ctx.options.handOffToLease) ctx.leases.hold(e.agent, step.fault.id, next);
  const facts = { iface: state.interface, families: state.families, detail: state.detail, commands: reply.commands, expiresInKernel: state.expiresInKernel };
  emitApplied(ctx, step, e.agent.pod, withAgent === undefined ? facts : { ...facts, withAgent }, started);
}

/** Applies the step's fault through one entry's agent — or confirms the one its agent started with (`travelling`); throws what stops the step. */
async function applyOne(step: HeldFaultStep, e: LedgerEntry, ctx: StepContext, travelling: Travelling | undefined): Promise<void> {
  const started = travelling?.startedAt ?? ctx.now();
  const { signal, options } = ctx;
  const call =
    travelling === undefined
      ? await callAgent(ctx.cluster, e.agent, step.fault.apply, { signal, timeoutMs: options.execTimeoutMs })
      : await (travelling.confirmation ?? confirmTravelling(ctx.cluster, travelling, { runId: options.runId, leaseMs: ctx.agent.leaseMs, signal, timeoutMs: options.execTimeoutMs }));
  if (call.kind === "reply" && call.reply.ok) {
    const travelled = travelling === undefined ? undefined : { from: call.kind === "reply" && call.from === "log" ? ("log" as const) : ("renewal" as const), handOver: travelling.handOver };
    return applied(step, e, call.reply, ctx, started, travelled);
  }
  // not confirmed: its early renewals end (the step reverts it, or says it was lost)
  travelling?.handOver?.();
  const ended = travelling === undefined || call.kind === "reply" ? undefined : await travellingFailure(ctx.cluster, travelling, couldNotApply(step, e.agent.pod), signal);
  throw ended ?? applyFailure(step, e.agent, call, ctx);
}

/** Applies the fault in every pod; the first failure stops the applies not sent yet (never asked: nothing to revert) and is thrown. */
async function applyAll(step: HeldFaultStep, entries: readonly LedgerEntry[], travelling: ReadonlyMap<LedgerEntry, Travelling>, ctx: StepContext): Promise<void> {
  const stop = new AbortController();
  const results = await mapPool(entries, ctx.options.concurrency, async (e) => {
    if (stop.signal.aborted) {
      // a fault that travelled with its agent is held already: it stays in the ledger, to revert
      if (!travelling.has(e)) ctx.ledger.settle(e);
      return;
    }
    try {
      await applyOne(step, e, ctx, travelling.get(e));
    } catch (err) {
      stop.abort(err);
      throw err;
    }
  });
  throwFirstRejected(results);
}

/** Holds the applied fault for the step's duration, its `during` probes measuring meanwhile. */
async function holdWindow(step: HeldFaultStep, entries: readonly LedgerEntry[], ctx: StepContext): Promise<void> {
  const f = step.fault;
  const appliedAt = ctx.now();
  ctx.emit({ type: "fault:holding", at: appliedAt, index: step.index, faultId: f.id, summary: f.summary, pods: entries.map((e) => e.agent.pod), untilAt: appliedAt + step.durationMs });
  if (step.during.length > 0) await runDuring(step, ctx, appliedAt + step.durationMs);
  const left = step.durationMs - (ctx.now() - appliedAt);
  if (left > 0) await sleep(left, ctx.signal);
  else if (step.during.length > 0) {
    ctx.emit({
      type: "warning",
      at: ctx.now(),
      message: `step ${step.index + 1} (${step.name}): its probes took ${Math.round((ctx.now() - appliedAt) / 1000)}s, longer than the fault's ${Math.round(step.durationMs / 1000)}s; the fault was held until they ended`,
    });
  }
}

/**
 * Holds the step's fault through `holders`, one ledger entry each, and reverts it in `finally`;
 * `reverted` gets this step's reverts per pod, whatever ended the step. disrupt --detach: once
 * applied, the faults are the agents' to end at their lease, and leave the ledger.
 */
export async function holdFault(step: HeldFaultStep, holders: readonly AgentHandle[], ctx: StepContext, reverted: RevertsByPod): Promise<void> {
  const f = step.fault;
  // a fault that travelled with its agent was written to the ledger before the agent was added
  const travelling = new Map<LedgerEntry, Travelling>();
  const entries = holders.map((agent): LedgerEntry => {
    const t = ctx.travelling?.(agent, step.index);
    if (t !== undefined) travelling.set(t.entry, t);
    return t?.entry ?? ledgerEntry(step, agent);
  });
  // the ledger knows of a fault before the agent does: an interrupt mid-apply still reverts it
  ctx.ledger.record(entries.filter((e) => !travelling.has(e)));
  try {
    await applyAll(step, entries, travelling, ctx);
    if (ctx.options.handOffToLease) {
      for (const e of entries) {
        ctx.emit({ type: "fault:held", at: ctx.now(), index: step.index, faultId: f.id, pod: e.agent.pod, untilMs: ctx.now() + ctx.agent.leaseMs });
        ctx.ledger.settle(e);
      }
      return;
    }
    await holdWindow(step, entries, ctx);
  } finally {
    // first the leases: a renewal still out can no longer report anything about this step
    for (const e of entries) ctx.leases.release(e.agent, f.id);
    const open = ctx.ledger.open(step.index);
    // a fault never applied measured nothing
    if (open.length > 0) for (const o of await ctx.revert(open)) if (o.entry.step === step.index && o.entry.state !== "applying") reverted.set(podKey(o.entry.agent.pod), o);
  }
  const went = entries.map((e) => podKey(e.agent.pod)).filter((k) => ctx.targets.gone.has(k));
  if (went.length > 0) throw new CouldNotRunError(`target pod${went.length > 1 ? "s" : ""} ${went.join(", ")} went away during step ${step.index + 1} (${step.name}); the other pods were reverted`);
}

/** What a held fault measured, judged by its step's `expect:` — not after Ctrl-C, nor when the fault was handed off to its lease (its revert, which brings the measurements, is not the runner's). */
export function judgeHeld(step: HeldFaultStep, ctx: StepContext, observations: readonly Observation[]): void {
  if (!ctx.signal.aborted && !ctx.options.handOffToLease) ctx.checks.evaluateFault(step, observations);
}
