// The lease keeper: every fault an agent holds has a lease, and the agent reverts the fault by
// itself unless the runner renews it in time (so a runner killed with SIGKILL leaves nothing
// behind for longer than a lease). Each (pod, fault) is renewed on a schedule of its own, every
// third of the lease: a slow node's exec delays only its own renewals, never the other pods'.
// A renewal is not waited for before the next is sent (at most three are out at once): a renewal
// that hangs is overtaken by the next one a third of a lease later, while a slow but working exec
// path (an exec that takes longer than a third of the lease, as in the kernel lab) still lands
// in time. Each renewal gives up after a whole lease: by then it is too late to matter. A reply that
// arrives after its fault was released (its step ended, or it is being reverted) is ignored: it
// can never touch a later step. An agent that answers `lease-lapsed` (or no longer knows the
// fault) already reverted it: that pod's fault is lost, reported once, and the other pods go on.
// A renewal that lands but took more than half the lease is said once per fault: on that node
// the lease is too short for its exec round trips, and the fault may lapse before its time.
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
  /** a renewal landed, but its round trip took more than half the lease (said once per fault) */
  readonly onSlow: (agent: AgentHandle, faultId: string, tookMs: number) => void;
}

interface Held {
  readonly agent: AgentHandle;
  readonly faultId: string;
  timer: NodeJS.Timeout | undefined;
  /** when the next renewal is due (Date.now() ms) */
  dueAt: number;
  /** set on release: a reply still in flight is ignored from then on */
  released: boolean;
  /** renewals out now: left to land on release, aborted by releaseAll */
  readonly inFlight: Set<AbortController>;
  warned: boolean;
  slowSaid: boolean;
}

const keyOf = (pod: PodRef, faultId: string): string => `${pod.namespace}/${pod.name}/${faultId}`;

/** At most this many renewals of one fault are out at once. */
export const MAX_IN_FLIGHT = 3;

/** The renewal schedule of a lease: a renewal every third of it, each given up after a whole lease. */
export function renewalTiming(leaseMs: number): { readonly everyMs: number; readonly timeoutMs: number } {
  return { everyMs: Math.max(100, Math.floor(leaseMs / 3)), timeoutMs: leaseMs };
}

export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  /** renewals still out of faults handed over to another keeper: left to land, aborted by releaseAll */
  private readonly draining = new Set<AbortController>();
  private readonly timing: { readonly everyMs: number; readonly timeoutMs: number };

  constructor(private readonly deps: LeaseDeps) {
    this.timing = renewalTiming(deps.leaseMs);
  }

  /**
   * Starts renewing a fault the agent just applied (its apply started the first lease): the first
   * renewal `firstInMs` from now (default: a third of a lease), then every third of a lease.
   */
  hold(agent: AgentHandle, faultId: string, firstInMs = this.timing.everyMs): void {
    const key = keyOf(agent.pod, faultId);
    if (this.held.has(key)) return;
    const h: Held = { agent, faultId, timer: undefined, dueAt: 0, released: false, inFlight: new Set(), warned: false, slowSaid: false };
    this.held.set(key, h);
    this.schedule(h, firstInMs);
  }

  /**
   * Stops renewing; a reply still in flight is ignored from now on, but the renewal is left to
   * land (releaseAll aborts it): its step's revert comes next, and on a node where an exec takes
   * seconds (the kernel lab: 7 s) the revert must find the fault held, not lapsed since the last
   * renewal that landed.
   */
  release(agent: AgentHandle, faultId: string): void {
    this.handOver(agent, faultId);
  }

  /**
   * Stops renewing a fault another keeper takes over (or its step's revert): the renewals still
   * out are left to land (their replies ignored), since aborting one that was about to land could
   * let the lease lapse on a slow node. Returns how long until the next renewal was due, for the
   * other keeper to keep the schedule (undefined: it was not held here).
   */
  handOver(agent: AgentHandle, faultId: string): number | undefined {
    const key = keyOf(agent.pod, faultId);
    const h = this.held.get(key);
    if (h === undefined) return undefined;
    h.released = true;
    if (h.timer !== undefined) clearTimeout(h.timer);
    h.timer = undefined;
    for (const c of h.inFlight) this.draining.add(c);
    this.held.delete(key);
    return Math.max(0, h.dueAt - Date.now());
  }

  /** Whether the fault is being held (renewed) now: its step's window is not over. */
  isHeld(agent: AgentHandle, faultId: string): boolean {
    return this.held.has(keyOf(agent.pod, faultId));
  }

  /** Stops every renewal, and aborts those still out: the run is over. */
  releaseAll(): void {
    for (const h of [...this.held.values()]) this.handOver(h.agent, h.faultId);
    for (const c of this.draining) c.abort(new Error("released"));
    this.draining.clear();
  }

  get holding(): number {
    return this.held.size;
  }

  /** The next tick, a third of a lease from now (or `inMs`): renewals come on their own schedule. */
  private schedule(h: Held, inMs = this.timing.everyMs): void {
    if (h.released) return;
    h.dueAt = Date.now() + inMs;
    h.timer = setTimeout(() => {
      h.timer = undefined;
      this.schedule(h);
      if (h.inFlight.size < MAX_IN_FLIGHT) void this.renew(h);
    }, inMs);
  }

  private async renew(h: Held): Promise<void> {
    if (h.released) return;
    const timeoutMs = this.timing.timeoutMs;
    const c = new AbortController();
    h.inFlight.add(c);
    const timer = setTimeout(() => c.abort(new Error("renewal timed out")), timeoutMs);
    const sent = Date.now();
    let call: AgentCall;
    try {
      call = await this.deps.call(h.agent, renewRequest(this.deps.runId, h.faultId, this.deps.leaseMs), { signal: c.signal, timeoutMs });
    } finally {
      clearTimeout(timer);
      h.inFlight.delete(c);
      this.draining.delete(c);
    }
    // released while the exec was out: whatever it says belongs to a fault that is over
    if (h.released) return;
    if (call.kind === "reply" && call.reply.ok) {
      const tookMs = Date.now() - sent;
      if (tookMs > this.deps.leaseMs / 2 && !h.slowSaid) {
        h.slowSaid = true;
        this.deps.onSlow(h.agent, h.faultId, tookMs);
      }
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
  }
}
