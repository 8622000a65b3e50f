// What became of the run's faults, beyond a revert the agent confirmed: a fault lost before its
// step ended (its lease lapsed and the agent reverted it by itself, or its agent died and a fresh
// one did) makes what was measured not what was planned — exit 3; a revert that could not be
// confirmed may have left the fault in place — exit 4 (result.ts).
import type { PlannedStep } from "../plan/types.js";
import type { EventSink, PodRef } from "./events.js";
import type { LedgerEntry } from "./ledger.js";
import type { RevertOutcomeOf } from "./revert.js";

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

export class FaultFates {
  private readonly lostFaults: LostFault[] = [];
  private readonly unconfirmed: Unreverted[] = [];
  private readonly stepOf: ReadonlyMap<number, PlannedStep>;

  constructor(
    steps: readonly PlannedStep[],
    private readonly emit: EventSink,
    private readonly now: () => number,
  ) {
    this.stepOf = new Map(steps.map((s) => [s.index, s]));
  }

  /** Faults that ended before their step did. */
  get lost(): readonly LostFault[] {
    return this.lostFaults;
  }

  /** Faults whose revert could not be confirmed: one may remain. */
  get unreverted(): readonly Unreverted[] {
    return this.unconfirmed;
  }

  /** The fault did not hold for its step's duration (said once per entry). */
  markLost(entry: LedgerEntry, reason: string, cause: LostFault["cause"]): void {
    if (entry.state === "lost") return;
    entry.state = "lost";
    const step = this.stepOf.get(entry.step);
    this.lostFaults.push({ step: entry.step, stepName: step?.name ?? "", durationMs: step?.durationMs ?? 0, faultId: entry.faultId, pod: entry.agent.pod, reason, cause });
    this.emit({ type: "fault:lost", at: this.now(), index: entry.step, faultId: entry.faultId, pod: entry.agent.pod, reason });
  }

  /** What the reverts found: faults the agent had already reverted by itself, and reverts not confirmed. */
  recordReverts(outcomes: readonly RevertOutcomeOf[]): void {
    for (const o of outcomes) {
      // the agent had reverted it by itself before its step ended: renewals that never reached
      // it (a hung exec) are found out here at the latest
      if (o.endedEarly !== undefined && o.entry.state === "applied") this.markLost(o.entry, o.endedEarly, "lease");
      if (o.confirmed) continue;
      this.unconfirmed.push({ pod: o.entry.agent.pod, container: o.entry.agent.container, faultId: o.entry.faultId, iface: o.entry.iface, detail: o.detail, agentRunning: o.agentRunning });
    }
  }
}
