// Sweep: the third revert guarantee. Every running chaos agent is asked to revert what it holds
// and the orphans it sees (`sweep {own: true}`). A pod whose agent died abnormally (killed, OOM:
// exit code ≠ 0) and that has no live agent still holds whatever that agent had applied — the
// faults live in the pod's network namespace, not in the container — so a fresh agent is added
// (short TTL) and asked to revert the orphans only (`sweep {own: false}`). The chaos-tools pods of
// runs that are gone are removed (sweepToolsPods). A dry run only lists.
import { NETWORK_CAPABILITIES, statusRequest, sweepRequest } from "../faults/index.js";
import type { FaultState, Reply, RevertOutcome } from "../faults/protocol.generated.js";
import type { Cluster, ContainerInfo, PodInfo, PullPolicy } from "../kube/types.js";
import { orphanSummary } from "./orphans.js";
import { callAgent, replyProblem, type AgentCall, type AgentHandle } from "./agent-client.js";
import { AGENT_PREFIX, STRESS_AGENT_PREFIX, addFreshAgent } from "./agents.js";
import { mapPool } from "./pool.js";
import { RUN_LABEL, TOOLS_SELECTOR, toolsPodFate } from "./tools-pod.js";

export interface SweepOptions {
  /** this sweep's own run id (names a fresh agent, goes into every request) */
  readonly runId: string;
  /** the image of a fresh agent; default: the image of the agent that died */
  readonly agentImage: string | undefined;
  readonly pullPolicy: PullPolicy;
  /** a fresh agent's TTL: it only has to sweep */
  readonly ttlMs: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
  readonly concurrency: number;
  readonly dryRun: boolean;
  readonly signal: AbortSignal;
}

export interface SweepReport {
  /** agents asked (or, dry, that would be) */
  readonly agents: number;
  /** reverts not confirmed, agents that did not answer: a fault may remain */
  readonly failed: number;
}

function faultText(f: FaultState): string {
  return `${f.id} (${f.kind} on ${f.interface}, IPv${f.families.join("+IPv") || "?"}, lease ${Math.round(f.leaseLeftMs / 1000)}s left: ${f.detail})`;
}

function outcomeText(o: RevertOutcome): string {
  const who = o.agent !== undefined ? ` of ${o.agent}` : "";
  const left = o.remaining !== undefined && o.remaining.length > 0 ? `; remaining: ${o.remaining.map((r) => `${r.type} ${r.name}`).join(", ")}` : "";
  return `${o.faultId}${who}${o.confirmed ? "" : ` NOT CONFIRMED: ${o.detail}${left}`}`;
}

function died(c: ContainerInfo): boolean {
  return c.state === "terminated" && c.exitCode !== undefined && c.exitCode !== 0;
}

function deathText(c: ContainerInfo): string {
  return `${c.name} (${c.reason ?? "terminated"}, exit ${c.exitCode ?? "?"})`;
}

/** What one sweep reply did, in words, and whether everything it touched is confirmed gone. */
function sweptText(reply: Reply): { text: string; ok: boolean } {
  const own = reply.reverted ?? [];
  const orphans = reply.orphans ?? [];
  const ok = reply.ok && [...own, ...orphans].every((o) => o.confirmed);
  const parts: string[] = [];
  const verb = (list: readonly RevertOutcome[]): string => (list.every((o) => o.confirmed) ? "reverted" : "tried to revert");
  if (own.length > 0) parts.push(`${verb(own)} ${own.length} fault${own.length > 1 ? "s" : ""}: ${own.map(outcomeText).join(", ")}`);
  if (orphans.length > 0) parts.push(`${verb(orphans)} what dead agents left (${orphans.length} object${orphans.length > 1 ? "s" : ""}): ${orphanSummary(orphans)}`);
  if (!reply.ok) parts.push(`REVERT NOT CONFIRMED: ${replyProblem(reply)}`);
  return { text: parts.length === 0 ? "held nothing, saw no orphans" : parts.join("; "), ok };
}

async function ask(cluster: Cluster, agent: AgentHandle, o: SweepOptions, own: boolean): Promise<AgentCall> {
  const request = o.dryRun ? statusRequest(o.runId) : sweepRequest(o.runId, own);
  return callAgent(cluster, agent, request, { signal: o.signal, timeoutMs: o.execTimeoutMs });
}

/** How many agents a sweep asked, and how many of them failed. */
interface Tally {
  agents: number;
  failed: number;
}

/** Sweeps the given pods; writes one line per agent (or per dead agent's pod) to `say`. */
export async function sweepPods(cluster: Cluster, pods: readonly PodInfo[], o: SweepOptions, say: (line: string) => void): Promise<SweepReport> {
  const t: Tally = { agents: 0, failed: 0 };
  await mapPool(pods, o.concurrency, async (pod) => {
    const mine = pod.ephemeralContainers.filter((c) => c.name.startsWith(AGENT_PREFIX));
    const running = await sweepRunning(cluster, pod, mine, o, say, t);
    const dead = mine.filter(died);
    if (running === 0 && dead.length > 0) await sweepDead(cluster, pod, dead, o, say, t);
  });
  return { agents: t.agents, failed: t.failed };
}

