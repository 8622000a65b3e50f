// The kill step: a signal to a container's main process in every target pod, delivered by a
// kill agent of its own per pod (added with targetContainerName: it shares that container's PID
// namespace, and dies with it where the process is the namespace's init). Two phases, so that a
// signal that cannot be delivered is refused before any pod is touched: every pod's kill agent
// is added and asked for a dry run; only when all of them can deliver does any of them signal.
// Then the containers are watched for the step's window: the exit, the restart, the pod Ready
// again. A kill is an event: nothing is held, nothing reverted; Ctrl-C only stops the watching.
import { CouldNotRunError } from "../errors.js";
import { formatDuration } from "../expect/format.js";
import { killAgentServeArgs, killCapabilities, killSpec, revertRequest, withSpec } from "../faults/index.js";
import type { KillState } from "../faults/protocol.generated.js";
import type { Cluster, ContainerEnd, PodInfo, PullPolicy } from "../kube/types.js";
import type { PlannedFaultStep, PlannedKillFault } from "../plan/types.js";
import { callAgent, callProblem, foreignAgentError, type AgentHandle } from "./agent-client.js";
import { agentContainer, freeName } from "./agents.js";
import type { EventSink, PodRef } from "./events.js";
import { interruptOf } from "./interrupt.js";
import { mapPool } from "./pool.js";
import { eventWindow } from "./window.js";

export type KillStep = PlannedFaultStep & { readonly fault: PlannedKillFault };

export function isKillStep(step: PlannedFaultStep): step is KillStep {
  return step.fault.delivery === "kill-agent";
}

/** What a fault measured in one pod. */
export interface Observation {
  readonly pod: PodRef;
  readonly metrics: Readonly<Record<string, number | undefined>>;
  readonly detail: string;
}

export interface EventStepContext {
  readonly cluster: Cluster;
  readonly emit: EventSink;
  readonly now: () => number;
  readonly signal: AbortSignal;
  readonly concurrency: number;
  readonly execTimeoutMs: number;
  readonly injectTimeoutMs: number;
  readonly runId: string;
  readonly agentImage: string;
  readonly pullPolicy: PullPolicy;
  /** the step's target pods, as last known */
  readonly pods: () => readonly PodInfo[];
  /** runs the step's `during` probes; continuous ones (`every:`) sample until `untilAt`, the window's end */
  readonly during: (step: PlannedFaultStep, signal: AbortSignal, untilAt: number) => Promise<number>;
  /** end the window as soon as every pod has recovered (the seed verbs) rather than hold it whole */
  readonly untilRecovered: boolean;
}

const podKey = (p: PodRef): string => `${p.namespace}/${p.name}`;

/** The runtime's container id without its scheme (`containerd://abc…` → `abc…`). */
export function bareContainerId(id: string | undefined): string | undefined {
  if (id === undefined || id === "") return undefined;
  const i = id.indexOf("://");
  const bare = i >= 0 ? id.slice(i + 3) : id;
  return /^[0-9a-f]{12,64}$/.test(bare) ? bare : undefined;
}

/** The container a kill aims at in a pod: the one named, else the pod's default container. */
export function killContainer(pod: PodInfo, named: string | undefined): string {
  const names = pod.containers.map((c) => c.name);
  const name = named ?? (pod.defaultContainer !== undefined && names.includes(pod.defaultContainer) ? pod.defaultContainer : names[0]);
  if (name === undefined || !names.includes(name)) {
    throw new CouldNotRunError(`pod ${pod.namespace}/${pod.name} has no container ${named ?? "(none at all)"} (nothing was touched)`, {
      hint: `its containers: ${names.join(", ")}; name one with kill.container (-c)`,
    });
  }
  return name;
}

