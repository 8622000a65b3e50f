// The first fault travels with the agent. When the run's first step is a fault the pods' agents
// hold, each fresh agent is added with that step's apply request in its environment
// (CHAOS_AGENT_FIRST_REQUEST): it holds the fault from its start, so a fresh pod costs one
// container start and no exec. The ledger entry is written before the container is added (an
// interrupt mid-injection still reverts it); the fault counts as applied only once the agent
// confirms it: the apply's reply (fault state, commands) that the agent writes to its log, read
// with a plain GET on the API server's kept-alive connection — no exec, so no connection of its
// own and no process started in the pod — or, where the log does not tell it within a quarter of
// a lease, the agent's first renewal by exec, whose reply carries the same. The log is the pod's
// to write too: it only ever says "held", and the renewals a third of a lease apart stay the
// authority. A runner that never confirms leaves the fault to its lease, which started with the agent. An agent that
// refused its first request (it validates it as strictly as an exec's) exits non-zero with its
// reason last in its log, the container's termination message: that is the apply's failure (and
// the agent is recovered as any dead agent is). A reused agent is sent the apply by exec, as before.
import { CouldNotRunError } from "../errors.js";
import { firstReplyInLog, renewRequest } from "../faults/index.js";
import type { ApplyRequest } from "../faults/protocol.generated.js";
import type { Cluster, ContainerInfo } from "../kube/types.js";
import type { Plan, PlannedAgentFault, PlannedFaultStep, PlannedStressFault } from "../plan/types.js";
import { callAgent, type AgentCall, type AgentHandle } from "./agent-client.js";
import { podKey, type PodRef } from "./events.js";
import { LeaseKeeper, renewalTiming } from "./leases.js";
import { ledgerEntry, type LedgerEntry, type RevertLedger } from "./ledger.js";
import { sleep } from "./pool.js";

/** Where the agent finds the request it starts with (agent/cli: FirstRequestEnv). */
export const FIRST_REQUEST_ENV = "CHAOS_AGENT_FIRST_REQUEST";

/** The step whose fault travels with the pods' fresh agents: the first step, when it is a fault they hold (nothing runs between their start and it). */
export function travellingStep(plan: Pick<Plan, "steps">): (PlannedFaultStep & { readonly fault: PlannedAgentFault }) | undefined {
  const first = plan.steps[0];
  return first?.kind === "fault" && first.fault.delivery === "agent" ? (first as PlannedFaultStep & { readonly fault: PlannedAgentFault }) : undefined;
}

/** Whether any fault of the plan travels with fresh agents: the first step's with the pods' agents, or a stress with its own (whose logs then tell it is held). */
export function faultsTravel(plan: Pick<Plan, "steps">): boolean {
  return travellingStep(plan) !== undefined || plan.steps.some((st) => st.kind === "fault" && st.fault.delivery === "stress-agent");
}

/** A fault given to a fresh agent at its start, not yet confirmed: its ledger entry, and when its injection began. */
export interface Travelling {
  readonly entry: LedgerEntry;
  readonly request: ApplyRequest;
  readonly startedAt: number;
  /** its confirmation, asked as soon as its agent ran (confirmWhenRunning); else the step asks it */
  readonly confirmation?: Promise<AgentCall> | undefined;
  /**
   * Once taken: ends its early renewals (those out are left to land) and says when the next one
   * was due, for the step's lease keeper to keep their schedule; called when the step holds the
   * fault (or gives it up), so that it is renewed until then. Undefined: none was held.
   */
  readonly handOver?: (() => number | undefined) | undefined;
}

/** What the early confirmation and the renewals after it need. */
export interface TravellingCalls {
  readonly runId: string;
  readonly leaseMs: number;
  readonly timeoutMs: number;
}

/** The faults that travel with the fresh agents, by pod: written to the ledger before their agents are added. */
export class TravellingFaults {
  private readonly byPod = new Map<string, Travelling>();
  /** renews the faults whose step has not taken them yet, from their confirmation on */
  private early: LeaseKeeper | undefined;

  constructor(
    /** the run's first step (the pods' agents), or a stress step (its own agents, added for it) */
    private readonly step: PlannedFaultStep & { readonly fault: PlannedAgentFault | PlannedStressFault },
    private readonly ledger: RevertLedger,
    private readonly calls: TravellingCalls,
  ) {}

