// The step runner's fault step: write the ledger, apply the fault in every pod, hold it for the
// step's duration (its `during` probes measure meanwhile, the lease keeper renews each pod's
// lease on its own timer), then release the leases and revert — in `finally`, whatever ended
// the step. A pod whose fault was lost (its lease lapsed) does not stop the others.
import { orphanWords } from "./orphans.js";
import { CouldNotRunError } from "../errors.js";
import type { Reply } from "../faults/protocol.generated.js";
import type { Cluster } from "../kube/types.js";
import type { PlannedAgentFault, PlannedFaultStep, PlannedStressFault } from "../plan/types.js";
import { callAgent, foreignAgentError, replyProblem, type AgentCall, type AgentHandle } from "./agent-client.js";
import type { EventSink, PodRef } from "./events.js";
import { interruptOf } from "./interrupt.js";
import type { LeaseKeeper } from "./leases.js";
import type { LedgerEntry, RevertLedger } from "./ledger.js";
import { mapPool, sleep } from "./pool.js";
import { revertEntries, type RevertOutcomeOf, type RevertRecovery } from "./revert.js";

export interface FaultStepContext {
  readonly cluster: Cluster;
  readonly emit: EventSink;
  readonly now: () => number;
  readonly ledger: RevertLedger;
  readonly leases: LeaseKeeper;
  /** the agents of the pods still there */
  readonly agents: () => readonly AgentHandle[];
  /** pods that went away (deleted or terminating), by namespace/name */
  readonly gone: ReadonlyMap<string, string>;
  /** the run's signal (Ctrl-C, SIGTERM) */
  readonly signal: AbortSignal;
  readonly concurrency: number;
  readonly execTimeoutMs: number;
  readonly revertDeadlineMs: number;
  /** a fresh agent for a pod whose agent died holding faults */
  readonly recovery?: RevertRecovery | undefined;
  /** disrupt --detach: once applied, the faults are left to the agents' leases */
  readonly handOffToLease: boolean;
  /** the lease of a handed-off fault (the fault's own duration) */
  readonly leaseMs: number;
  readonly agentImage: string;
  /** runs the step's `during` probes; continuous ones (`every:`) sample until `untilAt`, the window's end */
  readonly during: (step: PlannedFaultStep, signal: AbortSignal, untilAt: number) => Promise<number>;
  /** every revert's outcome (the unconfirmed ones make exit 4) */
  readonly reverted: (outcomes: readonly RevertOutcomeOf[]) => void;
}

const podKey = (p: PodRef): string => `${p.namespace}/${p.name}`;

/** A step whose fault agents hold under a lease and revert: the pods' agents (netem, partition) or stress agents of its own. */
export type AgentFaultStep = PlannedFaultStep & { readonly fault: PlannedAgentFault | PlannedStressFault };

export function isAgentFaultStep(step: PlannedFaultStep): step is AgentFaultStep {
  return step.fault.delivery === "agent" || step.fault.delivery === "stress-agent";
}

function failedCommand(reply: Reply): string {
  const bad = reply.commands.find((c) => c.exitCode !== 0);
  if (bad === undefined) return "";
  const err = bad.stderr?.trim().split("\n")[0];
  return `; \`${bad.argv.join(" ")}\` exited ${bad.exitCode}${err !== undefined && err !== "" ? `: ${err}` : ""}`;
}

/** The agent could not (or would not) apply the fault: what it said, and what to do. */
function applyError(step: AgentFaultStep, agent: AgentHandle, reply: Reply): CouldNotRunError {
  const where = `step ${step.index + 1} (${step.name}): the agent in pod ${podKey(agent.pod)} could not apply ${step.fault.summary}`;
  const e = reply.error;
  const logs = `kubectl logs -n ${agent.pod.namespace} ${agent.pod.name} -c ${agent.container}`;
  const text = `${where}: ${replyProblem(reply)}${failedCommand(reply)}`;
  switch (e?.code) {
    case "conflict":
      return new CouldNotRunError(text, { hint: "another live run holds what this fault needs: let it end (or end it: chaos-run sweep) and run again" });
    case "unrestorable":
      return new CouldNotRunError(text, {
        hint: "the interface holds a qdisc tree the agent could not restore exactly, so it refused rather than replace it: pick another interface, or remove that tree first",
      });
    case "no-interface":
      return new CouldNotRunError(text, { hint: "name the interface in the scenario (fault.interface) — the pod has no default route the agent could use" });
    case "no-backend":
      return new CouldNotRunError(text, { hint: "neither iptables backend (nft, legacy) works in this pod's namespace: the node's kernel lacks them" });
    case "reverted":
      // the ledger reverted this entry while its apply was still on its way: the agent keeps that revert and refuses the late apply
      return new CouldNotRunError(text, { hint: "the fault's revert reached the agent before its apply (an apply that timed out or was interrupted): nothing of it is in effect; run again" });
    case "forbidden":
      // only a process of the agent's own container may change anything; the runner's exec is one
      return new CouldNotRunError(text, { hint: `the agent did not take this exec for its own container's (its peer-credential check): ${logs}` });
    case "bad-request":
      // the runner's requests are valid by construction: an agent that refuses one speaks an older protocol
      return new CouldNotRunError(text, {
        hint: `the agent ${agent.container} (image ${step.fault.apply.fault.spec.kind === "stress" ? "without stress faults" : "of another version"}) is most likely of another chaos-run version: build the agent of this version and pass --agent-image IMAGE; ${logs}`,
      });
    default:
      return new CouldNotRunError(text, { hint: logs });
  }
}

