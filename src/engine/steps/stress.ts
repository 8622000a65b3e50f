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
import { TravellingFaults } from "../first-fault.js";
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

/**
 * Adds the step's stress agent to every target pod still there; the first that cannot have one
 * stops the step. Each agent starts holding the stress (it travels with the agent, as the run's
 * first fault does with the pods' agents: first-fault.ts), its ledger entry written before the
 * container is added, unless the run sends every fault by exec (`travelling` undefined).
 */
async function addStressAgents(step: StressStep, ctx: StepContext, travelling: TravellingFaults | undefined): Promise<StressAgents> {
  const f = step.fault;
  const added: StressAgents = { before: new Map(), agents: new Map() };
  const results = await mapPool(ctx.targets.live(), ctx.options.concurrency, async (p) => {
    const fresh = (await ctx.cluster.getPod(p.namespace, p.name)) ?? p;
    added.before.set(podKey(p), fresh);
    const ref = { namespace: p.namespace, name: p.name };
    // no capability; the pod's user where the pod or the namespace demands non-root
    const security = stressSecurity(podUsers(fresh), ctx.namespaceLevel);
    const name = freeName(fresh, f.agentName);
    const firstRequest = travelling?.board({ pod: ref, container: name, reused: false }, ctx.now());
    const spec = agentContainer(name, { image: ctx.agent.image, pullPolicy: ctx.agent.pullPolicy, capabilities: [], security, ttlMs: f.agentTtlMs, runId: ctx.options.runId, firstRequest });
    // a container the API did not add holds nothing: its ledger entry goes
    const agent = await addStepAgent(ctx, ref, { ...spec, args: stressAgentServeArgs(f.agentTtlMs) }, () => travelling?.unboard(ref)).catch(async (err: unknown) => {
      // an agent that ended before it was seen running, holding its stress: it refused it, or could not apply it
      throw (await travelling?.failedStart(ctx.cluster, ref, ctx.signal)) ?? err;
    });
    added.agents.set(podKey(ref), agent);
    travelling?.confirmWhenRunning(ctx.cluster, agent, ctx.signal);
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
    const travelling =
      ctx.options.firstFaultWithAgent === false ? undefined : new TravellingFaults(step, ctx.ledger, { runId: ctx.options.runId, leaseMs: ctx.agent.leaseMs, timeoutMs: ctx.options.execTimeoutMs });
    const reverted: RevertsByPod = new Map();
    try {
      const added = await addStressAgents(step, ctx, travelling);
      try {
        // the stresses that travelled with this step's own agents, as the run's first fault with the pods' agents
        const own = travelling === undefined ? ctx : { ...ctx, travelling: (agent: AgentHandle, index: number) => travelling.take(agent, index) };
        await holdFault(
          step,
          [...added.agents.values()].filter((a) => !ctx.targets.isGone(a.pod)),
          own,
          reverted,
        );
      } finally {
        judgeHeld(step, ctx, await observeStress(step, added, reverted, ctx));
      }
    } finally {
      // early renewals of a stress no hold took (an agent that could not be added stopped the step): the run's revert ends it
      travelling?.stop();
    }
  },
};