  /** Writes the ledger entry of the fault `agent` is about to be added with, and returns the request it starts with. */
  board(agent: AgentHandle, startedAt: number): ApplyRequest {
    const entry = ledgerEntry(this.step, agent);
    this.ledger.record([entry]);
    this.byPod.set(podKey(agent.pod), { entry, request: this.step.fault.apply, startedAt });
    return this.step.fault.apply;
  }

  /** The container `board` wrote an entry for was not added (the API refused it): it holds nothing, the entry goes. */
  unboard(pod: PodRef): void {
    const t = this.byPod.get(podKey(pod));
    if (t === undefined) return;
    this.byPod.delete(podKey(pod));
    this.ledger.settle(t.entry);
  }

  /**
   * Why the fresh agent of `pod` did not come to run, where it ended holding its first request
   * (it refused it, or could not apply it): the apply's failure in its words; else undefined.
   */
  async failedStart(cluster: Cluster, pod: PodRef, signal: AbortSignal): Promise<CouldNotRunError | undefined> {
    const t = this.byPod.get(podKey(pod));
    // the wait for it to run ended: it ended already, or it is not that
    return t === undefined ? undefined : travellingFailure(cluster, t, couldNotApply(this.step, pod), signal, 0);
  }

  /**
   * Confirms the fault `agent` started with as soon as the agent runs, and renews it until its step
   * takes it: its lease began with the agent, and the other pods' agents may take longer than a
   * lease to start (a 50-pod fan-out on a loaded node let it lapse before the step confirmed it).
   * The renewals keep the lease keeper's fixed schedule from the moment the agent runs — the first
   * a sixth of a lease on, then a third of a lease apart whatever their round trips take — not a
   * third of a lease after each reply, which let a lease lapse where an exec took over two thirds
   * of one.
   */
  confirmWhenRunning(cluster: Cluster, agent: AgentHandle, signal: AbortSignal): void {
    const key = podKey(agent.pod);
    const t = this.byPod.get(key);
    if (t === undefined || t.confirmation !== undefined || t.entry.agent.container !== agent.container || signal.aborted) return;
    const confirmation = confirmFromLog(cluster, t, { ...this.calls, signal });
    this.byPod.set(key, { ...t, confirmation });
    const keeper = this.earlyKeeper(cluster);
    // its lease began as its agent ran, and no renewal by exec confirmed it: the first renewal a
    // sixth of a lease on has five sixths of one to land, where a step's renewals have two thirds
    keeper.hold(t.entry.agent, t.entry.faultId, renewalTiming(this.calls.leaseMs).everyMs / 2);
    const release = (): void => keeper.release(t.entry.agent, t.entry.faultId);
    signal.addEventListener("abort", release, { once: true });
    void confirmation.then(
      (first) => {
        if (first.kind !== "reply" || !first.reply.ok) release(); // the step says why
      },
      release, // a confirmation that threw: the step awaits it and says why
    );
  }

  /** The keeper of early renewals: what they find is the step's to say (its own renewals tell a lost or slow fault). */
  private earlyKeeper(cluster: Cluster): LeaseKeeper {
    this.early ??= new LeaseKeeper({
      runId: this.calls.runId,
      leaseMs: this.calls.leaseMs,
      call: (agent, request, options) => callAgent(cluster, agent, request, options),
      onLost: () => undefined,
      onWarning: () => undefined,
      onSlow: () => undefined,
    });
    return this.early;
  }

  /** The fault that travelled with `agent`, for step `index` (once: it is confirmed or failed then); its early renewals go on until the step hands them over (Travelling.handOver). */
  take(agent: AgentHandle, index: number): Travelling | undefined {
    const key = podKey(agent.pod);
    const t = this.byPod.get(key);
    if (t === undefined || index !== this.step.index || t.entry.agent.container !== agent.container) return undefined;
    this.byPod.delete(key);
    // renewed early until the step's keeper holds it; the renewals out are then left to land:
    // aborted on a slow node, they let leases lapse
    const early = this.early;
    return early === undefined ? t : { ...t, handOver: () => early.handOver(t.entry.agent, t.entry.faultId) };
  }

  /** Ends every early renewal (the run is over before its first step took them). */
  stop(): void {
    this.early?.releaseAll();
  }
}

/** How an apply's failure begins: `step 1 (cut): the agent in pod ns/web could not apply …`. */
export function couldNotApply(step: Pick<PlannedFaultStep, "index" | "name" | "fault">, pod: PodRef): string {
  return `step ${step.index + 1} (${step.name}): the agent in pod ${podKey(pod)} could not apply ${step.fault.summary}`;
}

