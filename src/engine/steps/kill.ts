// The kill step: a signal to a container's main process in every target pod, delivered by a
// kill agent of its own per pod (added with targetContainerName: it shares that container's PID
// namespace, and dies with it where the process is the namespace's init). Two phases, so that a
// signal that cannot be delivered is refused before any pod is touched: every pod's kill agent
// is added and asked for a dry run; only when all of them can deliver does any of them signal.
// Then the containers are watched for the step's window: the exit, the restart, the pod Ready
// again. A kill is an event: nothing is held, nothing reverted; Ctrl-C only stops the watching.
import { CouldNotRunError } from "../../errors.js";
import { killAgentServeArgs, killCapabilities, killSpec, revertRequest, withSpec } from "../../faults/index.js";
import type { PlannedKillFault } from "../../plan/types.js";
import { callAgent, callProblem, foreignAgentError, type AgentHandle } from "../agent-client.js";
import { agentContainer, freeName } from "../agents.js";
import { podKey, type PodRef } from "../events.js";
import { interruptOf } from "../interrupt.js";
import { mapPool, throwFirstRejected } from "../pool.js";
import { eventWindow, watchWindow, type Window } from "./event-window.js";
import { killContainer, metricsOf, observe, targetIn, words, type Target } from "./kill-target.js";
import { addStepAgent } from "./step-agent.js";
import { emitApplied, emitObserved, type FaultStepOf, type Observation, type StepContext, type StepRunner } from "./step-runner.js";

export type KillStep = FaultStepOf<PlannedKillFault>;

/**
 * Kill agents readied in phase 1 whose kill will not come (a pod refused it, or the run was
 * interrupted): each is told the kill is off (a revert of it), and ends now rather than at its
 * TTL. Best effort: an agent that does not answer ends at its TTL.
 */
async function callOff(step: KillStep, agents: readonly AgentHandle[], ctx: StepContext): Promise<void> {
  // not the run's signal: an interrupted run still calls its kills off (each call has its timeout)
  const signal = new AbortController().signal;
  await Promise.allSettled(agents.map((a) => callAgent(ctx.cluster, a, revertRequest(ctx.options.runId, step.fault.apply.fault.id), { signal, timeoutMs: ctx.options.execTimeoutMs })));
}

/** Asks the target's kill agent for a dry run: which process, how — or why not (thrown). */
async function dryRun(step: KillStep, t: Target, agent: AgentHandle, ctx: StepContext): Promise<void> {
  const f = step.fault;
  const call = await callAgent(ctx.cluster, agent, withSpec(f.apply, killSpec(f.fault, t.container, t.containerId), true), { signal: ctx.signal, timeoutMs: ctx.options.execTimeoutMs });
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) throw interrupt;
  if (call.kind === "no-reply" && call.foreign) throw foreignAgentError(agent, ctx.agent.image, call.problem);
  if (call.kind !== "reply" || !call.reply.ok || call.reply.fault?.kill === undefined) {
    const code = call.kind === "reply" ? call.reply.error?.code : undefined;
    throw new CouldNotRunError(
      `pod ${podKey(t.pod)}: ${code === "unsupported" ? "refused" : "cannot"} ${f.fault.signal} to container ${t.container}: ${call.kind === "reply" ? (call.reply.error?.message ?? "no kill in the reply") : callProblem(call)}`,
      {
        hint: code === "unsupported" ? "choose a signal the process can receive (SIGKILL always can)" : `kubectl logs -n ${t.pod.namespace} ${t.pod.name} -c ${agent.container}`,
      },
    );
  }
  t.state = call.reply.fault.kill;
  t.detail = call.reply.fault.detail;
}

/** Adds the kill agent to one pod (noted in `added` once it runs) and asks for a dry run. */
async function prepare(step: KillStep, ref: PodRef, ctx: StepContext, added: AgentHandle[]): Promise<Target> {
  const f = step.fault;
  const pod = await ctx.cluster.getPod(ref.namespace, ref.name);
  if (pod === undefined || pod.deleting) throw new CouldNotRunError(`pod ${podKey(ref)} is gone: nothing to kill in it`);
  const t = targetIn(pod, ref, killContainer(pod, f.fault.container));
  // SIGKILL to an init goes through ptrace (SYS_PTRACE); anything sent with kill(2) needs KILL
  const capabilities = killCapabilities(f.fault.signal, pod.shareProcessNamespace !== true);
  const spec = agentContainer(freeName(pod, f.agentName), { image: ctx.agent.image, pullPolicy: ctx.agent.pullPolicy, capabilities, ttlMs: f.agentTtlMs, runId: ctx.options.runId });
  t.agent = await addStepAgent(ctx, ref, { ...spec, args: killAgentServeArgs(f.agentTtlMs), targetContainerName: t.container });
  added.push(t.agent);
  await dryRun(step, t, t.agent, ctx);
  return t;
}

/** Pods that cannot take the kill, as the one error that stops the step. */
function refusedError(step: KillStep, refused: readonly unknown[], pods: number): CouldNotRunError {
  const first: unknown = refused[0];
  if (refused.length === 1 && first instanceof Error) {
    return new CouldNotRunError(`step ${step.index + 1} (${step.name}): ${first.message}; no pod was signalled`, { hint: first instanceof CouldNotRunError ? first.hint : undefined, cause: first });
  }
  const lines = refused.map((e) => `  ${e instanceof Error ? e.message : String(e)}`);
  return new CouldNotRunError(`step ${step.index + 1} (${step.name}): ${refused.length} of ${pods} pods cannot take the kill; no pod was signalled:\n${lines.join("\n")}`, {
    hint: "choose a signal every target process can receive (SIGKILL always can), or narrow the target",
  });
}

