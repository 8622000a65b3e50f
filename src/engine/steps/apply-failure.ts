// Why an agent did not apply a held fault, as the error that stops the run: an interrupt, a pod
// that went away, an agent that did not answer (or answered in another protocol), or what the
// agent refused and why — each with what to do about it.
import { CouldNotRunError } from "../../errors.js";
import type { Reply } from "../../faults/protocol.generated.js";
import { foreignAgentError, replyProblem, type AgentCall, type AgentHandle } from "../agent-client.js";
import { podKey } from "../events.js";
import { interruptOf } from "../interrupt.js";
import type { PlannedAgentFault, PlannedStressFault } from "../../plan/types.js";
import type { FaultStepOf, StepContext } from "./step-runner.js";

type HeldFaultStep = FaultStepOf<PlannedAgentFault | PlannedStressFault>;

function failedCommand(reply: Reply): string {
  const bad = reply.commands.find((c) => c.exitCode !== 0);
  if (bad === undefined) return "";
  const err = bad.stderr?.trim().split("\n")[0];
  return `; \`${bad.argv.join(" ")}\` exited ${bad.exitCode}${err !== undefined && err !== "" ? `: ${err}` : ""}`;
}

/** The agent could not (or would not) apply the fault: what it said, and what to do. */
function applyError(step: HeldFaultStep, agent: AgentHandle, reply: Reply): CouldNotRunError {
  const where = `step ${step.index + 1} (${step.name}): the agent in pod ${podKey(agent.pod)} could not apply ${step.fault.summary}`;
  const e = reply.error;
  const logs = `kubectl logs -n ${agent.pod.namespace} ${agent.pod.name} -c ${agent.container}`;
  const text = `${where}: ${replyProblem(reply)}${failedCommand(reply)}`;
  switch (e?.code) {
    case "conflict":
      return new CouldNotRunError(text, { hint: "another live run holds what this fault needs: let it end (or end it: chaos-run sweep) and run again" });
    case "unrestorable":
      return new CouldNotRunError(text, {
        hint: "the interface holds a qdisc tree the agent could not restore exactly, so it refused rather than replace it: pick another interface, or remove that tree first",
      });
    case "no-interface":
      return new CouldNotRunError(text, { hint: "name the interface in the scenario (fault.interface) — the pod has no default route the agent could use" });
    case "no-backend":
      return new CouldNotRunError(text, { hint: "neither iptables backend (nft, legacy) works in this pod's namespace: the node's kernel lacks them" });
    case "reverted":
      // the ledger reverted this entry while its apply was still on its way: the agent keeps that revert and refuses the late apply
      return new CouldNotRunError(text, { hint: "the fault's revert reached the agent before its apply (an apply that timed out or was interrupted): nothing of it is in effect; run again" });
    case "forbidden":
      // only a process of the agent's own container may change anything; the runner's exec is one
      return new CouldNotRunError(text, { hint: `the agent did not take this exec for its own container's (its peer-credential check): ${logs}` });
    case "bad-request":
      // the runner's requests are valid by construction: an agent that refuses one speaks an older protocol
      return new CouldNotRunError(text, {
        hint: `the agent ${agent.container} (image ${step.fault.apply.fault.spec.kind === "stress" ? "without stress faults" : "of another version"}) is most likely of another chaos-run version: build the agent of this version and pass --agent-image IMAGE; ${logs}`,
      });
    default:
      return new CouldNotRunError(text, { hint: logs });
  }
}

/** What stops the step when an apply was not answered with ok: the interrupt first, then a pod gone, then what the agent did or said. */
export function applyFailure(step: HeldFaultStep, agent: AgentHandle, call: AgentCall, ctx: StepContext): Error {
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) return interrupt;
  const gone = ctx.targets.gone.get(podKey(agent.pod));
  if (gone !== undefined) return new CouldNotRunError(`pod ${podKey(agent.pod)} was ${gone} during step ${step.index + 1} (${step.name})`);
  if (call.kind === "no-reply") {
    if (call.foreign) return foreignAgentError(agent, ctx.agent.image, call.problem);
    return new CouldNotRunError(`step ${step.index + 1} (${step.name}): no answer from the agent in pod ${podKey(agent.pod)} to the apply request: ${call.problem}`, {
      hint: `kubectl logs -n ${agent.pod.namespace} ${agent.pod.name} -c ${agent.container}`,
    });
  }
  return applyError(step, agent, call.reply);
}
