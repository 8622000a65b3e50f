// A stress: held by a stress agent of its own in each target pod (no capability; the pod's user
// where the pod or the namespace demands non-root), applied, held and reverted as the pods'
// agents' faults are (hold.ts). Its reverts bring each agent's reading: observed per pod beside
// what became of the pod's own containers, and judged by the step's `expect:`.
import { stressAgentServeArgs, stressSecurity } from "../../faults/index.js";
import type { PodInfo } from "../../kube/types.js";
import type { PlannedStressFault } from "../../plan/types.js";
import type { AgentHandle } from "../agent-client.js";
import { agentContainer, freeName } from "../agents.js";
import { podKey } from "../events.js";
import { mapPool, throwFirstRejected } from "../pool.js";
import { podUsers } from "../preflight.js";
import { holdFault, judgeHeld, type RevertsByPod } from "./hold.js";
import { addStepAgent } from "./step-agent.js";
import { emitObserved, type FaultStepOf, type Observation, type StepContext, type StepRunner } from "./step-runner.js";
import { stressObservation } from "./stress-observed.js";

export type StressStep = FaultStepOf<PlannedStressFault>;

/** Each target pod as read before its stress agent was added, and that agent, by pod. */
interface StressAgents {
  readonly before: Map<string, PodInfo | undefined>;
  readonly agents: Map<string, AgentHandle>;
}

/** Adds the step's stress agent to every target pod still there; the first that cannot have one stops the step. */
async function addStressAgents(step: StressStep, ctx: StepContext): Promise<StressAgents> {
  const f = step.fault;
  const added: StressAgents = { before: new Map(), agents: new Map() };
  const results = await mapPool(ctx.targets.live(), ctx.options.concurrency, async (p) => {
    const fresh = (await ctx.cluster.getPod(p.namespace, p.name)) ?? p;
    added.before.set(podKey(p), fresh);
    const ref = { namespace: p.namespace, name: p.name };
    // no capability; the pod's user where the pod or the namespace demands non-root
    const security = stressSecurity(podUsers(fresh), ctx.namespaceLevel);
    const spec = agentContainer(freeName(fresh, f.agentName), { image: ctx.agent.image, pullPolicy: ctx.agent.pullPolicy, capabilities: [], security, ttlMs: f.agentTtlMs, runId: ctx.options.runId });
    added.agents.set(podKey(ref), await addStepAgent(ctx, ref, { ...spec, args: stressAgentServeArgs(f.agentTtlMs) }));
  });
  throwFirstRejected(results);
  return added;
}

/** What each stress measured, in the pods whose stress was reverted. */
async function observeStress(step: StressStep, added: StressAgents, reverted: RevertsByPod, ctx: StepContext): Promise<Observation[]> {
  const observations: Observation[] = [];
  for (const a of added.agents.values()) {
    const r = reverted.get(podKey(a.pod));
    if (r === undefined) continue;
    const after = await ctx.cluster.getPod(a.pod.namespace, a.pod.name).catch(() => undefined);
    const o = stressObservation(a.pod, r.reading, added.before.get(podKey(a.pod)), after, a.container);
    emitObserved(ctx, step, "stress", o);
    observations.push(o);
  }
  return observations;
}

export const stressStep: StepRunner<StressStep> = {
  accepts: (step): step is StressStep => step.kind === "fault" && step.fault.delivery === "stress-agent",
  run: async (step, ctx) => {
    const added = await addStressAgents(step, ctx);
    const reverted: RevertsByPod = new Map();
    try {
      await holdFault(
        step,
        [...added.agents.values()].filter((a) => !ctx.targets.isGone(a.pod)),
        ctx,
        reverted,
      );
    } finally {
      judgeHeld(step, ctx, await observeStress(step, added, reverted, ctx));
    }
  },
};
