// An agent that dies holding faults (OOM under a traffic surge, a crash) leaves them behind in
// the pod's network namespace: an HTTP fault's REDIRECT then points at a closed port and every
// new connection is refused — worse than the fault — and a partition or a netem stays. Kubernetes
// never restarts an ephemeral container. So the runner follows its agents' containers (through
// the pod watch it has anyway) and, once one is seen terminated, adds a fresh agent to that pod
// at once which reverts what the dead one left (sweep's mechanism: `sweep {own: false}` reverts
// the objects of agents that are gone), and takes it as the pod's agent for the rest of the run.
// A revert that finds the agent dead before the watch said so starts the same recovery; each dead
// agent is recovered once. What it did is said: when the agent died, why, and how much later its
// faults were confirmed reverted.
import { sweepRequest, type CommandRun } from "../faults/index.js";
import type { Cluster, ContainerInfo, PodInfo, PullPolicy } from "../kube/types.js";
import { callAgent, callProblem, type AgentHandle } from "./agent-client.js";
import { addFreshAgent } from "./agents.js";
import type { EventSink, PodRef } from "./events.js";
import { orphanSummary } from "./orphans.js";
import { deadline } from "./pool.js";

export interface RecoveryOptions {
  readonly cluster: Cluster;
  readonly emit: EventSink;
  readonly now: () => number;
  readonly runId: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  /** what the fresh agent is given when the dead one's are not known */
  readonly capabilities: readonly string[];
  readonly ttlMs: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
}

/** What became of a dead agent's faults. */
export interface Recovered {
  readonly dead: AgentHandle;
  /** how it ended, e.g. `OOMKilled, exit 137` */
  readonly death: string;
  /** when it ended: the kubelet's finishedAt, else when the runner saw it */
  readonly diedAt: number;
  /** the agent that replaced it, when one could be added */
  readonly fresh: AgentHandle | undefined;
  /** the fresh agent read the kernel back and found nothing the dead one left */
  readonly confirmed: boolean;
  /** when the fresh agent answered (the runner's clock) */
  readonly revertedAt: number | undefined;
  /** what the fresh agent did, or why there is none */
  readonly detail: string;
  readonly commands: readonly CommandRun[];
}

const key = (a: AgentHandle): string => `${a.pod.namespace}/${a.pod.name}/${a.container}`;

/** `OOMKilled, exit 137`, `Error, exit 2`, `exit 0` */
export function deathWords(c: ContainerInfo | undefined): string {
  if (c === undefined) return "its container is gone";
  const exit = c.exitCode === undefined ? "" : `exit ${c.exitCode}`;
  return [c.reason, exit].filter((x) => x !== undefined && x !== "").join(", ") || "terminated";
}

/** `12:00:03` (UTC, as the run's other lines have it). */
export function clockWords(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `its agent chaos-agent-x died (OOMKilled, exit 137) at 12:00:03; a fresh agent chaos-agent-x-2 reverted what it held 4.2 s later` */
export function recoveredWords(r: Recovered): string {
  const died = `its agent ${r.dead.container} died (${r.death}) at ${clockWords(r.diedAt)}`;
  if (r.fresh === undefined) return `${died}; no fresh agent could be added to revert what it held: ${r.detail}`;
  if (!r.confirmed || r.revertedAt === undefined) return `${died}; the fresh agent ${r.fresh.container} could NOT confirm what it held reverted: ${r.detail}`;
  const later = Math.max(0, r.revertedAt - r.diedAt) / 1000;
  return `${died}; a fresh agent ${r.fresh.container} reverted what it held ${later.toFixed(1)} s later${r.detail === "" ? "" : ` (${r.detail})`}`;
}

export class AgentRecovery {
  private readonly started = new Map<string, Promise<Recovered>>();

  constructor(
    private readonly o: RecoveryOptions,
    /** called once per recovery, before anyone waiting on it hears of it */
    private readonly onRecovered: (r: Recovered) => void,
  ) {}

  /** Resolves when every recovery started so far has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.started.values()]);
  }

  /** The recovery of this agent, if one was started. */
  of(agent: AgentHandle): Promise<Recovered> | undefined {
    return this.started.get(key(agent));
  }

  /** Starts (once) the recovery of an agent found dead: `container` is its status, `pod` the pod as last read. */
  recover(agent: AgentHandle, container: ContainerInfo | undefined, pod: PodInfo): Promise<Recovered> {
    const known = this.started.get(key(agent));
    if (known !== undefined) return known;
    const seen = this.o.now();
    const p = this.run(agent, container, pod, seen)
      .catch(
        (e: unknown): Recovered => ({
          dead: agent,
          death: deathWords(container),
          diedAt: seen,
          fresh: undefined,
          confirmed: false,
          revertedAt: undefined,
          detail: e instanceof Error ? e.message : String(e),
          commands: [],
        }),
      )
      .then((r) => {
        this.onRecovered(r);
        return r;
      });
    this.started.set(key(agent), p);
    return p;
  }

  private async run(dead: AgentHandle, container: ContainerInfo | undefined, pod: PodInfo, seen: number): Promise<Recovered> {
    const { cluster, emit, now } = this.o;
    const base = { dead, death: deathWords(container), diedAt: Math.min(container?.finishedAt ?? seen, seen) };
    const ref: PodRef = dead.pod;
    // not the run's signal: a run interrupted meanwhile still has the dead agent's faults reverted
    const end = deadline(this.o.injectTimeoutMs + this.o.execTimeoutMs);
    try {
      const capabilities = container !== undefined && container.capabilities.length > 0 ? container.capabilities : this.o.capabilities;
      const started = now();
      let fresh: AgentHandle;
      try {
        fresh = await addFreshAgent(cluster, pod, {
          image: this.o.image,
          pullPolicy: this.o.pullPolicy,
          capabilities,
          ttlMs: this.o.ttlMs,
          runId: this.o.runId,
          injectTimeoutMs: this.o.injectTimeoutMs,
          signal: end.signal,
          onInjecting: (container) => emit({ type: "agent:injecting", at: now(), pod: ref, container }),
          // it takes over the dead agent's place: later steps hold their faults through it
          line: true,
        });
      } catch (e) {
        return { ...base, fresh: undefined, confirmed: false, revertedAt: undefined, detail: e instanceof Error ? e.message : String(e), commands: [] };
      }
      emit({ type: "agent:ready", at: now(), pod: ref, container: fresh.container, reused: false, durationMs: now() - started });
      const call = await callAgent(cluster, fresh, sweepRequest(this.o.runId, false), { signal: end.signal, timeoutMs: this.o.execTimeoutMs });
      if (call.kind !== "reply") return { ...base, fresh, confirmed: false, revertedAt: undefined, detail: `no answer from it: ${call.problem}`, commands: [] };
      const orphans = call.reply.orphans ?? [];
      const confirmed = call.reply.ok && orphans.every((o) => o.confirmed);
      const detail = !call.reply.ok ? callProblem(call) : orphans.length === 0 ? "it found nothing left" : orphanSummary(orphans);
      return { ...base, fresh, confirmed, revertedAt: now(), detail, commands: call.reply.commands };
    } finally {
      end.dispose();
    }
  }
}