/** The agent's first renewal of the fault it started with: its confirmation. */
export function confirmTravelling(cluster: Cluster, t: Pick<Travelling, "entry">, options: { runId: string; leaseMs: number; signal: AbortSignal; timeoutMs: number }): Promise<AgentCall> {
  return callAgent(cluster, t.entry.agent, renewRequest(options.runId, t.entry.faultId, options.leaseMs), { signal: options.signal, timeoutMs: options.timeoutMs });
}

/** How much of a fresh agent's log is read for its first reply (its start's few lines come first). */
const LOG_LIMIT_BYTES = 64 * 1024;
/** The pauses between reads of that log: the agent writes the reply once its orphan scan and the apply are done, a few ms after it runs. */
const LOG_PAUSES_MS = [30, 70, 100, 200, 400, 800, 1600];

/**
 * The fault a fresh agent started with, confirmed by the reply it wrote to its log: read until it
 * is there, for at most a quarter of a lease (the renewals a third of a lease apart must still
 * find it held); then, or when the log cannot be read or says the agent could not hold it, asked
 * by exec (its first renewal).
 */
export async function confirmFromLog(
  cluster: Cluster,
  t: Pick<Travelling, "entry" | "request">,
  options: { runId: string; leaseMs: number; signal: AbortSignal; timeoutMs: number },
): Promise<AgentCall> {
  const { pod, container } = t.entry.agent;
  const expected = { faultId: t.entry.faultId, agent: container, runId: options.runId, kind: t.request.fault.spec.kind };
  // the reads, their answers included, end within a quarter of a lease of the first: a read that
  // hangs (a kept-alive connection dropped on the way) is given up, and the renewal asked
  const until = Date.now() + options.leaseMs / 4;
  for (const pause of LOG_PAUSES_MS) {
    if (Date.now() + pause >= until) break;
    const paused = await sleep(pause, options.signal).then(
      () => true,
      () => false,
    );
    if (!paused) break;
    const timeoutMs = Math.max(1, until - Date.now());
    const log = await cluster.containerLog(pod.namespace, pod.name, container, { limitBytes: LOG_LIMIT_BYTES, timeoutMs }).catch(() => undefined);
    const seen = log === undefined ? undefined : firstReplyInLog(log, expected);
    if (seen?.state === "held") return { kind: "reply", reply: seen.reply, from: "log" };
    if (seen === undefined || seen.state === "failed") break;
  }
  return confirmTravelling(cluster, t, options);
}

/** The agent's container once it ended (within `withinMs`), or undefined: still running, or gone. */
async function endedContainer(cluster: Cluster, agent: AgentHandle, withinMs: number, signal: AbortSignal): Promise<ContainerInfo | undefined> {
  for (let waited = 0; ; waited += 250) {
    const pod = await cluster.getPod(agent.pod.namespace, agent.pod.name).catch(() => undefined);
    const c = pod?.ephemeralContainers.find((x) => x.name === agent.container);
    if (c === undefined || c.state === "terminated") return c;
    if (waited >= withinMs || signal.aborted) return undefined;
    await sleep(250, signal).catch(() => undefined);
  }
}

/**
 * The agent did not confirm its first fault: if it ended (refusing it), its termination message —
 * its last log line — is the apply's failure; else undefined, for the usual words. Its entry stays
 * in the ledger whatever the agent said: an agent that ended is recovered as any dead agent is (a
 * fresh one reverts what it may have left), since an exit status alone cannot say it held nothing.
 */
export async function travellingFailure(cluster: Cluster, t: Travelling, where: string, signal: AbortSignal, withinMs = 5000): Promise<CouldNotRunError | undefined> {
  const agent = t.entry.agent;
  const c = await endedContainer(cluster, agent, withinMs, signal);
  if (c === undefined) return undefined;
  const said =
    c.message
      ?.trim()
      .split("\n")
      .filter((l) => l !== "")
      .at(-1) ?? `exit ${c.exitCode ?? "?"}`;
  return new CouldNotRunError(`${where}: the agent ${agent.container} started with it and ended (${c.reason ?? "exit"} ${c.exitCode ?? ""}): ${said}`, {
    hint: `kubectl logs -n ${agent.pod.namespace} ${agent.pod.name} -c ${agent.container}`,
  });
}
