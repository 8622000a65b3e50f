// The agent in each target pod: reused when one of the same image still runs, with the
// capabilities this run needs and time left on its TTL (warm start: asked with a `status`
// request), else added as a new ephemeral container named for this run. Ephemeral containers
// can never be removed or restarted, so a name is never reused and a dead agent is never
// mistaken for a live one. The container is explicit in everything — pull policy, user,
// capabilities — and inherits nothing from the pod.
import { agentServeArgs, rootSecurity, statusRequest, type AddedContainerSecurity } from "../faults/index.js";
import type { ApplyRequest } from "../faults/protocol.generated.js";
import { isApiRefusal } from "../kube/api-errors.js";
import type { AgentContainerSpec, Cluster, PodInfo, PullPolicy } from "../kube/types.js";
import { callAgent, callProblem, type AgentHandle } from "./agent-client.js";
import { AgentLine } from "./agent-line.js";
import type { PodRef } from "./events.js";
import { FIRST_REQUEST_ENV } from "./first-fault.js";

export type { AgentHandle } from "./agent-client.js";

export const AGENT_PREFIX = "chaos-agent-";
/** Set to "stdin": the agent also takes requests on its stdin (agent/cli: RequestsEnv). */
const REQUESTS_ENV = "CHAOS_AGENT_REQUESTS";
/** Stress agents (chaos-stress-<runId>-s<N>): one per stress step, holding only its stressors. */
export const STRESS_AGENT_PREFIX = "chaos-stress-";

export interface AgentOptions {
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly capabilities: readonly string[];
  readonly ttlMs: number;
  readonly runId: string;
  /** the agent must have at least this long left to be reused */
  readonly neededMs: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
}

/** A name for this run's agent that the pod does not have yet. */
export function agentName(pod: PodInfo, runId: string): string {
  return freeName(pod, `${AGENT_PREFIX}${runId}`);
}

