// A fault the pods' own agents hold (netem, partition, http): applied through each target pod's
// agent, held, reverted (hold.ts). An http fault's agent also says, at its revert, what its proxy
// did: observed per pod, a warning when it faulted nothing, and judged by the step's `expect:`.
import type { PlannedAgentFault } from "../../plan/types.js";
import { holdFault, judgeHeld, type RevertsByPod } from "./hold.js";
import { httpObservation } from "./http-observed.js";
import { emitObserved, type FaultStepOf, type Observation, type StepContext, type StepRunner } from "./step-runner.js";

export type NetworkFaultStep = FaultStepOf<PlannedAgentFault>;

/** What an http fault's proxy did in each pod whose fault was reverted. */
function observeHttp(step: NetworkFaultStep, port: number, reverted: RevertsByPod, ctx: StepContext): Observation[] {
  const observations: Observation[] = [];
  for (const r of reverted.values()) {
    const o = httpObservation(r.entry.agent.pod, r.http, port);
    emitObserved(ctx, step, "http", o);
    observations.push(o);
    if (o.untouched !== undefined) ctx.emit({ type: "warning", at: ctx.now(), message: o.untouched });
  }
  return observations;
}

export const networkFaultStep: StepRunner<NetworkFaultStep> = {
  accepts: (step): step is NetworkFaultStep => step.kind === "fault" && step.fault.delivery === "agent",
  run: async (step, ctx) => {
    const reverted: RevertsByPod = new Map();
    try {
      await holdFault(step, ctx.podAgents(), ctx, reverted);
    } finally {
      const fault = step.fault.fault;
      if (fault.kind === "http") judgeHeld(step, ctx, observeHttp(step, fault.http.port, reverted, ctx));
    }
  },
};
