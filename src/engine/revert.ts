// Reverting ledger entries: each pod's faults in LIFO order, pods at once (bounded), each revert
// retried with backoff until a deadline of its own — the run's signal may already be aborted
// (Ctrl-C) and a dropped exec stream must not be the end of it. A revert counts when the agent
// confirms it (it read the kernel back and found nothing of the fault), or when there is nothing
// left to hold the fault: the pod is gone, or it is terminating and its agent container has
// exited (the agent reverts on SIGTERM). A live pod whose agent died keeps its network
// namespace, and with it the fault: a fresh agent reverts it there (recover.ts), and that is
// counted only when the fresh agent confirms it; without one, `chaos-run sweep` cleans it.
import type { CommandRun, DNSReading, GRPCReading, HTTPReading, StressReading } from "../faults/protocol.generated.js";
import type { Cluster, ContainerInfo, PodInfo } from "../kube/types.js";
import { callAgent, callProblem, type AgentCall } from "./agent-client.js";
import { podKey, type EventSink } from "./events.js";
import type { LedgerEntry } from "./ledger.js";
import { deadline, mapPool, sleep } from "./pool.js";
import { recoveredWords, type Recovered } from "./recover.js";

export interface RevertOptions {
  readonly cluster: Cluster;
  readonly emit: EventSink;
  readonly now: () => number;
  readonly concurrency: number;
  /** bound on one revert exec */
  readonly execTimeoutMs: number;
  /** how long one entry's attempts may take in all */
  readonly deadlineMs: number;
  /** pods known to be gone (deleted or terminating), from the pod watch */
  readonly gone: ReadonlyMap<string, string>;
  /** a fresh agent for a pod whose agent died holding faults (recover.ts); without it such a revert is not confirmed */
  readonly recovery?: RevertRecovery | undefined;
}

/** What revertOne asks of the recovery of a dead agent. */
export interface RevertRecovery {
  /** the recovery under way (or done) for this agent, if any */
  of(agent: LedgerEntry["agent"]): Promise<Recovered> | undefined;
  /** starts it (once per agent) */
  recover(agent: LedgerEntry["agent"], container: ContainerInfo | undefined, pod: PodInfo): Promise<Recovered>;
}

export interface RevertOutcomeOf {
  readonly entry: LedgerEntry;
  readonly confirmed: boolean;
  readonly detail: string;
  readonly attempts: number;
  /** the agent container still runs (so `kubectl exec … chaos-agent request` can reach it); undefined: unknown */
  readonly agentRunning: boolean | undefined;
  /** the agent had already reverted the fault by itself before this request (its lease lapsed, its TTL ended): why */
  readonly endedEarly: string | undefined;
  /** a stress fault's last reading, taken as the agent stopped it */
  readonly reading?: StressReading | undefined;
  /** what an http fault's proxy did, counted as the agent stopped it */
  readonly http?: HTTPReading | undefined;
  /** what a grpc fault's proxy did, counted as the agent stopped it */
  readonly grpc?: GRPCReading | undefined;
  /** what a dns fault's resolver did, counted as the agent stopped it */
  readonly dns?: DNSReading | undefined;
}

/** What a fault measured, as the agent gave it with its confirmed revert. */
type Measured = Pick<RevertOutcomeOf, "reading" | "http" | "grpc" | "dns">;

/** Waits before attempt n+1: 250 ms, 500 ms, 1 s, 2 s, then 4 s. */
export function backoffMs(attempt: number): number {
  return Math.min(4000, 250 * 2 ** Math.max(0, attempt - 1));
}

interface PodState {
  /** why the fault went with the pod's network namespace, if it did */
  readonly absence: string | undefined;
  readonly agentRunning: boolean | undefined;
  /** the pod lives on and its agent ended: what is left of the fault needs a fresh agent */
  readonly deadAgent?: { readonly pod: PodInfo; readonly container: ContainerInfo | undefined } | undefined;
}

async function podState(cluster: Cluster, entry: LedgerEntry): Promise<PodState> {
  try {
    const p = await cluster.getPod(entry.agent.pod.namespace, entry.agent.pod.name);
    if (p === undefined) return { absence: "pod deleted: the fault went with its network namespace", agentRunning: false };
    const agent = p.ephemeralContainers.find((c) => c.name === entry.agent.container);
    const running = agent?.state === "running";
    if (entry.processOnly === true && agent?.state === "terminated") {
      return {
        absence: `its agent ${agent.name} ended (${agent.reason ?? "exit"} ${agent.exitCode ?? ""}): the stressors were its processes and ended with it`.replace(" )", ")"),
        agentRunning: false,
      };
    }
    if (p.deleting && !running) return { absence: "pod terminating and its agent container has exited (the agent reverts on SIGTERM): the fault goes with its network namespace", agentRunning: false };
    const dead = entry.processOnly !== true && (agent === undefined || agent.state === "terminated");
    return { absence: undefined, agentRunning: running, ...(dead ? { deadAgent: { pod: p, container: agent } } : {}) };
  } catch {
    // the API did not answer: nothing is known, so nothing is concluded
    return { absence: undefined, agentRunning: undefined };
  }
}

/** Reasons the agent gives for having reverted a fault before it was asked to. */
const ENDED_EARLY = new Set(["lease-lapsed", "ttl", "terminated"]);

