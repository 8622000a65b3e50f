// The plain view: one timestamped line per engine event, no colour, no cursor movement. Used
// without a TTY, under CI=true, with NO_COLOR or --output plain. It only observes.
import type { EngineEvent } from "../engine/events.js";
import { formatDuration } from "../expect/format.js";

export interface Line {
  write(text: string): void;
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)}ms` : `${(n / 1000).toFixed(1)}s`;
}

/** The text of an event, or undefined for events this view does not show. */
export function describeEvent(e: EngineEvent): string | undefined {
  switch (e.type) {
    case "run:start": {
      const pods = e.plan.target.pods.map((p) => p.name).join(", ");
      return `run ${e.runId}: ${e.plan.scenario.name} on ${pods || "no pods"} (namespace ${e.plan.namespace ?? "?"}, context ${e.cluster.context})`;
    }
    case "preflight":
      return `preflight ${e.check}: ${e.ok ? "ok" : "FAILED"} (${e.detail})`;
    case "agent:injecting":
      return `agent ${e.container}: adding to pod ${e.pod.namespace}/${e.pod.name}`;
    case "agent:ready":
      return `agent ${e.container}: ${e.reused ? "reused (already running)" : "running"} in pod ${e.pod.namespace}/${e.pod.name} (${ms(e.durationMs)})`;
    case "step:start":
      return `step ${e.index + 1} ${e.name}: ${e.kind}${e.durationMs !== undefined ? ` for ${formatDuration(e.durationMs)}` : ""}`;
    case "fault:applied":
      return `fault ${e.faultId}: in effect in pod ${e.pod.namespace}/${e.pod.name}: ${e.detail} (${ms(e.durationMs)})`;
    case "fault:held":
      return `fault ${e.faultId}: left to the agent in pod ${e.pod.namespace}/${e.pod.name}, which reverts it at ${new Date(e.untilMs).toISOString().slice(11, 19)}`;
    case "fault:reverted":
      return `fault ${e.faultId}: ${e.confirmed ? "reverted" : "REVERT NOT CONFIRMED"} in pod ${e.pod.namespace}/${e.pod.name}${e.detail !== "" ? ` (${e.detail})` : ""}`;
    case "step:end":
      return e.ok ? undefined : `step ${e.index + 1}: ${e.detail ?? "failed"}`;
    case "warning":
      return `warning: ${e.message}`;
    case "interrupt":
      return `${e.signal}: reverting`;
    case "run:end":
      return `run ${e.status} (exit ${e.exitCode})`;
  }
}

export function plainView(out: Line): (e: EngineEvent) => void {
  return (e) => {
    const text = describeEvent(e);
    if (text !== undefined) out.write(`${clock(e.at)} ${text}\n`);
  };
}
