// Talking to one agent: one request per exec (`chaos-agent request JSON`, argv, no shell), one
// Reply read from stdout whatever the exit code — or, for the applies, renewals and reverts of an
// agent the runner holds a line to (agent-line.ts), a line on its stdin, and by exec only where the
// line could not carry it. The outcome is data with one shape whether the
// agent answered or not; callers decide what a failure means where they are.
import { CouldNotRunError } from "../errors.js";
import { parseReply, requestArgv } from "../faults/index.js";
import type { Reply, Request } from "../faults/protocol.generated.js";
import type { Cluster, ExecResult } from "../kube/types.js";
import type { AgentLine } from "./agent-line.js";
import { podKey, type PodRef } from "./events.js";

export interface AgentHandle {
  readonly pod: PodRef;
  readonly container: string;
  readonly reused: boolean;
  /** the line the runner may hold to it (an agent it added with a stdin): its applies, renewals and reverts go there */
  readonly line?: AgentLine | undefined;
}

export type AgentCall =
  | {
      readonly kind: "reply";
      readonly reply: Reply;
      /** the exec it came by; undefined when it came otherwise (`from`) */
      readonly exec?: ExecResult | undefined;
      /** read from the agent's log (a fresh agent's first reply, first-fault.ts), or its line's answer (agent-line.ts); undefined: by exec */
      readonly from?: "log" | "line" | undefined;
    }
  | {
      readonly kind: "no-reply";
      /** the exec it was asked by; undefined when it was asked on the agent's line */
      readonly exec?: ExecResult | undefined;
      /** why there is no reply, in words */
      readonly problem: string;
      /** the agent answered, but not in this protocol: an agent image of another version */
      readonly foreign: boolean;
    };

export interface CallOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/** What goes on an agent's line, where it has one: a fault's apply, its renewals and its revert — each answered alike if asked again by exec. */
const LINE_OPS: ReadonlySet<Request["op"]> = new Set(["apply", "renew", "revert"]);

/** Sends one request to the agent and reads its reply. Never throws for what the exec or the agent did. */
export async function callAgent(cluster: Cluster, agent: AgentHandle, request: Request, options: CallOptions): Promise<AgentCall> {
  const byExec = (timeoutMs: number): Promise<AgentCall> => execAgent(cluster, agent, request, { signal: options.signal, timeoutMs });
  return agent.line !== undefined && LINE_OPS.has(request.op) ? agent.line.call(request, options, byExec) : byExec(options.timeoutMs);
}

/** One request by exec: `chaos-agent request JSON` in the agent's container, its Reply read from stdout. */
async function execAgent(cluster: Cluster, agent: AgentHandle, request: Request, options: CallOptions): Promise<AgentCall> {
  const exec = await cluster.exec(agent.pod.namespace, agent.pod.name, agent.container, requestArgv(request), { signal: options.signal, timeoutMs: options.timeoutMs });
  if (exec.exitCode === undefined && exec.stdout.trim() === "") {
    const why = exec.canceled ? "canceled" : exec.timedOut ? `no answer within ${Math.round(options.timeoutMs)} ms` : (exec.error ?? "the exec did not run");
    return { kind: "no-reply", exec, problem: why, foreign: false };
  }
  const parsed = parseReply(exec.stdout, request);
  if (parsed.ok) return { kind: "reply", reply: parsed.reply, exec };
  const stderr = exec.stderr.trim();
  const exit = exec.exitCode === undefined ? "" : ` (exit ${exec.exitCode}${stderr !== "" ? `: ${stderr.split("\n")[0] ?? ""}` : ""})`;
  return { kind: "no-reply", exec, problem: `${parsed.problem}${exit}`, foreign: parsed.foreign };
}

/** What the call's failure says, in a line: the agent's error, or why there was no reply. */
export function callProblem(call: AgentCall): string {
  return call.kind === "no-reply" ? call.problem : replyProblem(call.reply);
}

/** The agent's error in a line: its code, its message, and who holds what it needed. */
export function replyProblem(reply: Reply): string {
  const e = reply.error;
  if (e === undefined) return reply.ok ? "ok" : "the agent said no, without a reason";
  const owner = e.owner !== undefined ? ` (held by fault ${e.owner.faultId} of run ${e.owner.runId}, agent ${e.owner.agent})` : "";
  return `${e.code}: ${e.message}${owner}`;
}

/** An agent that does not speak this protocol: say the likely cause and the fix. */
export function foreignAgentError(agent: AgentHandle, image: string, problem: string): CouldNotRunError {
  return new CouldNotRunError(`the agent ${agent.container} in pod ${podKey(agent.pod)} does not speak chaos-run's agent protocol v1: ${problem}`, {
    hint: `its image (${image}) is most likely of another chaos-run version: build the agent of this version (docker build -t IMAGE .) and pass --agent-image IMAGE`,
  });
}