/** Phase 1, in every pod: the kill agent and a dry run. Unless every pod can take the kill, every kill is called off and none is sent. */
async function prepareAll(step: KillStep, ctx: StepContext): Promise<Target[]> {
  const refs = ctx.targets.live().map((p) => ({ namespace: p.namespace, name: p.name }));
  const added: AgentHandle[] = [];
  const prepared = await mapPool(refs, ctx.options.concurrency, (ref) => prepare(step, ref, ctx, added));
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) {
    await callOff(step, added, ctx);
    throw interrupt;
  }
  const refused = prepared.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
  if (refused.length > 0) {
    await callOff(step, added, ctx);
    throw refusedError(step, refused, refs.length);
  }
  return prepared.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
}

/** Sends the kill through the pod's kill agent: it replies first, then signals. */
async function strike(step: KillStep, t: Target, ctx: StepContext): Promise<void> {
  const f = step.fault;
  if (t.agent === undefined) return;
  const started = ctx.now();
  const call = await callAgent(ctx.cluster, t.agent, withSpec(f.apply, killSpec(f.fault, t.container, t.containerId), false), { signal: ctx.signal, timeoutMs: ctx.options.execTimeoutMs });
  t.signalAt = ctx.now();
  if (call.kind === "reply" && call.reply.ok && call.reply.fault !== undefined) {
    t.state = call.reply.fault.kill ?? t.state;
    t.detail = call.reply.fault.detail;
    emitApplied(ctx, step, t.pod, { iface: undefined, families: [], detail: t.detail, commands: call.reply.commands }, started);
    return;
  }
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) throw interrupt;
  if (call.kind === "reply") {
    // the dry run said yes a moment ago: the process or its disposition changed meanwhile
    throw new CouldNotRunError(`step ${step.index + 1} (${step.name}): the kill agent in pod ${podKey(t.pod)} did not send ${f.fault.signal}: ${callProblem(call)}`);
  }
  // the exec's stream may end with the agent (its PID namespace's init is gone): the kill may
  // have happened. What the container does tells.
  t.replyLost = call.problem;
  ctx.emit({
    type: "warning",
    at: ctx.now(),
    message: `pod ${podKey(t.pod)}: no reply from the kill agent ${t.agent.container} (${call.problem}); watching whether container ${t.container} ended anyway`,
  });
}

/** A container that did not exit: what became of its kill agent says why, in its log's last words about the kill. */
async function explainSurvivors(targets: readonly Target[], ctx: StepContext): Promise<void> {
  for (const t of targets) {
    if (t.killed || t.agent === undefined) continue;
    const pod = await ctx.cluster.getPod(t.pod.namespace, t.pod.name).catch(() => undefined);
    const agent = pod?.ephemeralContainers.find((c) => c.name === t.agent?.container);
    if (agent?.state !== "terminated") continue;
    const lines = (agent.message ?? "")
      .trim()
      .split("\n")
      .filter((l) => l !== "");
    const why = lines.filter((l) => / failed|refused|cannot /.test(l)).at(-1) ?? lines.at(-1);
    t.detail += `; the kill agent ended with exit ${agent.exitCode ?? "?"}${why !== undefined ? `: ${why}` : ""}`;
  }
}

/** Both phases, then the containers watched for the step's window; returns what was observed in each pod signalled. */
async function runKill(step: KillStep, ctx: StepContext): Promise<Observation[]> {
  const targets = await prepareAll(step, ctx);
  const byPod = new Map(targets.map((t) => [podKey(t.pod), t]));
  const signalled = (): Observation[] => targets.filter((t) => t.signalAt !== undefined).map((t) => ({ pod: t.pod, metrics: metricsOf(t), detail: words(t, step.durationMs) }));
  let window: Window | undefined;
  const stops: (() => void)[] = [];
  try {
    // the watch opens before the kill, so no transition is missed
    for (const t of targets) {
      stops.push(
        await ctx.cluster.watchPods(t.pod.namespace, t.pod.name, (pod, gone) => {
          const target = byPod.get(podKey(pod));
          if (target === undefined || gone) return;
          observe(target, pod, ctx.now());
          window?.poke();
        }),
      );
    }
    // phase 2: the kill, in every pod at once
    throwFirstRejected(await mapPool(targets, ctx.options.concurrency, (t) => strike(step, t, ctx)));
    const from = ctx.now();
    // what happened between the kill and the watch's next event: read once
    for (const t of targets) {
      const pod = await ctx.cluster.getPod(t.pod.namespace, t.pod.name);
      if (pod !== undefined) observe(t, pod, ctx.now());
    }
    window = eventWindow(from + step.durationMs, ctx.now, ctx.signal, () => ctx.options.untilRecovered === true && targets.every((t) => t.recoveredAt !== undefined));
    await watchWindow(
      step,
      ctx,
      targets.map((t) => t.pod),
      from,
      window,
    );
    await explainSurvivors(targets, ctx);
  } finally {
    for (const stop of stops) stop();
    for (const o of signalled()) emitObserved(ctx, step, "kill", o);
  }
  return signalled();
}

export const killStep: StepRunner<KillStep> = {
  accepts: (step): step is KillStep => step.kind === "fault" && step.fault.delivery === "kill-agent",
  run: async (step, ctx) => {
    ctx.checks.evaluateFault(step, await runKill(step, ctx));
  },
};
