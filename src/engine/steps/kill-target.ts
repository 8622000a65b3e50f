// One pod's kill: the container it aims at, as that container was before the signal, and what
// the watch saw of it afterwards — its exit, its restarts, the pod Ready again — turned into the
// kill's metrics (restarts, exitCode, recovery.time) and its words.
import { CouldNotRunError } from "../../errors.js";
import { formatDuration } from "../../expect/format.js";
import type { KillState } from "../../faults/protocol.generated.js";
import type { ContainerEnd, PodInfo } from "../../kube/types.js";
import type { AgentHandle } from "../agent-client.js";
import { podKey, type PodRef } from "../events.js";

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

export interface Target {
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

export function observe(t: Target, pod: PodInfo, now: number): void {
  const c = pod.containers.find((x) => x.name === t.container);
  if (c === undefined) return;
  t.restarts = Math.max(t.restarts, (c.restartCount ?? 0) - t.restarts0);
  const current = bareContainerId(c.containerId);
  if (t.restarts > 0 || c.state === "terminated" || (current !== undefined && t.containerId !== undefined && current !== t.containerId)) t.killed = true;
  if (c.state === "terminated" && c.exitCode !== undefined) t.exit = { exitCode: c.exitCode, reason: c.reason, signal: undefined };
  else if (t.restarts > 0 && c.lastTerminated !== undefined) t.exit = c.lastTerminated;
  if (t.killed && t.signalAt !== undefined && t.recoveredAt === undefined && c.state === "running" && c.ready !== false && pod.ready && !pod.deleting) t.recoveredAt = now;
}

export function metricsOf(t: Target): Readonly<Record<string, number | undefined>> {
  return {
    restarts: t.restarts,
    exitCode: t.exit?.exitCode,
    "recovery.time": t.recoveredAt !== undefined && t.signalAt !== undefined ? t.recoveredAt - t.signalAt : undefined,
  };
}

export function words(t: Target, windowMs: number): string {
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

/** The kill's target in a pod: its container, running now (else there is no process to signal), as it is before the kill. */
export function targetIn(pod: PodInfo, ref: PodRef, container: string): Target {
  const status = pod.containers.find((c) => c.name === container);
  if (status?.state !== "running") {
    throw new CouldNotRunError(
      `container ${container} of pod ${podKey(ref)} is not running (${status?.state ?? "unknown"}${status?.reason !== undefined ? `: ${status.reason}` : ""}): there is no process to signal (nothing was touched)`,
    );
  }
  return {
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
}
