// Reading the agent's answer: one Reply as JSON on stdout, whatever the exit code, validated
// against the protocol's schema by a precompiled validator (nothing compiles a schema at run
// time). Pure: what is wrong is returned as data; the engine words the error.
import type { ErrorObject } from "ajv";
import { validateReply } from "./generated/validate-reply.js";
import type { Reply, Request } from "./protocol.generated.js";

export type ReplyParse =
  | { readonly ok: true; readonly reply: Reply }
  | {
      readonly ok: false;
      /** what is wrong with the answer, in words */
      readonly problem: string;
      /** the answer does not speak this protocol at all (not JSON, not a Reply): most likely an agent image of another version */
      readonly foreign: boolean;
    };

function errorText(e: ErrorObject): string {
  const at = e.instancePath === "" ? "the reply" : e.instancePath;
  if (e.keyword === "additionalProperties" && "additionalProperty" in e.params) return `${at} has an unknown field ${JSON.stringify(e.params["additionalProperty"])}`;
  return `${at} ${e.message ?? e.keyword}`;
}

/** At most this much of an unreadable answer is quoted in an error. */
const QUOTE = 200;

function quote(text: string): string {
  const t = text.trim();
  return t.length > QUOTE ? `${JSON.stringify(t.slice(0, QUOTE))}…` : JSON.stringify(t);
}

/** The Reply to `request` in an exec's stdout. */
export function parseReply(stdout: string, request: Pick<Request, "op">): ReplyParse {
  const text = stdout.trim();
  if (text === "") return { ok: false, problem: "the agent printed no reply", foreign: true };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: `the agent's output is not a JSON reply: ${quote(text)}`, foreign: true };
  }
  if (!validateReply(value)) {
    const errors = (validateReply.errors ?? []).slice(0, 3).map(errorText);
    return { ok: false, problem: `the agent's reply does not follow protocol v1: ${errors.join("; ")}`, foreign: true };
  }
  if (value.op !== request.op) return { ok: false, problem: `the agent answered op "${value.op}" to a "${request.op}" request`, foreign: false };
  return { ok: true, reply: value };
}

/**
 * The line a serve process writes to its container's log once it holds the fault it started with
 * (agent/protocol/wire.go: FirstReplyPrefix), then that apply's Reply as JSON.
 */
export const FIRST_REPLY_PREFIX = "chaos-agent first reply: ";
/**
 * Each reply a serve process writes to its stdout for a request that came on its stdin
 * (agent/protocol/wire.go: LineReplyPrefix): the prefix, the request's tag, a space, the Reply.
 */
export const LINE_REPLY_PREFIX = "chaos-agent line reply: ";

/** A line of an agent's stdout that answers a request of its stdin: its tag and the Reply's text; undefined for any other line. */
export function lineReply(line: string): { readonly tag: string; readonly text: string } | undefined {
  if (!line.startsWith(LINE_REPLY_PREFIX)) return undefined;
  const rest = line.slice(LINE_REPLY_PREFIX.length);
  const space = rest.indexOf(" ");
  return space <= 0 ? undefined : { tag: rest.slice(0, space), text: rest.slice(space + 1) };
}

/** The line it writes last when it could not hold it (agent/service/first.go: FirstFailed). */
const FIRST_FAILED = /^(?:\S+ )?chaos-agent: first request \(apply ([^)]+)\) failed: (.*)$/;
/** What it writes when it refused its first request before serving (agent/cli: serve); a serve process has one first request, so this is it. */
const FIRST_REFUSED = /^chaos-agent serve: CHAOS_AGENT_FIRST_REQUEST: (.*); nothing was done$/;

/** What the reply of a fault's first apply must say of itself: its fault, its agent (the container), its run, its kind. */
export interface FirstReplyExpected {
  readonly faultId: string;
  readonly agent: string;
  readonly runId: string;
  readonly kind: string;
}

export type FirstReplyInLog =
  /** the agent holds it: its apply's reply, as an exec's apply would have told */
  | { readonly state: "held"; readonly reply: Reply }
  /** the agent said it could not hold it (its last words follow in its termination message) */
  | { readonly state: "failed"; readonly said: string }
  /** nothing about it yet */
  | { readonly state: "pending" };

/**
 * What an agent's log says of the fault `faultId` it started with. The log is the pod's to write
 * as much as the agent's (hostile input): only a line that begins with the prefix and is a whole,
 * valid Reply to an apply of that fault counts as held, any other line is passed over, and the
 * fault's first renewal, an exec, stays the authority on whether it is still held. "failed" only
 * tells the runner to stop reading and ask the agent.
 */
export function firstReplyInLog(log: string, expected: FirstReplyExpected): FirstReplyInLog {
  for (const line of log.split("\n")) {
    const failed = FIRST_FAILED.exec(line.trim());
    if (failed !== null && failed[1] === expected.faultId) return { state: "failed", said: failed[2] ?? "" };
    const refused = FIRST_REFUSED.exec(line.trim());
    if (refused !== null) return { state: "failed", said: refused[1] ?? "" };
    if (!line.startsWith(FIRST_REPLY_PREFIX)) continue;
    const parsed = parseReply(line.slice(FIRST_REPLY_PREFIX.length), { op: "apply" });
    if (!parsed.ok || !parsed.reply.ok) continue;
    const { agent, fault } = parsed.reply;
    // of this agent, this run and this fault, as the apply would have answered
    if (agent.name === expected.agent && agent.runId === expected.runId && fault?.id === expected.faultId && fault.runId === expected.runId && fault.kind === expected.kind)
      return { state: "held", reply: parsed.reply };
  }
  return { state: "pending" };
}