function outcomeOf(call: AgentCall, faultId: string): { confirmed: boolean; detail: string; commands: readonly CommandRun[]; endedEarly: string | undefined; measured?: Measured } {
  if (call.kind !== "reply") return { confirmed: false, detail: call.problem, commands: [], endedEarly: undefined };
  const r = call.reply;
  const outcome = r.reverted?.find((o) => o.faultId === faultId);
  const confirmed = r.ok && outcome?.confirmed !== false;
  if (confirmed) {
    const early = outcome?.reason !== undefined && ENDED_EARLY.has(outcome.reason) ? outcome.reason : undefined;
    const how = early !== undefined ? `the agent had already reverted it (${early}${outcome?.detail !== undefined && outcome.detail !== "" ? `: ${outcome.detail}` : ""})` : "";
    const measured = { reading: outcome?.stress, http: outcome?.http, grpc: outcome?.grpc, dns: outcome?.dns };
    return { confirmed, detail: how, commands: r.commands, endedEarly: early === undefined ? undefined : how, measured };
  }
  const remaining = outcome?.remaining?.map((o) => `${o.type} ${o.name}`).join(", ");
  const detail = [callProblem(call), outcome !== undefined && outcome.detail !== "" ? outcome.detail : undefined, remaining !== undefined && remaining !== "" ? `remaining: ${remaining}` : undefined]
    .filter((x) => x !== undefined)
    .join("; ");
  return { confirmed, detail, commands: r.commands, endedEarly: undefined };
}

/** A dead agent's fault as its recovery left it: confirmed when the fresh agent found nothing of the dead one's left. */
function byRecovery(r: Recovered): { confirmed: boolean; detail: string; commands: readonly CommandRun[] } {
  return { confirmed: r.confirmed, detail: recoveredWords(r), commands: r.commands };
}

/** What settles an entry without asking its agent: its pod deleted (the fault went with it), or its dead agent's recovery. */
async function settledWithoutAgent(entry: LedgerEntry, o: RevertOptions): Promise<{ confirmed: boolean; detail: string; commands: readonly CommandRun[] } | undefined> {
  if (o.gone.get(podKey(entry.agent.pod)) === "deleted") return { confirmed: true, detail: "pod deleted: the fault went with its network namespace", commands: [] };
  const recovering = o.recovery?.of(entry.agent);
  return recovering === undefined ? undefined : byRecovery(await recovering);
}

/** Reverts one entry: retried until confirmed, or the deadline passes, or retrying cannot help. */
async function revertOne(entry: LedgerEntry, o: RevertOptions): Promise<RevertOutcomeOf> {
  const started = o.now();
  const end = deadline(o.deadlineMs, () => new Error(`gave up reverting after ${o.deadlineMs} ms`));
  let attempts = 0;
  let detail = "";
  let commands: readonly CommandRun[] = [];
  let agentRunning: boolean | undefined = true;
  let confirmed = false;
  let endedEarly: string | undefined;
  let measured: Measured = {};
  try {
    for (;;) {
      const settled = await settledWithoutAgent(entry, o);
      if (settled !== undefined) {
        ({ confirmed, detail } = settled);
        commands = [...commands, ...settled.commands];
        agentRunning = false;
        break;
      }
      attempts++;
      const left = Math.max(1, o.deadlineMs - (o.now() - started));
      const call = await callAgent(o.cluster, entry.agent, entry.revert, { signal: end.signal, timeoutMs: Math.min(o.execTimeoutMs, left) });
      const r = outcomeOf(call, entry.faultId);
      commands = [...commands, ...r.commands];
      if (r.confirmed) {
        confirmed = true;
        detail = r.detail;
        endedEarly = r.endedEarly;
        measured = r.measured ?? {};
        break;
      }
      detail = r.detail;
      const state = await podState(o.cluster, entry);
      agentRunning = state.agentRunning;
      if (state.absence !== undefined) {
        confirmed = true;
        detail = state.absence;
        break;
      }
      if (state.deadAgent !== undefined && o.recovery !== undefined) {
        // the next pass takes the fresh agent's word for it
        void o.recovery.recover(entry.agent, state.deadAgent.container, state.deadAgent.pod);
        continue;
      }
      // an agent of another protocol, or one that is gone, will not answer better later
      const hopeless = (call.kind === "no-reply" && call.foreign) || (call.kind === "reply" && call.reply.error?.code === "bad-request") || state.agentRunning === false;
      const wait = backoffMs(attempts);
      if (hopeless || end.signal.aborted || o.now() - started + wait >= o.deadlineMs) break;
      o.emit({ type: "fault:revert-retry", at: o.now(), index: entry.step, faultId: entry.faultId, pod: entry.agent.pod, attempt: attempts, detail, retryInMs: wait });
      try {
        await sleep(wait, end.signal);
      } catch {
        break;
      }
    }
  } finally {
    end.dispose();
  }
  const at = o.now();
  o.emit({ type: "fault:reverted", at, index: entry.step, faultId: entry.faultId, pod: entry.agent.pod, confirmed, detail, attempts, commands, durationMs: at - started });
  return { entry, confirmed, detail, attempts, agentRunning, endedEarly, ...measured };
}

/** Reverts entries (given LIFO): one pod's in order, pods concurrently. Never throws. */
export async function revertEntries(entries: readonly LedgerEntry[], o: RevertOptions): Promise<RevertOutcomeOf[]> {
  const byPod = new Map<string, LedgerEntry[]>();
  for (const e of entries) byPod.set(podKey(e.agent.pod), [...(byPod.get(podKey(e.agent.pod)) ?? []), e]);
  const results = await mapPool([...byPod.values()], o.concurrency, async (podEntries) => {
    const out: RevertOutcomeOf[] = [];
    for (const e of podEntries) out.push(await revertOne(e, o));
    return out;
  });
  return results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
}
