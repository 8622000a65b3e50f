// The revert ledger: every fault is written here *before* it is applied, so an interrupt or an
// error mid-apply still reverts it; entries leave only once their revert ran. Read LIFO: the
// last fault applied is the first reverted. Holds no timers and does no I/O.
import type { RevertRequest } from "../faults/protocol.generated.js";
import type { AgentHandle } from "./agent-client.js";

export type EntryState =
  /** written, the apply request not answered yet: the fault may or may not be in effect */
  | "applying"
  /** the agent applied it */
  | "applied"
  /** the agent reverted it by itself before its step ended (its lease lapsed): it did not hold */
  | "lost";

export interface LedgerEntry {
  /** the step's index */
  readonly step: number;
  readonly faultId: string;
  readonly agent: AgentHandle;
  readonly revert: RevertRequest;
  state: EntryState;
  /** the interface the agent applied it on, once known */
  iface: string | undefined;
  /** the fault lives only in its agent's processes (stress): an agent that is gone took it with it */
  readonly processOnly?: boolean | undefined;
}

/** A step's fault as its ledger entries need it. */
interface EntryFault {
  readonly id: string;
  readonly revert: RevertRequest;
  readonly delivery: string;
}

/** The entry of a step's fault held by `agent`, before it is applied; a stress lives only in its agent's processes. */
export function ledgerEntry(step: { readonly index: number; readonly fault: EntryFault }, agent: AgentHandle): LedgerEntry {
  const f = step.fault;
  return { step: step.index, faultId: f.id, agent, revert: f.revert, state: "applying", iface: undefined, ...(f.delivery === "stress-agent" ? { processOnly: true } : {}) };
}

export class RevertLedger {
  private readonly entries: LedgerEntry[] = [];

  /** Writes entries before their faults are applied. */
  record(entries: readonly LedgerEntry[]): void {
    this.entries.push(...entries);
  }

  /** Entries still to revert, last written first; only those of `step` when given. */
  open(step?: number): LedgerEntry[] {
    return this.entries.filter((e) => step === undefined || e.step === step).reverse();
  }

  /** Drops an entry whose revert has run (confirmed or not: a failure is reported, never retried by a later drain). */
  settle(entry: LedgerEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
  }

  get size(): number {
    return this.entries.length;
  }
}
