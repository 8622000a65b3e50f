// How a run ends, as its status and exit code, in one order: a fault not confirmed reverted (4)
// before anything else — a fault may remain, and that is what the user must hear first; then a
// fault lost before its step ended (3), unless something other than an expectation stopped the
// run; then what stopped it: an interrupt (130 SIGINT, 143 SIGTERM), a steady state that did not
// hold (1), an expectation that did not hold (1), any other error (3, or its own code).
import { ChaosRunError, CouldNotRunError, ExitCode, isChaosRunError } from "../errors.js";
import { formatDuration } from "../expect/format.js";
import { podKey, type RunStatus } from "./events.js";
import type { FaultFates, LostFault, Unreverted } from "./fault-fates.js";
import { Interrupted, interruptOf } from "./interrupt.js";

export interface RunResult {
  readonly status: RunStatus;
  readonly exitCode: number;
  readonly message: string | undefined;
  readonly hint: string | undefined;
  readonly unreverted: readonly Unreverted[];
  readonly lost: readonly LostFault[];
}

/** Where a run stands: passed until something says otherwise. */
export interface Ending {
  readonly status: RunStatus;
  readonly failure: ChaosRunError | undefined;
}

/** The steady state does not hold before the experiment: nothing was changed (exit 1). */
export class SteadyStateBroken extends ChaosRunError {
  constructor(failed: number) {
    super(ExitCode.ExpectationFailed, `the steady state does not hold before the experiment (${failed} expectation${failed > 1 ? "s" : ""} failed): nothing was changed`, {
      hint: "the system is not healthy to begin with; fix that (or the expectations) before injecting faults",
    });
  }
}

/** The run went to its end; `failed` expectations did not hold over it. */
export function ranThrough(failed: number): Ending {
  if (failed === 0) return { status: "passed", failure: undefined };
  return { status: "failed", failure: new ChaosRunError(ExitCode.ExpectationFailed, `${failed} expectation${failed > 1 ? "s" : ""} did not hold`) };
}

/** What stopped the run: the interrupt first (whatever error it caused on its way), then a steady state that did not hold, then the error itself. */
export function stoppedBy(e: unknown, signal: AbortSignal): Ending {
  const interrupt = interruptOf(signal) ?? (e instanceof Interrupted ? e : undefined);
  if (interrupt !== undefined) {
    return { status: "interrupted", failure: new ChaosRunError(interrupt.exitCode === ExitCode.Interrupted ? ExitCode.Interrupted : ExitCode.Terminated, `interrupted by ${interrupt.signal}`) };
  }
  if (e instanceof SteadyStateBroken) return { status: "failed", failure: e };
  return { status: "error", failure: isChaosRunError(e) ? e : new CouldNotRunError(e instanceof Error ? e.message : String(e), { cause: e }) };
}

/** The exit-4 message: what may remain, where, and how to clean it — even when the agent is dead. */
export function unrevertedMessage(unreverted: readonly Unreverted[]): { message: string; hint: string } {
  const namespaces = [...new Set(unreverted.map((u) => u.pod.namespace))];
  const sweep = namespaces.map((ns) => `chaos-run sweep -n ${ns}`).join(", ");
  const lines = unreverted.map((u) => {
    const head = `  pod ${podKey(u.pod)}${u.iface !== undefined ? ` (interface ${u.iface})` : ""}: fault ${u.faultId}: ${u.detail}`;
    const byHand =
      u.agentRunning === false
        ? `    its agent ${u.container} is gone: ${`chaos-run sweep -n ${u.pod.namespace}`} adds a fresh agent that reverts what it left`
        : `    its agent ${u.container}${u.agentRunning === true ? " still runs" : " may still run"}: kubectl exec -n ${u.pod.namespace} ${u.pod.name} -c ${u.container} -- chaos-agent revert ${u.faultId}`;
    return `${head}\n${byHand}`;
  });
  return {
    message: `${unreverted.length} fault${unreverted.length > 1 ? "s" : ""} could not be confirmed reverted; a fault may remain:\n${lines.join("\n")}`,
    hint: `${sweep} reverts what the agents hold there, and adds a fresh agent to a pod whose agent died; a running agent also reverts by itself when its lease lapses`,
  };
}

function lostMessage(lost: readonly LostFault[]): { message: string; hint: string } {
  const lines = lost.map((l) => `  pod ${podKey(l.pod)}: fault ${l.faultId} (step ${l.step + 1}, ${l.stepName}) did not hold for its ${formatDuration(l.durationMs)}: ${l.reason}`);
  const hints: string[] = [];
  const died = [...new Set(lost.filter((l) => l.cause === "agent").map((l) => `kubectl describe pod -n ${l.pod.namespace} ${l.pod.name}`))];
  if (died.length > 0) hints.push(`an agent's container ended (OOMKilled: the pod's memory limit or the node's memory; a crash: its log, kubectl logs -c AGENT): ${died.join(", ")}`);
  if (lost.some((l) => l.cause !== "agent")) hints.push("a busy API server or node slows renewals down: give the agent a longer lease (agent.lease in the scenario)");
  return {
    message: `${lost.length} fault${lost.length > 1 ? "s" : ""} ended before ${lost.length > 1 ? "their steps" : "its step"} did, so what was measured is not what was planned:\n${lines.join("\n")}`,
    hint: hints.join("; "),
  };
}

export function resultOf({ status, failure }: Ending, fates: FaultFates): RunResult {
  const { unreverted, lost } = fates;
  if (unreverted.length > 0) {
    const { message, hint } = unrevertedMessage(unreverted);
    // what stopped the run is worth knowing too (e.g. an agent of another version, which no revert can reach)
    const why = failure !== undefined && failure.exitCode !== ExitCode.ExpectationFailed ? `\nthe run had stopped: ${failure.message}` : "";
    const first = failure?.hint !== undefined && failure.exitCode !== ExitCode.ExpectationFailed ? `${failure.hint}; then ` : "";
    return { status: status === "passed" || status === "failed" ? "error" : status, exitCode: ExitCode.RevertUnconfirmed, message: message + why, hint: first + hint, unreverted, lost };
  }
  if (lost.length > 0 && (failure === undefined || failure.exitCode === ExitCode.ExpectationFailed)) return { status: "error", exitCode: ExitCode.CouldNotRun, ...lostMessage(lost), unreverted, lost };
  if (failure === undefined) return { status, exitCode: ExitCode.Ok, message: undefined, hint: undefined, unreverted, lost };
  return { status, exitCode: failure.exitCode, message: failure.message, hint: failure.hint, unreverted, lost };
}
