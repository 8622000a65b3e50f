// What a stress measured in one pod: the stress agent's reading, taken as it stopped its
// stressors, beside what became of the pod's own containers meanwhile (restarts, the OOM killer) —
// the metrics a stress step's `expect:` addresses, and the words the report shows.
import type { StressReading } from "../../faults/protocol.generated.js";
import type { PodInfo } from "../../kube/types.js";
import { formatSize } from "../../scenario/units.js";
import type { PodRef } from "../events.js";
import type { Observation } from "./step-runner.js";

/** Restarts of the pod's own containers between two reads, and how many of them ended OOMKilled. */
export function containerChanges(before: PodInfo | undefined, after: PodInfo | undefined): { restarts: number; oomKilled: number; names: string[] } {
  let restarts = 0;
  let oomKilled = 0;
  const names: string[] = [];
  for (const c of after?.containers ?? []) {
    const b = before?.containers.find((x) => x.name === c.name);
    const n = (c.restartCount ?? 0) - (b?.restartCount ?? 0);
    const oom = (n > 0 && c.lastTerminated?.reason === "OOMKilled") || (c.state === "terminated" && c.reason === "OOMKilled" && b?.state !== "terminated");
    if (n > 0) restarts += n;
    if (oom) {
      oomKilled += 1;
      names.push(c.name);
    }
  }
  return { restarts, oomKilled, names };
}

function cpuWords(milli: number): string {
  return milli % 1000 === 0 ? `${milli / 1000} CPU` : `${milli}m`;
}

export function stressObservation(pod: PodRef, reading: StressReading | undefined, before: PodInfo | undefined, after: PodInfo | undefined, agentName?: string): Observation {
  const changes = containerChanges(before, after);
  const metrics: Record<string, number | undefined> = { restarts: changes.restarts, oomKilled: changes.oomKilled };
  const words: string[] = [];
  const limits = after?.limits ?? before?.limits;
  const app = (before?.containers ?? []).map((c) => c.name).join(", ");
  const agent = agentName === undefined ? undefined : after?.ephemeralContainers.find((c) => c.name === agentName);
  if (reading === undefined && agent?.state === "terminated" && agent.reason === "OOMKilled") {
    // the kernel took the stress agent's whole container (cgroup v2: memory.oom.group), and with it its reading
    metrics["memory.oomKilled"] = 1;
    words.push(
      `the OOM killer took the stress agent's container ${agent.name} (its processes together, as the kubelet has it on cgroup v2), under the pod's limit${limits?.memoryBytes !== undefined ? ` of ${formatSize(limits.memoryBytes)}` : ""}: no reading beyond that, and not the app`,
    );
  } else if (reading === undefined) {
    words.push(
      `no reading from the agent (the stress did not end with a confirmed revert${agent?.state === "terminated" ? `; its container ended: ${agent.reason ?? "exit"} ${agent.exitCode ?? ""}`.trimEnd() : ""})`,
    );
  }
  const el = reading?.elapsedMs ?? 0;
  const cpu = reading?.cpu;
  if (cpu !== undefined) {
    metrics["cpu.load"] = cpu.achievedLoad / 100;
    metrics["cpu.usage"] = cpu.cgroupUsageMs !== undefined && el > 0 ? cpu.cgroupUsageMs / el : undefined;
    metrics["cpu.throttled"] = cpu.throttledMs !== undefined && el > 0 ? cpu.throttledMs / el : undefined;
    metrics["cpu.throttledTime"] = cpu.throttledMs;
    metrics["cpu.wait"] = cpu.waitMs !== undefined && el > 0 ? cpu.waitMs / (el * cpu.workers) : undefined;
    let w = `${cpu.workers} CPU worker${cpu.workers === 1 ? "" : "s"}: asked ${cpu.load}% of a CPU each, achieved ${cpu.achievedLoad.toFixed(1)}% over ${(el / 1000).toFixed(1)}s`;
    const wait = metrics["cpu.wait"];
    if (wait !== undefined && wait >= 0.05) w += `; waited ${(100 * wait).toFixed(0)}% of the time for a CPU`;
    if (cpu.throttledMs !== undefined && el > 0) {
      w += `; the pod's CPU limit${limits?.cpuMilli !== undefined ? ` (${cpuWords(limits.cpuMilli)})` : ""} throttled the agent ${((100 * cpu.throttledMs) / el).toFixed(0)}% of the time`;
    } else if (cpu.throttleSource !== undefined) w += `; throttling ${cpu.throttleSource}`;
    words.push(w);
  }
  const mem = reading?.memory;
  if (mem !== undefined) {
    metrics["memory.allocated"] = mem.allocatedBytes;
    metrics["memory.oomKilled"] = mem.oomKilled ? 1 : 0;
    let w = `memory: ${formatSize(mem.allocatedBytes)} of ${formatSize(mem.bytes)} allocated${limits?.memoryBytes !== undefined ? ` under the pod's limit of ${formatSize(limits.memoryBytes)}` : ""}`;
    if (mem.oomKilled) w += `; the OOM killer took the memory stressor (pid ${mem.pid ?? "?"} in the agent), not the app`;
    else if (mem.ended !== undefined) w += `; the stressor ended: ${mem.ended}`;
    words.push(w);
  }
  if (changes.restarts > 0) words.push(`the pod's containers restarted ${changes.restarts}×${changes.oomKilled > 0 ? `, OOMKilled: ${changes.names.join(", ")}` : ""}`);
  words.push(`the stressors ran in a stress agent of their own, in the pod's cgroup, outside container${app.includes(",") ? "s" : ""} ${app}'s own`);
  return { pod, metrics, detail: words.join("; ") };
}
