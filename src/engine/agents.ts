// The agent in each target pod: reused when one of the same image still runs with time left on
// its TTL (warm start), else added as a new ephemeral container named for this run. Ephemeral
// containers can never be removed or restarted, so a name is never reused and a dead agent is
// never mistaken for a live one.
import { agentServeArgs } from "../faults/index.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import type { PodRef } from "./events.js";

export const AGENT_PREFIX = "chaos-agent-";
export const AGENT_CAPABILITIES = ["NET_ADMIN", "NET_RAW"] as const;

export interface AgentHandle {
  readonly pod: PodRef;
  readonly container: string;
  readonly reused: boolean;
}

export interface AgentOptions {
  readonly image: string;
  readonly ttlMs: number;
  readonly runId: string;
  /** the agent must have at least this long left to be reused */
  readonly neededMs: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
}

/** `ttl_left=NNN` from `chaos-agent status`, in ms. */
export function ttlLeftMs(statusOutput: string): number | undefined {
  const m = /^ttl_left=(\d+)$/m.exec(statusOutput);
  return m?.[1] === undefined ? undefined : Number(m[1]) * 1000;
}

/** A name for this run's agent that the pod does not have yet. */
export function agentName(pod: PodInfo, runId: string): string {
  const taken = new Set([...pod.containers, ...pod.ephemeralContainers].map((c) => c.name));
  const base = `${AGENT_PREFIX}${runId}`;
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

async function reusable(cluster: Cluster, pod: PodInfo, options: AgentOptions, signal: AbortSignal): Promise<string | undefined> {
  const candidates = pod.ephemeralContainers.filter((c) => c.name.startsWith(AGENT_PREFIX) && c.image === options.image && c.state === "running");
  for (const c of candidates.reverse()) {
    const r = await cluster.exec(pod.namespace, pod.name, c.name, ["chaos-agent", "status"], { signal, timeoutMs: options.execTimeoutMs });
    const left = r.exitCode === 0 ? ttlLeftMs(r.stdout) : undefined;
    if (left !== undefined && left >= options.neededMs) return c.name;
  }
  return undefined;
}

export async function ensureAgent(cluster: Cluster, pod: PodInfo, options: AgentOptions, signal: AbortSignal, onInjecting: (container: string) => void): Promise<AgentHandle> {
  const ref = { namespace: pod.namespace, name: pod.name };
  const existing = await reusable(cluster, pod, options, signal);
  if (existing !== undefined) return { pod: ref, container: existing, reused: true };
  const name = agentName(pod, options.runId);
  onInjecting(name);
  await cluster.addEphemeralContainer(pod.namespace, pod.name, {
    name,
    image: options.image,
    args: agentServeArgs(options.ttlMs),
    runId: options.runId,
    capabilities: AGENT_CAPABILITIES,
  });
  await cluster.waitContainerRunning(pod.namespace, pod.name, name, { signal, timeoutMs: options.injectTimeoutMs });
  return { pod: ref, container: name, reused: false };
}
