// A step's own agent (a kill or a stress agent): a container of its own in each target pod,
// added for that step alone and named for it, beside the pod's own agent. Said as the pods' agents
// are (agent:injecting, agent:ready).
import type { AgentContainerSpec } from "../../kube/types.js";
import type { AgentHandle } from "../agent-client.js";
import { addContainer } from "../agents.js";
import type { PodRef } from "../events.js";
import type { StepContext } from "./step-runner.js";

/** Adds the container to the pod and waits for it to run; throws what kept it from running (`refused`: told first when the API did not add it). */
export async function addStepAgent(ctx: StepContext, pod: PodRef, spec: AgentContainerSpec, refused: () => void = () => undefined): Promise<AgentHandle> {
  ctx.emit({ type: "agent:injecting", at: ctx.now(), pod, container: spec.name });
  const started = ctx.now();
  await addContainer(ctx.cluster, pod, spec, refused);
  await ctx.cluster.waitContainerRunning(pod.namespace, pod.name, spec.name, { signal: ctx.signal, timeoutMs: ctx.options.injectTimeoutMs });
  const agent: AgentHandle = { pod, container: spec.name, reused: false };
  ctx.emit({ type: "agent:ready", at: ctx.now(), pod, container: spec.name, reused: false, durationMs: ctx.now() - started });
  return agent;
}
