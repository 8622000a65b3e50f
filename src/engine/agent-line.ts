// A line held to one agent for the run: the runner attaches to the agent's stdin once (pods/attach,
// a websocket of its own) and sends its applies, renewals and reverts on it as `TAG JSON` lines, the agent
// answering each on its stdout (agent/service/lines.go). An exec each — a connection, its TLS, a
// process started in the container by the runtime — is what a renewal cost before, every third of
// a lease for every fault held. The line is an optimisation, never the authority: a request the
// line has not answered within LINE_WAIT_MS (a sixth of its time at most) is asked by exec as
// well, and the first reply of the two is the answer — both requests are ones the agent answers
// alike however often they come (an apply, told again what applied it; a renewal; a revert, whose
// outcome the agent keeps and tells again). A line whose reply has not come a while after the
// exec's, or that closes, or answers what is no reply, is not used again.
import { randomBytes } from "node:crypto";
import { lineReply, parseReply } from "../faults/index.js";
import type { Request } from "../faults/protocol.generated.js";
import type { AttachedStream, Cluster } from "../kube/types.js";
import type { AgentCall, CallOptions } from "./agent-client.js";
import type { PodRef } from "./events.js";

/** How long a request waits on the line alone (at most a sixth of its time) before it is asked by exec too. */
export const LINE_WAIT_MS = 3_000;
/** How long the attach may take to open; a request that would wait longer for it goes by exec meanwhile. */
const OPEN_TIMEOUT_MS = 10_000;
/** A signal that never aborts: for waits that outlive the request they began with. */
const NEVER = new AbortController().signal;

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

/** The first of the two answers that is a reply; if neither is, the exec's. */
function firstReply(line: Promise<AgentCall | undefined>, exec: Promise<AgentCall>): Promise<AgentCall> {
  return new Promise<AgentCall>((resolve) => {
    let open = 2;
    let fallback: AgentCall | undefined;
    const settle = (c: AgentCall | undefined): void => {
      if (c?.kind === "reply") {
        resolve(c);
        return;
      }
      if (c !== undefined) fallback = c;
      if (--open === 0) resolve(fallback ?? { kind: "no-reply", problem: "no answer on the line nor by exec", foreign: false });
    };
    line.then(settle, () => settle(undefined));
    exec.then(settle, () => settle(undefined));
  });
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
  ) {}

  /** The agent's answer to `request`: on the line, or by `byExec` (given the time it may take) where the line does not answer in time. */
  async call(request: Request, options: CallOptions, byExec: (timeoutMs: number) => Promise<AgentCall>): Promise<AgentCall> {
    const started = performance.now();
    const left = (): number => Math.max(1, options.timeoutMs - (performance.now() - started));
    if (this.broken || options.signal.aborted) return byExec(left());
    const waitUntil = started + Math.min(options.timeoutMs / 6, LINE_WAIT_MS);
    const stream = await within(this.open(), waitUntil - started, options.signal);
    if (stream === undefined || this.broken) return byExec(left());
    const tag = `${this.prefix}-${++this.tags}`;
    const onLine = this.send(stream, tag, request).then((text) => (text === undefined ? undefined : this.parsed(text, request)));
    const soon = await within(onLine, waitUntil - performance.now(), options.signal);
    if (soon !== undefined) return soon;
    // silent so far (a dead line, or a busy agent): asked by exec too, the first reply wins; an
    // exec that fails leaves the line its time
    const exec = byExec(left());
    void exec.then((c) => {
      if (c.kind === "reply") this.judge(tag, onLine, waitUntil - started);
    });
    return firstReply(within(onLine, left(), options.signal), exec);
  }

  /**
   * The exec answered a request the line had not: the line is given up if the agent's reply on
   * it does not come within `graceMs` more (a dead line), kept if it does (a busy agent).
   */
  private judge(tag: string, onLine: Promise<AgentCall | undefined>, graceMs: number): void {
    void within(onLine, graceMs, NEVER).then((late) => {
      this.letGo(tag);
      if (late === undefined) this.close();
    });
  }

  /** Opens the line ahead of its first request (its agent runs): the attach is not paid for on a revert's time. */
  warm(): void {
    void this.open();
  }

  /** Closes the line (the agent's stdin stays open); requests go by exec from now on. */
  close(): void {
    this.broken = true;
    void this.stream?.then((s) => s?.close());
    for (const answer of [...this.waiting.values()]) answer(undefined);
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

  /** The reply in a line's text; a text that is no reply to `request` closes the line (undefined). */
  private parsed(text: string, request: Request): AgentCall | undefined {
    const parsed = parseReply(text, request);
    if (parsed.ok) return { kind: "reply", reply: parsed.reply, from: "line" };
    this.close();
    return undefined;
  }

  /** One line of the agent's stdout: a reply to a request still waited for, or nothing of the line's. */
  private heard(line: string): void {
    const r = lineReply(line);
    if (r !== undefined) this.waiting.get(r.tag)?.(r.text);
  }

  /** Stops waiting for the reply tagged `tag` (a late one is passed over). */
  private letGo(tag: string): void {
    this.waiting.get(tag)?.(undefined);
  }

  /** Sends the request; its reply's text, or undefined once the line closed or the request was let go. */
  private send(stream: AttachedStream, tag: string, request: Request): Promise<string | undefined> {
    const reply = new Promise<string | undefined>((resolve) => {
      this.waiting.set(tag, (text) => {
        this.waiting.delete(tag);
        resolve(text);
      });
    });
    if (!stream.send(`${tag} ${JSON.stringify(request)}`)) this.letGo(tag);
    return reply;
  }
}
