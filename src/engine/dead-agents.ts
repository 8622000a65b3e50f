// The run's side of an agent that dies (recover.ts has the mechanism): the pod watch shows one of
// this run's pod agents terminated, and at once its faults still on (held, or being applied) stop
// being renewed, a fresh agent is added that reverts what the dead one left, and the fresh agent
// becomes the pod's agent. Once the recovery says how they ended, those faults are lost (they did
// not hold for their steps' duration), said with when the agent died and how much later they
// were gone. A revert that finds the agent dead first starts the same recovery (revert.ts).
import type { PodInfo } from "../kube/types.js";
import { podKey, type EventSink } from "./events.js";
import type { FaultFates } from "./fault-fates.js";
import type { LeaseKeeper } from "./leases.js";
import type { LedgerEntry, RevertLedger } from "./ledger.js";
import type { PodAgents } from "./pod-agents.js";
import { AgentRecovery, recoveredWords, type Recovered, type RecoveryOptions } from "./recover.js";

export interface DeadAgentsDeps {
  readonly emit: EventSink;
  readonly now: () => number;
  readonly agents: PodAgents;
  readonly ledger: RevertLedger;
  readonly leases: LeaseKeeper;
  readonly fates: FaultFates;
}

export class DeadAgents {
  readonly recovery: AgentRecovery;
  /** faults a dead agent held while their steps ran, by pod and container: lost once its recovery says how they ended */
  private readonly heldByDead = new Map<string, LedgerEntry[]>();

  constructor(
    private readonly d: DeadAgentsDeps,
    recovery: RecoveryOptions,
  ) {
    this.recovery = new AgentRecovery(recovery, (r) => this.recovered(r));
  }

  /** The pod watch's word on a target pod: a pod agent of this run's seen terminated is recovered (once). */
  seen(pod: PodInfo): void {
    const { emit, now, ledger, leases } = this.d;
    const handle = this.d.agents.of(pod);
    if (handle === undefined || pod.deleting || this.recovery.of(handle) !== undefined) return;
    const c = pod.ephemeralContainers.find((x) => x.name === handle.container);
    if (c === undefined || c.state !== "terminated") return;
    const mine = ledger.open().filter((e) => e.agent.container === handle.container && podKey(e.agent.pod) === podKey(pod) && e.processOnly !== true);
    // those whose steps are still on (held, or being applied) did not hold for their duration
    const holding = mine.filter((e) => e.state === "applying" || leases.isHeld(e.agent, e.faultId));
    for (const e of holding) leases.release(e.agent, e.faultId);
    this.heldByDead.set(`${podKey(pod)}/${handle.container}`, holding);
    emit({
      type: "warning",
      at: now(),
      message: `pod ${podKey(pod)}: agent ${handle.container} ended (${c.reason ?? "terminated"}${c.exitCode !== undefined ? `, exit ${c.exitCode}` : ""})${mine.length > 0 ? ` holding ${mine.map((e) => e.faultId).join(", ")}` : ""}: adding a fresh agent to revert what it left`,
    });
    void this.recovery.recover(handle, c, pod);
  }

  private recovered(r: Recovered): void {
    const k = podKey(r.dead.pod);
    // the fresh agent is the pod's agent from now on (later steps apply through it)
    if (r.fresh !== undefined) this.d.agents.replace(r.dead, r.fresh);
    const words = recoveredWords(r);
    for (const e of this.heldByDead.get(`${k}/${r.dead.container}`) ?? []) this.d.fates.markLost(e, words, "agent");
    this.d.emit({ type: "warning", at: this.d.now(), message: `pod ${k}: ${words}` });
  }
}
