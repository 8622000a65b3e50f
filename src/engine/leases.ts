// The lease keeper: every fault an agent holds has a lease, and the agent reverts the fault by
// itself unless the runner renews it in time (so a runner killed with SIGKILL leaves nothing
// behind for longer than a lease). Each (pod, fault) is renewed on a timer of its own: a slow
// node's exec delays only its own renewals, never the other pods'. Each renewal is bounded by a
// timeout shorter than a third of the lease, and renewals come every third of a lease, so one
// lost renewal is survived. A reply that arrives after its fault was released (its step ended,
// or it is being reverted) is ignored: it can never touch a later step. An agent that answers
// `lease-lapsed` (or no longer knows the fault) already reverted it: that pod's fault is lost,
// reported once, and the other pods go on.
import { renewRequest } from "../faults/index.js";
import type { AgentCall, AgentHandle } from "./agent-client.js";
import { callProblem } from "./agent-client.js";
import type { PodRef } from "./events.js";

export interface LeaseDeps {
  readonly runId: string;
  readonly leaseMs: number;
  /** sends one renew request (callAgent) */
  readonly call: (agent: AgentHandle, request: ReturnType<typeof renewRequest>, options: { signal: AbortSignal; timeoutMs: number }) => Promise<AgentCall>;
  /** the agent no longer holds the fault: it ended early */
  readonly onLost: (agent: AgentHandle, faultId: string, why: string) => void;
  /** a renewal failed for another reason (it is tried again at the next tick) */
  readonly onWarning: (agent: AgentHandle, faultId: string, why: string) => void;
}

interface Held {
  readonly agent: AgentHandle;
  readonly faultId: string;
  timer: NodeJS.Timeout | undefined;
  /** set on release: any reply still in flight is ignored */
  released: boolean;
  /** aborts the renewal in flight on release */
  inFlight: AbortController | undefined;
  warned: boolean;
}

const keyOf = (pod: PodRef, faultId: string): string => `${pod.namespace}/${pod.name}/${faultId}`;

/** Renewal period and timeout for a lease: every third of it, each exec bounded below that. */
export function renewalTiming(leaseMs: number): { readonly everyMs: number; readonly timeoutMs: number } {
  const everyMs = Math.max(100, Math.floor(leaseMs / 3));
  return { everyMs, timeoutMs: Math.max(50, Math.floor(everyMs * 0.9)) };
}

export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private readonly timing: { readonly everyMs: number; readonly timeoutMs: number };

  constructor(private readonly deps: LeaseDeps) {
    this.timing = renewalTiming(deps.leaseMs);
  }

  /** Starts renewing a fault the agent just applied (its apply started the first lease). */
  hold(agent: AgentHandle, faultId: string): void {
    const key = keyOf(agent.pod, faultId);
    if (this.held.has(key)) return;
    const h: Held = { agent, faultId, timer: undefined, released: false, inFlight: undefined, warned: false };
    this.held.set(key, h);
    this.schedule(h, this.timing.everyMs);
  }

  /** Stops renewing; a reply still in flight is ignored from now on. */
  release(agent: AgentHandle, faultId: string): void {
    const key = keyOf(agent.pod, faultId);
    const h = this.held.get(key);
    if (h === undefined) return;
    this.stop(h);
    this.held.delete(key);
  }

  releaseAll(): void {
    for (const h of this.held.values()) this.stop(h);
    this.held.clear();
  }

  get holding(): number {
    return this.held.size;
  }

  private stop(h: Held): void {
    h.released = true;
    if (h.timer !== undefined) clearTimeout(h.timer);
    h.timer = undefined;
    h.inFlight?.abort(new Error("released"));
  }

  private schedule(h: Held, delayMs: number): void {
    if (h.released) return;
    h.timer = setTimeout(() => void this.renew(h), Math.max(0, delayMs));
  }

  private async renew(h: Held): Promise<void> {
    h.timer = undefined;
    if (h.released) return;
    const started = Date.now();
    const c = new AbortController();
    h.inFlight = c;
    const timer = setTimeout(() => c.abort(new Error("renewal timed out")), this.timing.timeoutMs);
    let call: AgentCall;
    try {
      call = await this.deps.call(h.agent, renewRequest(this.deps.runId, h.faultId, this.deps.leaseMs), { signal: c.signal, timeoutMs: this.timing.timeoutMs });
    } finally {
      clearTimeout(timer);
      if (h.inFlight === c) h.inFlight = undefined;
    }
    // released while the exec was out: whatever it says belongs to a fault that is over
    if (h.released) return;
    if (call.kind === "reply" && call.reply.ok) {
      this.schedule(h, this.timing.everyMs - (Date.now() - started));
      return;
    }
    const code = call.kind === "reply" ? call.reply.error?.code : undefined;
    if (code === "lease-lapsed" || code === "unknown-fault") {
      this.release(h.agent, h.faultId);
      const why =
        code === "lease-lapsed"
          ? `the agent reverted it by itself: its ${Math.round(this.deps.leaseMs / 1000)}s lease lapsed before a renewal reached it (${callProblem(call)})`
          : `the agent no longer holds it (${callProblem(call)})`;
      this.deps.onLost(h.agent, h.faultId, why);
      return;
    }
    if (!h.warned) {
      h.warned = true;
      this.deps.onWarning(h.agent, h.faultId, callProblem(call));
    }
    // try again at the next tick (a timeout has already used up most of this one)
    this.schedule(h, this.timing.everyMs - (Date.now() - started));
  }
}