/** Applies the step's fault through one entry's agent; throws what stops the step. */
async function applyOne(step: AgentFaultStep, e: LedgerEntry, ctx: FaultStepContext): Promise<void> {
  const started = ctx.now();
  const call: AgentCall = await callAgent(ctx.cluster, e.agent, step.fault.apply, { signal: ctx.signal, timeoutMs: ctx.execTimeoutMs });
  if (call.kind === "reply" && call.reply.ok) {
    e.state = "applied";
    const state = call.reply.fault;
    const spec = step.fault.apply.fault.spec;
    for (const o of call.reply.orphans ?? []) {
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
          hint: `its image (${ctx.agentImage}) may be of another chaos-run version: pass --agent-image`,
        },
      );
    }
    e.iface = state.interface;
    if (!ctx.handOffToLease) ctx.leases.hold(e.agent, step.fault.id);
    ctx.emit({
      type: "fault:applied",
      at: ctx.now(),
      index: step.index,
      faultId: step.fault.id,
      pod: e.agent.pod,
      iface: state.interface,
      families: state.families,
      detail: state.detail,
      commands: call.reply.commands,
      durationMs: ctx.now() - started,
    });
    return;
  }
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) throw interrupt;
  const gone = ctx.gone.get(podKey(e.agent.pod));
  if (gone !== undefined) throw new CouldNotRunError(`pod ${podKey(e.agent.pod)} was ${gone} during step ${step.index + 1} (${step.name})`);
  if (call.kind === "no-reply") {
    if (call.foreign) throw foreignAgentError(e.agent, ctx.agentImage, call.problem);
    throw new CouldNotRunError(`step ${step.index + 1} (${step.name}): no answer from the agent in pod ${podKey(e.agent.pod)} to the apply request: ${call.problem}`, {
      hint: `kubectl logs -n ${e.agent.pod.namespace} ${e.agent.pod.name} -c ${e.agent.container}`,
    });
  }
  throw applyError(step, e.agent, call.reply);
}

export async function runFaultStep(step: AgentFaultStep, ctx: FaultStepContext): Promise<void> {
  const f = step.fault;
  // a stress fault lives only in its agent's processes: if the agent is gone, so is the fault
  const processOnly = f.delivery === "stress-agent";
  const entries = ctx
    .agents()
    .map((agent): LedgerEntry => ({ step: step.index, faultId: f.id, agent, revert: f.revert, state: "applying", iface: undefined, ...(processOnly ? { processOnly } : {}) }));
  // the ledger knows of a fault before the agent does: an interrupt mid-apply still reverts it
  ctx.ledger.record(entries);
  try {
    const stop = new AbortController();
    const results = await mapPool(entries, ctx.concurrency, async (e) => {
      if (stop.signal.aborted) {
        // never asked: nothing to revert
        ctx.ledger.settle(e);
        return;
      }
      try {
        await applyOne(step, e, ctx);
      } catch (err) {
        stop.abort(err);
        throw err;
      }
    });
    const firstError = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (firstError !== undefined) throw firstError.reason;

    if (ctx.handOffToLease) {
      for (const e of entries) {
        ctx.emit({ type: "fault:held", at: ctx.now(), index: step.index, faultId: f.id, pod: e.agent.pod, untilMs: ctx.now() + ctx.leaseMs });
        ctx.ledger.settle(e);
      }
      return;
    }
    const appliedAt = ctx.now();
    ctx.emit({ type: "fault:holding", at: appliedAt, index: step.index, faultId: f.id, summary: f.summary, pods: entries.map((e) => e.agent.pod), untilAt: appliedAt + step.durationMs });
    if (step.during.length > 0) await ctx.during(step, ctx.signal, appliedAt + step.durationMs);
    const left = step.durationMs - (ctx.now() - appliedAt);
    if (left > 0) await sleep(left, ctx.signal);
    else if (step.during.length > 0) {
      ctx.emit({
        type: "warning",
        at: ctx.now(),
        message: `step ${step.index + 1} (${step.name}): its probes took ${Math.round((ctx.now() - appliedAt) / 1000)}s, longer than the fault's ${Math.round(step.durationMs / 1000)}s; the fault was held until they ended`,
      });
    }
  } finally {
    // first the leases: a renewal still out can no longer report anything about this step
    for (const e of entries) ctx.leases.release(e.agent, f.id);
    const open = ctx.ledger.open(step.index);
    if (open.length > 0) {
      const outcomes = await revertEntries(open, {
        cluster: ctx.cluster,
        emit: ctx.emit,
        now: ctx.now,
        concurrency: ctx.concurrency,
        execTimeoutMs: ctx.execTimeoutMs,
        deadlineMs: ctx.revertDeadlineMs,
        gone: ctx.gone,
        recovery: ctx.recovery,
      });
      for (const o of outcomes) ctx.ledger.settle(o.entry);
      ctx.reverted(outcomes);
    }
  }
  const went = entries.map((e) => podKey(e.agent.pod)).filter((k) => ctx.gone.has(k));
  if (went.length > 0) throw new CouldNotRunError(`target pod${went.length > 1 ? "s" : ""} ${went.join(", ")} went away during step ${step.index + 1} (${step.name}); the other pods were reverted`);
}