interface Target {
  readonly pod: PodRef;
  readonly container: string;
  readonly containerId: string | undefined;
  readonly restarts0: number;
  agent: AgentHandle | undefined;
  state: KillState | undefined;
  detail: string;
  signalAt: number | undefined;
  /** the reply to the kill was lost (the stream may have ended with the agent): why */
  replyLost: string | undefined;
  killed: boolean;
  exit: ContainerEnd | undefined;
  restarts: number;
  recoveredAt: number | undefined;
}

function observe(t: Target, pod: PodInfo, now: number): void {
  const c = pod.containers.find((x) => x.name === t.container);
  if (c === undefined) return;
  t.restarts = Math.max(t.restarts, (c.restartCount ?? 0) - t.restarts0);
  const current = bareContainerId(c.containerId);
  if (t.restarts > 0 || c.state === "terminated" || (current !== undefined && t.containerId !== undefined && current !== t.containerId)) t.killed = true;
  if (c.state === "terminated" && c.exitCode !== undefined) t.exit = { exitCode: c.exitCode, reason: c.reason, signal: undefined };
  else if (t.restarts > 0 && c.lastTerminated !== undefined) t.exit = c.lastTerminated;
  if (t.killed && t.signalAt !== undefined && t.recoveredAt === undefined && c.state === "running" && c.ready !== false && pod.ready && !pod.deleting) t.recoveredAt = now;
}

function metricsOf(t: Target): Readonly<Record<string, number | undefined>> {
  return {
    restarts: t.restarts,
    exitCode: t.exit?.exitCode,
    "recovery.time": t.recoveredAt !== undefined && t.signalAt !== undefined ? t.recoveredAt - t.signalAt : undefined,
  };
}

function words(t: Target, windowMs: number): string {
  const what = t.state !== undefined ? t.detail : `container ${t.container}`;
  const parts = [what];
  if (t.replyLost !== undefined) parts.push(`the kill agent's reply was lost (${t.replyLost})`);
  if (t.killed) {
    parts.push(t.exit !== undefined ? `it exited ${t.exit.exitCode}${t.exit.reason !== undefined ? ` (${t.exit.reason})` : ""}` : "it ended");
    parts.push(`restarts ${t.restarts}`);
    parts.push(t.recoveredAt !== undefined && t.signalAt !== undefined ? `Ready again ${formatDuration(t.recoveredAt - t.signalAt)} after the signal` : `not Ready again within the window`);
  } else parts.push(t.signalAt === undefined ? "no signal was sent" : `the container did not exit within ${formatDuration(windowMs)}`);
  return parts.join("; ");
}

/**
 * Kill agents readied in phase 1 whose kill will not come (a pod refused it, or the run was
 * interrupted): each is told the kill is off (a revert of it), and ends now rather than at its
 * TTL. Best effort: an agent that does not answer ends at its TTL.
 */
async function callOff(step: KillStep, agents: readonly AgentHandle[], ctx: EventStepContext): Promise<void> {
  // not the run's signal: an interrupted run still calls its kills off (each call has its timeout)
  const signal = new AbortController().signal;
  await Promise.allSettled(agents.map((a) => callAgent(ctx.cluster, a, revertRequest(ctx.runId, step.fault.apply.fault.id), { signal, timeoutMs: ctx.execTimeoutMs })));
}

