// A fault the pods' own agents hold (netem, partition, http, grpc): applied through each target
// pod's agent, held, reverted (hold.ts). An http or grpc fault's agent also says, at its revert,
// what its proxy did: observed per pod, a warning when it faulted nothing, and judged by the
// step's `expect:`.
import type { DnsParams, GrpcParams } from "../../faults/types.js";
import { dnsObservation } from "./dns-observed.js";
import type { PlannedAgentFault } from "../../plan/types.js";
import { grpcObservation } from "./grpc-observed.js";
import { holdFault, judgeHeld, type RevertsByPod } from "./hold.js";
import { type HttpObservation, httpObservation } from "./http-observed.js";
import { emitObserved, type FaultStepOf, type Observation, type StepContext, type StepRunner } from "./step-runner.js";

export type NetworkFaultStep = FaultStepOf<PlannedAgentFault>;

/** What an http or grpc fault's proxy did in each pod whose fault was reverted. */
function observeProxy(step: NetworkFaultStep, reverted: RevertsByPod, ctx: StepContext, fault: { kind: "http"; port: number } | { kind: "grpc"; grpc: GrpcParams }): Observation[] {
  const observations: Observation[] = [];
  for (const r of reverted.values()) {
    const pod = r.entry.agent.pod;
    const o: HttpObservation = fault.kind === "http" ? httpObservation(pod, r.http, fault.port) : grpcObservation(pod, r.grpc, fault.grpc);
    emitObserved(ctx, step, fault.kind, o);
    observations.push(o);
    if (o.untouched !== undefined) ctx.emit({ type: "warning", at: ctx.now(), message: o.untouched });
  }
  return observations;
}

/** What a dns fault's resolver did in each pod whose fault was reverted; a warning where it matched nothing. */
function observeDns(step: NetworkFaultStep, reverted: RevertsByPod, ctx: StepContext, params: DnsParams): Observation[] {
  return [...reverted.values()].map((r) => {
    const o = dnsObservation(r.entry.agent.pod, r.dns, params);
    emitObserved(ctx, step, "dns", o);
    if (o.untouched !== undefined) ctx.emit({ type: "warning", at: ctx.now(), message: o.untouched });
    return o;
  });
}

export const networkFaultStep: StepRunner<NetworkFaultStep> = {
  accepts: (step): step is NetworkFaultStep => step.kind === "fault" && step.fault.delivery === "agent",
  run: async (step, ctx) => {
    const reverted: RevertsByPod = new Map();
    try {
      await holdFault(step, ctx.podAgents(), ctx, reverted);
    } finally {
      const fault = step.fault.fault;
      if (fault.kind === "http") judgeHeld(step, ctx, observeProxy(step, reverted, ctx, { kind: "http", port: fault.http.port }));
      if (fault.kind === "grpc") judgeHeld(step, ctx, observeProxy(step, reverted, ctx, fault));
      if (fault.kind === "dns") judgeHeld(step, ctx, observeDns(step, reverted, ctx, fault.dns));
    }
  },
};
