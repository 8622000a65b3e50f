// A line held to one agent for the run: the runner attaches to the agent's stdin once (pods/attach,
// a websocket of its own) and sends its renewals and reverts on it as `TAG JSON` lines, the agent
// answering each on its stdout (agent/service/lines.go). An exec each — a connection, its TLS, a
// process started in the container by the runtime — is what a renewal cost before, every third of
// a lease for every fault held. The line is an optimisation, never the authority: a request it
// cannot carry goes by exec, within what is left of the request's time, and a line found dead is
// not used again.
//
// Silent is not dead: an agent may be slow to answer (a revert waits for another agent's lock, a
// renewal for the apply the agent started with), and asking again by exec would then get a poorer
// answer (a revert already done says none of the fault's readings). So a request silent past
// LINE_WAIT_MS asks the agent's status from memory on the line (answered at once, without locks):
// answered, the line is alive and the request keeps waiting there for the rest of its time; not
// answered, the line is dead, closed, and the request goes by exec.
import { randomBytes } from "node:crypto";
import { lineReply, parseReply, statusRequest } from "../faults/index.js";
import type { Request } from "../faults/protocol.generated.js";
import type { AttachedStream, Cluster } from "../kube/types.js";
import type { AgentCall, CallOptions } from "./agent-client.js";
import type { PodRef } from "./events.js";

/**
 * How long a request waits on the line before the line's life is asked, and how long that asking
 * may take: each at most a sixth of the request's time, so that a dead line leaves the exec two
 * thirds of it — a renewal, given a whole lease and sent a third of one after the last, still
 * lands a third of a lease before the lease ends.
 */
export const LINE_WAIT_MS = 3_000;
/** How long the attach may take to open; a request whose own wait ends first goes by exec meanwhile. */
const OPEN_TIMEOUT_MS = 10_000;

/** What `p` resolves to, or undefined once `ms` have passed or `signal` aborted; `p` itself goes on. */
function within<T>(p: Promise<T | undefined>, ms: number, signal: AbortSignal): Promise<T | undefined> {
  if (ms <= 0 || signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve) => {
    const done = (v: T | undefined): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(v);
    };
    const onAbort = (): void => done(undefined);
    const timer = setTimeout(onAbort, ms);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(done, () => done(undefined));
  });
}

interface Sent {
  /** the reply's text; undefined once the line closed, or the request was let go */
  readonly reply: Promise<string | undefined>;
  /** stops waiting for the reply (a late one is then passed over) */
  readonly letGo: () => void;
}

export class AgentLine {
  private stream: Promise<AttachedStream | undefined> | undefined;
  private broken = false;
  private tags = 0;
  /** tags no other line's, nor a guess's: the agent's stdout is read for the replies to them */
  private readonly prefix = randomBytes(6).toString("hex");
  /** requests sent and not answered yet, by tag */
  private readonly waiting = new Map<string, (text: string | undefined) => void>();

  constructor(
    private readonly cluster: Cluster,
    private readonly pod: PodRef,
    private readonly container: string,
    private readonly runId: string,
  ) {}

  /** The agent's reply to `request`, sent on the line; undefined when the line could not carry it (the caller asks by exec then). */
  async call(request: Request, options: CallOptions): Promise<AgentCall | undefined> {
    if (this.broken || options.signal.aborted) return undefined;
    const started = performance.now();
    const left = (): number => options.timeoutMs - (performance.now() - started);
    const wait = Math.min(options.timeoutMs / 6, LINE_WAIT_MS);
    const waitUntil = started + wait;
    const stream = await within(this.open(), waitUntil - started, options.signal);
    if (stream === undefined || this.broken || options.signal.aborted) return undefined;
    const sent = this.send(stream, request);
    let text = await within(sent.reply, waitUntil - performance.now(), options.signal);
    if (text === undefined && !this.broken && !options.signal.aborted) {
      if (!(await this.alive(stream, wait, options.signal))) {
        sent.letGo();
        if (!options.signal.aborted) this.close();
        return undefined;
      }
      text = await within(sent.reply, left(), options.signal);
    }
    sent.letGo();
    if (text === undefined) return this.broken && !options.signal.aborted ? undefined : this.noReply(options);
    const parsed = parseReply(text, request);
    if (!parsed.ok) {
      this.close();
      return undefined;
    }
    return { kind: "reply", reply: parsed.reply, from: "line" };
  }

  /** Closes the line (the agent's stdin stays open); requests go by exec from now on. */
  close(): void {
    this.broken = true;
    void this.stream?.then((s) => s?.close());
    for (const answer of [...this.waiting.values()]) answer(undefined);
  }

  /** A request the live line did not answer in its whole time (a canceled one too): as an exec that timed out says it. */
  private noReply(options: CallOptions): AgentCall {
    const problem = options.signal.aborted ? "canceled" : `no answer within ${Math.round(options.timeoutMs)} ms (on the line to the agent, which is alive)`;
    return { kind: "no-reply", problem, foreign: false };
  }

  private open(): Promise<AttachedStream | undefined> {
    this.stream ??= this.cluster.attach(this.pod.namespace, this.pod.name, this.container, { line: (l) => this.heard(l), closed: () => this.close() }, { timeoutMs: OPEN_TIMEOUT_MS }).then(
      (s) => {
        if (this.broken) s.close();
        return this.broken ? undefined : s;
      },
      () => {
        this.broken = true;
        return undefined;
      },
    );
    return this.stream;
  }

  /** Whether the agent answers its status from memory on the line within `ms`. */
  private async alive(stream: AttachedStream, ms: number, signal: AbortSignal): Promise<boolean> {
    const probe = this.send(stream, { ...statusRequest(this.runId), scanOrphans: false });
    const text = await within(probe.reply, ms, signal);
    probe.letGo();
    return text !== undefined;
  }

  /** One line of the agent's stdout: a reply to a request still waited for, or nothing of the line's. */
  private heard(line: string): void {
    const r = lineReply(line);
    if (r !== undefined) this.waiting.get(r.tag)?.(r.text);
  }

  private send(stream: AttachedStream, request: Request): Sent {
    const tag = `${this.prefix}-${++this.tags}`;
    let settle: (text: string | undefined) => void = () => undefined;
    const reply = new Promise<string | undefined>((resolve) => {
      settle = (text) => {
        this.waiting.delete(tag);
        resolve(text);
      };
    });
    this.waiting.set(tag, settle);
    if (!stream.send(`${tag} ${JSON.stringify(request)}`)) settle(undefined);
    return { reply, letGo: () => settle(undefined) };
  }
}