/** Adds the kill agent to one pod (noted in `added` once it runs) and asks for a dry run: which process, how — or why not. */
async function prepare(step: KillStep, ref: PodRef, ctx: EventStepContext, added: AgentHandle[]): Promise<Target> {
  const f = step.fault;
  const pod = await ctx.cluster.getPod(ref.namespace, ref.name);
  if (pod === undefined || pod.deleting) throw new CouldNotRunError(`pod ${podKey(ref)} is gone: nothing to kill in it`);
  const container = killContainer(pod, f.fault.container);
  const status = pod.containers.find((c) => c.name === container);
  if (status?.state !== "running") {
    throw new CouldNotRunError(
      `container ${container} of pod ${podKey(ref)} is not running (${status?.state ?? "unknown"}${status?.reason !== undefined ? `: ${status.reason}` : ""}): there is no process to signal (nothing was touched)`,
    );
  }
  const t: Target = {
    pod: ref,
    container,
    containerId: bareContainerId(status.containerId),
    restarts0: status.restartCount ?? 0,
    agent: undefined,
    state: undefined,
    detail: "",
    signalAt: undefined,
    replyLost: undefined,
    killed: false,
    exit: undefined,
    restarts: 0,
    recoveredAt: undefined,
  };
  const name = freeName(pod, f.agentName);
  ctx.emit({ type: "agent:injecting", at: ctx.now(), pod: ref, container: name });
  const started = ctx.now();
  // SIGKILL to an init goes through ptrace (SYS_PTRACE); anything sent with kill(2) needs KILL
  const capabilities = killCapabilities(f.fault.signal, pod.shareProcessNamespace !== true);
  const spec = agentContainer(name, { image: ctx.agentImage, pullPolicy: ctx.pullPolicy, capabilities, ttlMs: f.agentTtlMs, runId: ctx.runId });
  await ctx.cluster.addEphemeralContainer(ref.namespace, ref.name, { ...spec, args: killAgentServeArgs(f.agentTtlMs), targetContainerName: container });
  await ctx.cluster.waitContainerRunning(ref.namespace, ref.name, name, { signal: ctx.signal, timeoutMs: ctx.injectTimeoutMs });
  t.agent = { pod: ref, container: name, reused: false };
  added.push(t.agent);
  ctx.emit({ type: "agent:ready", at: ctx.now(), pod: ref, container: name, reused: false, durationMs: ctx.now() - started });
  const call = await callAgent(ctx.cluster, t.agent, withSpec(f.apply, killSpec(f.fault, container, t.containerId), true), { signal: ctx.signal, timeoutMs: ctx.execTimeoutMs });
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) throw interrupt;
  if (call.kind === "no-reply" && call.foreign) throw foreignAgentError(t.agent, ctx.agentImage, call.problem);
  if (call.kind !== "reply" || !call.reply.ok || call.reply.fault?.kill === undefined) {
    const code = call.kind === "reply" ? call.reply.error?.code : undefined;
    throw new CouldNotRunError(
      `pod ${podKey(ref)}: ${code === "unsupported" ? "refused" : "cannot"} ${f.fault.signal} to container ${container}: ${call.kind === "reply" ? (call.reply.error?.message ?? "no kill in the reply") : callProblem(call)}`,
      {
        hint: code === "unsupported" ? "choose a signal the process can receive (SIGKILL always can)" : `kubectl logs -n ${ref.namespace} ${ref.name} -c ${name}`,
      },
    );
  }
  t.state = call.reply.fault.kill;
  t.detail = call.reply.fault.detail;
  return t;
}

