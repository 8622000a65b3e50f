// The pods' own agents: one per target pod, through which netem, partition and http faults are
// applied — added (or reused, agents.ts) in every pod before the first step, and replaced by the
// fresh agent that took over from one that died (dead-agents.ts), so later steps apply through it.
import type { Cluster, PodInfo } from "../kube/types.js";
import type { PlannedAgent } from "../plan/types.js";
import type { AgentHandle } from "./agent-client.js";
import { ensureAgent, type AgentOptions } from "./agents.js";
import type { TravellingFaults } from "./first-fault.js";
import { podKey, type EventSink, type PodRef } from "./events.js";
import type { EngineOptions } from "./options.js";
import { mapPool, throwFirstRejected } from "./pool.js";
import { TTL_MARGIN_MS } from "./preflight.js";

export class PodAgents {
  /** in the order they became ready: the order faults are applied in, and reverted against */
  private readonly byPod = new Map<string, AgentHandle>();

  of(pod: PodRef): AgentHandle | undefined {
    return this.byPod.get(podKey(pod));
  }

  all(): AgentHandle[] {
    return [...this.byPod.values()];
  }

  /** A fresh agent took over from `dead`: it is the pod's agent from now on (unless another already is). */
  replace(dead: AgentHandle, fresh: AgentHandle): void {
    if (this.of(dead.pod)?.container === dead.container) this.byPod.set(podKey(dead.pod), fresh);
  }

  /**
   * Adds (or reuses) every target pod's agent, before the first step; any pod that cannot have one
   * stops the run, once all were tried. A running agent is reused only with the run's timeline
   * (and a margin) left on its TTL. `travelling`: each fresh agent starts holding the first step's
   * fault (first-fault.ts), its ledger entry written before it is added.
   */
  async add(cluster: Cluster, agent: PlannedAgent, options: EngineOptions, timelineMs: number, signal: AbortSignal, emit: EventSink, travelling?: TravellingFaults | undefined): Promise<void> {
    const { now } = options;
    const settings = {
      image: agent.image,
      pullPolicy: agent.pullPolicy,
      capabilities: agent.capabilities,
      ttlMs: agent.ttlMs,
      runId: options.runId,
      neededMs: timelineMs + TTL_MARGIN_MS,
      injectTimeoutMs: options.injectTimeoutMs,
      execTimeoutMs: options.execTimeoutMs,
    };
    // a pod keeps its slot until its agent runs: the node starts `concurrency` containers at a
    // time. Given back at the patch instead (all 50 of a fan-out started at once), a loaded node
    // (the lab under 150 pods) reported the first agents running so late that the first fault,
    // travelling with them under its lease, lapsed before the step confirmed it (issue 21)
    const injected = await mapPool(options.pods, options.concurrency, (pod) => this.addOne(cluster, pod, settings, signal, emit, now, travelling));
    throwFirstRejected(injected);
  }

  /** Adds (or reuses) one pod's agent and says when it is ready. */
  private async addOne(cluster: Cluster, pod: PodInfo, settings: AgentOptions, signal: AbortSignal, emit: EventSink, now: () => number, travelling: TravellingFaults | undefined): Promise<void> {
    const started = now();
    const handle = await ensureAgent(
      cluster,
      pod,
      settings,
      signal,
      (container) => emit({ type: "agent:injecting", at: now(), pod: { namespace: pod.namespace, name: pod.name }, container }),
      (why) => emit({ type: "warning", at: now(), message: `pod ${podKey(pod)}: not reusing agent ${why}` }),
      (fresh) => travelling?.board(fresh, started),
      // a container the API did not add holds nothing: its first fault's ledger entry goes
      () => travelling?.unboard(pod),
    ).catch(async (err: unknown) => {
      // an agent that ended before it was seen running, holding its first request: it refused
      // it, or could not apply it — that is the step's apply failure, in the agent's words
      throw (await travelling?.failedStart(cluster, pod, signal)) ?? err;
    });
    this.byPod.set(podKey(handle.pod), handle);
    if (!handle.reused) travelling?.confirmWhenRunning(cluster, handle, signal);
    emit({ type: "agent:ready", at: now(), pod: handle.pod, container: handle.container, reused: handle.reused, durationMs: now() - started });
  }
}