/** `base`, or `base-2`, `base-3`…: the first name no container of the pod has (ephemeral containers can never be removed, so names are never reused). */
export function freeName(pod: PodInfo, base: string): string {
  const taken = new Set([...pod.containers, ...pod.ephemeralContainers].map((c) => c.name));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/**
 * The container an agent runs in: nothing left to the pod's securityContext or to Kubernetes'
 * defaults. `security` is what it runs as (default: root with only `capabilities` added back,
 * every other capability dropped, no privilege escalation, the runtime's seccomp profile).
 * `firstRequest`: the apply it holds from its start (first-fault.ts). `line`: it is given a stdin
 * and takes requests on it (agent-line.ts; only the pod's agent, the one that holds faults for a
 * whole run, reads it).
 */
export function agentContainer(
  name: string,
  options: Pick<AgentOptions, "image" | "pullPolicy" | "capabilities" | "ttlMs" | "runId"> & {
    readonly security?: AddedContainerSecurity | undefined;
    readonly firstRequest?: ApplyRequest | undefined;
    readonly line?: boolean | undefined;
  },
): AgentContainerSpec {
  const first = options.firstRequest === undefined ? {} : { [FIRST_REQUEST_ENV]: JSON.stringify(options.firstRequest) };
  const line = options.line === true ? { [REQUESTS_ENV]: "stdin" } : {};
  return {
    name,
    image: options.image,
    pullPolicy: options.pullPolicy,
    args: agentServeArgs(options.ttlMs),
    env: { CHAOS_AGENT_NAME: name, CHAOS_RUN_ID: options.runId, ...first, ...line },
    securityContext: options.security ?? rootSecurity(options.capabilities),
    ...(options.line === true ? { stdin: true } : {}),
  };
}

export interface ReuseCheck {
  /** the reusable agent's container, if any */
  readonly container: string | undefined;
  /** why running agents of this image were not reused */
  readonly skipped: readonly string[];
}

async function reusable(cluster: Cluster, pod: PodInfo, options: AgentOptions, signal: AbortSignal): Promise<ReuseCheck> {
  const candidates = pod.ephemeralContainers.filter((c) => c.name.startsWith(AGENT_PREFIX) && c.image === options.image && c.state === "running");
  const skipped: string[] = [];
  for (const c of [...candidates].reverse()) {
    const missing = options.capabilities.filter((cap) => !c.capabilities.includes(cap));
    if (missing.length > 0) {
      skipped.push(`${c.name} lacks ${missing.join(", ")}`);
      continue;
    }
    const call = await callAgent(cluster, { pod: { namespace: pod.namespace, name: pod.name }, container: c.name, reused: true }, statusRequest(options.runId), {
      signal,
      timeoutMs: options.execTimeoutMs,
    });
    if (call.kind === "reply" && call.reply.ok) {
      const left = call.reply.agent.ttlLeftMs;
      if (left >= options.neededMs) return { container: c.name, skipped };
      skipped.push(`${c.name} has ${Math.round(left / 1000)}s of its TTL left, the run needs ${Math.round(options.neededMs / 1000)}s`);
    } else skipped.push(`${c.name} did not answer a status request (${callProblem(call)})`);
  }
  return { container: undefined, skipped };
}

export async function ensureAgent(
  cluster: Cluster,
  pod: PodInfo,
  options: AgentOptions,
  signal: AbortSignal,
  onInjecting: (container: string) => void,
  onSkipped: (why: string) => void = () => undefined,
  /** a fresh agent's first request, if it is to start with one: told the agent before it is added (the ledger is written then) */
  firstRequest: (agent: AgentHandle) => ApplyRequest | undefined = () => undefined,
  /** the API refused to add the fresh agent: it holds nothing (not said where the request got no answer: it may have been added) */
  refused: () => void = () => undefined,
): Promise<AgentHandle> {
  const ref = { namespace: pod.namespace, name: pod.name };
  const reuse = await reusable(cluster, pod, options, signal);
  for (const why of reuse.skipped) onSkipped(why);
  if (reuse.container !== undefined) return { pod: ref, container: reuse.container, reused: true };
  const name = agentName(pod, options.runId);
  onInjecting(name);
  // one handle from here on: the ledger entry of a fault that travels with it renews on its line too
  const fresh: AgentHandle = { pod: ref, container: name, reused: false, line: new AgentLine(cluster, ref, name) };
  const first = firstRequest(fresh);
  await addContainer(cluster, ref, agentContainer(name, { ...options, firstRequest: first, line: true }), refused);
  await cluster.waitContainerRunning(pod.namespace, pod.name, name, { signal, timeoutMs: options.injectTimeoutMs });
  fresh.line?.warm();
  return fresh;
}

/**
 * Adds `spec` to the pod; `refused` is told where the API refused it (nothing was added, so a
 * fault that was to travel with it holds nowhere). No answer, or a 5xx: it may have been added.
 */
export async function addContainer(cluster: Cluster, pod: PodRef, spec: AgentContainerSpec, refused: () => void): Promise<void> {
  await cluster.addEphemeralContainer(pod.namespace, pod.name, spec).catch((err: unknown) => {
    if (isApiRefusal(err)) refused();
    throw err;
  });
}

export interface FreshAgentOptions {
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly capabilities: readonly string[];
  readonly ttlMs: number;
  readonly runId: string;
  readonly injectTimeoutMs: number;
  readonly signal: AbortSignal;
  /** told the fresh agent's name before it is added */
  readonly onInjecting?: ((container: string) => void) | undefined;
  /** it is given a stdin, and the handle a line to it (an agent that will hold faults: not one added for one sweep) */
  readonly line?: boolean | undefined;
}

/**
 * Adds a fresh agent to a pod whose agent died and waits for it to run (sweep's mechanism, and
 * the runner's when an agent of its own dies): what the dead agent applied lives on in the pod's
 * network namespace, and only an agent there can revert it — `sweep {own: false}` then reverts
 * the orphans of agents that are gone. Throws what kept it from running.
 */
export async function addFreshAgent(cluster: Cluster, pod: PodInfo, options: FreshAgentOptions): Promise<AgentHandle> {
  const name = agentName(pod, options.runId);
  options.onInjecting?.(name);
  await cluster.addEphemeralContainer(pod.namespace, pod.name, agentContainer(name, options));
  await cluster.waitContainerRunning(pod.namespace, pod.name, name, { signal: options.signal, timeoutMs: options.injectTimeoutMs });
  const ref = { namespace: pod.namespace, name: pod.name };
  const line = options.line === true ? new AgentLine(cluster, ref, name) : undefined;
  line?.warm();
  return { pod: ref, container: name, reused: false, ...(line === undefined ? {} : { line }) };
}