/** Sends the kill through the pod's kill agent: it replies first, then signals. */
async function strike(step: KillStep, t: Target, ctx: EventStepContext): Promise<void> {
  const f = step.fault;
  if (t.agent === undefined) return;
  const started = ctx.now();
  const call = await callAgent(ctx.cluster, t.agent, withSpec(f.apply, killSpec(f.fault, t.container, t.containerId), false), { signal: ctx.signal, timeoutMs: ctx.execTimeoutMs });
  t.signalAt = ctx.now();
  if (call.kind === "reply" && call.reply.ok && call.reply.fault !== undefined) {
    t.state = call.reply.fault.kill ?? t.state;
    t.detail = call.reply.fault.detail;
    ctx.emit({
      type: "fault:applied",
      at: ctx.now(),
      index: step.index,
      faultId: f.id,
      pod: t.pod,
      iface: undefined,
      families: [],
      detail: t.detail,
      commands: call.reply.commands,
      durationMs: ctx.now() - started,
    });
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

export async function runKillStep(step: KillStep, ctx: EventStepContext): Promise<Observation[]> {
  const f = step.fault;
  const refs = ctx.pods().map((p) => ({ namespace: p.namespace, name: p.name }));
  // phase 1, in every pod: the kill agent, and a dry run
  const added: AgentHandle[] = [];
  const prepared = await mapPool(refs, ctx.concurrency, (ref) => prepare(step, ref, ctx, added));
  const interrupt = interruptOf(ctx.signal);
  if (interrupt !== undefined) {
    await callOff(step, added, ctx);
    throw interrupt;
  }
  const refused = prepared.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
  if (refused.length > 0) {
    await callOff(step, added, ctx);
    const first: unknown = refused[0];
    if (refused.length === 1 && first instanceof Error) {
      throw new CouldNotRunError(`step ${step.index + 1} (${step.name}): ${first.message}; no pod was signalled`, { hint: first instanceof CouldNotRunError ? first.hint : undefined, cause: first });
    }
    const lines = refused.map((e) => `  ${e instanceof Error ? e.message : String(e)}`);
    throw new CouldNotRunError(`step ${step.index + 1} (${step.name}): ${refused.length} of ${refs.length} pods cannot take the kill; no pod was signalled:\n${lines.join("\n")}`, {
      hint: "choose a signal every target process can receive (SIGKILL always can), or narrow the target",
    });
  }
  const targets = prepared.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const byPod = new Map(targets.map((t) => [podKey(t.pod), t]));

  // the watch opens before the kill, so no transition is missed
  let window: ReturnType<typeof eventWindow> | undefined;
  const stops: (() => void)[] = [];
  const observations = (): Observation[] => targets.map((t) => ({ pod: t.pod, metrics: metricsOf(t), detail: words(t, step.durationMs) }));
  try {
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
    const struck = await mapPool(targets, ctx.concurrency, (t) => strike(step, t, ctx));
    const failed = struck.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    const from = ctx.now();
    // what happened between the kill and the watch's next event: read once
    for (const t of targets) {
      const pod = await ctx.cluster.getPod(t.pod.namespace, t.pod.name);
      if (pod !== undefined) observe(t, pod, ctx.now());
    }
    window = eventWindow(from + step.durationMs, ctx.now, ctx.signal, () => ctx.untilRecovered && targets.every((t) => t.recoveredAt !== undefined));
    ctx.emit({ type: "fault:watching", at: from, index: step.index, faultId: f.id, summary: f.summary, pods: targets.map((t) => t.pod), untilAt: from + step.durationMs });
    if (step.during.length > 0) await ctx.during(step, ctx.signal, from + step.durationMs);
    await window.wait();
    for (const t of targets) {
      if (t.killed || t.agent === undefined) continue;
      // no exit seen: what became of the kill agent says why
      const pod = await ctx.cluster.getPod(t.pod.namespace, t.pod.name).catch(() => undefined);
      const agent = pod?.ephemeralContainers.find((c) => c.name === t.agent?.container);
      if (agent?.state === "terminated") {
        // its log's last words about the kill: why it failed, where it says so
        const lines = (agent.message ?? "")
          .trim()
          .split("\n")
          .filter((l) => l !== "");
        const why = lines.filter((l) => / failed|refused|cannot /.test(l)).at(-1) ?? lines.at(-1);
        t.detail += `; the kill agent ended with exit ${agent.exitCode ?? "?"}${why !== undefined ? `: ${why}` : ""}`;
      }
    }
  } finally {
    for (const stop of stops) stop();
    for (const o of observations()) {
      if (byPod.get(podKey(o.pod))?.signalAt === undefined) continue;
      ctx.emit({ type: "fault:observed", at: ctx.now(), index: step.index, faultId: f.id, kind: "kill", pod: o.pod, metrics: o.metrics, detail: o.detail });
    }
  }
  return observations().filter((o) => byPod.get(podKey(o.pod))?.signalAt !== undefined);
}