/** Asks each running agent of the pod, stress agents first, to sweep (or, dry, what it holds); returns how many agents run. */
async function sweepRunning(cluster: Cluster, pod: PodInfo, mine: readonly ContainerInfo[], o: SweepOptions, say: (line: string) => void, t: Tally): Promise<number> {
  const ref = { namespace: pod.namespace, name: pod.name };
  // a stress agent still running holds its stressors (stress --detach): it stops them too; one
  // that is gone took them with it, and left nothing in the pod's network namespace
  const stressing = pod.ephemeralContainers.filter((c) => c.name.startsWith(STRESS_AGENT_PREFIX) && c.state === "running");
  const running = mine.filter((c) => c.state === "running");
  for (const c of stressing) {
    t.agents++;
    const call = await ask(cluster, { pod: ref, container: c.name, reused: true }, o, true);
    const where = `${pod.namespace}/${pod.name} ${c.name}`;
    if (call.kind === "no-reply") {
      t.failed++;
      say(`${where}: NO ANSWER: ${call.problem}`);
      continue;
    }
    const done = o.dryRun ? { text: `holds ${(call.reply.faults ?? []).map(faultText).join("; ") || "nothing"}`, ok: true } : sweptText(call.reply);
    if (!done.ok) t.failed++;
    say(`${where}: ${done.text}`);
  }
  for (const c of running) {
    t.agents++;
    const where = `${pod.namespace}/${pod.name} ${c.name}`;
    const call = await ask(cluster, { pod: ref, container: c.name, reused: true }, o, true);
    if (call.kind === "no-reply") {
      t.failed++;
      say(`${where}: NO ANSWER: ${call.problem}${call.foreign ? " (an agent of another chaos-run version?)" : ""}`);
      continue;
    }
    if (o.dryRun) {
      const faults = call.reply.faults ?? [];
      const orphans = call.reply.orphans ?? [];
      say(
        `${where}: ${faults.length === 0 ? "holds nothing" : `holds ${faults.map(faultText).join("; ")}`}${orphans.length > 0 ? `; sees orphans of dead agents: ${orphans.map((x) => x.faultId).join(", ")}` : ""}`,
      );
      continue;
    }
    const done = sweptText(call.reply);
    if (!done.ok) t.failed++;
    say(`${where}: ${done.text}`);
  }
  return running.length;
}

/** A pod whose agents all died and none runs: their faults outlive them in its network namespace, and a fresh agent reverts them. */
async function sweepDead(cluster: Cluster, pod: PodInfo, dead: readonly ContainerInfo[], o: SweepOptions, say: (line: string) => void, t: Tally): Promise<void> {
  t.agents++;
  const deaths = dead.map(deathText).join(", ");
  const last = dead.at(-1);
  const image = o.agentImage ?? last?.image ?? "";
  const capabilities = [...new Set(dead.flatMap((c) => c.capabilities))];
  if (o.dryRun) {
    say(`${pod.namespace}/${pod.name}: its agent${dead.length > 1 ? "s" : ""} ${deaths} died and none runs: would add a fresh agent (${image}) to revert what ${dead.length > 1 ? "they" : "it"} left`);
    return;
  }
  let fresh: AgentHandle;
  try {
    const caps = capabilities.length > 0 ? capabilities : NETWORK_CAPABILITIES;
    fresh = await addFreshAgent(cluster, pod, { image, pullPolicy: o.pullPolicy, capabilities: caps, ttlMs: o.ttlMs, runId: o.runId, injectTimeoutMs: o.injectTimeoutMs, signal: o.signal });
  } catch (e) {
    t.failed++;
    say(
      `${pod.namespace}/${pod.name}: its agent${dead.length > 1 ? "s" : ""} ${deaths} died and none runs; COULD NOT add a fresh agent to revert what ${dead.length > 1 ? "they" : "it"} left: ${e instanceof Error ? e.message : String(e)}`,
    );
    return;
  }
  const name = fresh.container;
  const call = await ask(cluster, fresh, o, false);
  if (call.kind === "no-reply") {
    t.failed++;
    say(
      `${pod.namespace}/${pod.name}: its agent${dead.length > 1 ? "s" : ""} ${deaths} died; added ${name} to revert what ${dead.length > 1 ? "they" : "it"} left, but it gave NO ANSWER: ${call.problem}`,
    );
    return;
  }
  const done = sweptText(call.reply);
  if (!done.ok) t.failed++;
  say(`${pod.namespace}/${pod.name}: its agent${dead.length > 1 ? "s" : ""} ${deaths} died; added ${name} to revert what ${dead.length > 1 ? "they" : "it"} left: ${done.text}`);
}

export interface ToolsSweep {
  /** tools pods removed (dry: that would be) */
  readonly removed: number;
  /** tools pods left to runs that may still be going */
  readonly kept: number;
  /** tools pods that could not be removed */
  readonly failed: number;
}

/**
 * Removes the chaos-tools pods of runs that are gone (tools-pod.ts says how that is known: the pod
 * ended, or its time ran out, or an older chaos-run made it to live for ever); one of a run that
 * may still be going is left, and said so with when it ends by itself.
 */
export async function sweepToolsPods(cluster: Cluster, namespace: string | undefined, o: Pick<SweepOptions, "dryRun">, now: number, say: (line: string) => void): Promise<ToolsSweep> {
  let removed = 0;
  let kept = 0;
  let failed = 0;
  for (const pod of await cluster.listPods(namespace, TOOLS_SELECTOR)) {
    const where = `${pod.namespace}/${pod.name} (tools pod of run ${pod.labels[RUN_LABEL] ?? "?"})`;
    const fate = toolsPodFate(pod, now);
    if (!fate.gone) {
      kept++;
      say(`${where}: its run may still be going; left (it ends by itself at ${new Date(fate.until).toISOString()}; kubectl delete pod -n ${pod.namespace} ${pod.name} removes it now)`);
      continue;
    }
    if (o.dryRun) {
      removed++;
      say(`${where}: ${fate.why}: would remove it`);
      continue;
    }
    try {
      await cluster.deletePod(pod.namespace, pod.name);
      removed++;
      say(`${where}: ${fate.why}: removed`);
    } catch (e) {
      failed++;
      say(`${where}: ${fate.why}: COULD NOT remove it: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { removed, kept, failed };
}
