// An engine event in words: one line each, as the plain view prints it and the journal's
// timeline keeps it. Unsanitised: what a pod said is in it, and each view makes it safe for where
// it goes (report/sanitise.ts).
import type { EngineEvent } from "../engine/events.js";
import { formatDuration } from "../expect/format.js";
import type { ProbeOutcome } from "../probes/run.js";

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)}ms` : `${(n / 1000).toFixed(1)}s`;
}

function probeSummary(o: ProbeOutcome): string {
  const m = o.metrics;
  if (o.error !== undefined) return `could not measure: ${o.error}`;
  if (o.kind === "http") {
    const parts = [`${m["requests"] ?? 0} requests`, `${m["errors"] ?? 0} errors`];
    for (const k of ["latency.p50", "latency.p95"]) {
      const v = m[k];
      if (v !== undefined) parts.push(`${k.slice("latency.".length)} ${formatDuration(v)}`);
    }
    if (o.detail !== undefined) parts.push(o.detail);
    return parts.join(", ");
  }
  if (o.kind !== "ab")
    return (
      o.detail ??
      Object.entries(m)
        .map(([k, v]) => `${k} ${v ?? "-"}`)
        .join(", ")
    );
  const parts = [`${m["completeRequests"] ?? 0} requests`, `${m["failedRequests"] ?? 0} failed`];
  if ((m["non2xxResponses"] ?? 0) > 0) parts.push(`${m["non2xxResponses"] ?? 0} non-2xx`);
  for (const k of ["latency.p50", "latency.p95", "latency.mean"]) {
    const v = m[k];
    if (v !== undefined) parts.push(`${k.slice("latency.".length)} ${formatDuration(v)}`);
  }
  parts.push(o.keepAlive ? "keep-alive" : "new connection per request");
  if (o.stoppedEarly !== undefined) parts.push(`ab stopped: ${o.stoppedEarly}`);
  return parts.join(", ");
}

function metricsText(m: Readonly<Record<string, number | undefined>>): string {
  const parts = Object.entries(m)
    .filter((kv): kv is [string, number] => kv[1] !== undefined)
    .map(([k, v]) => `${k} ${k.endsWith(".time") || k.endsWith("Time") ? formatDuration(v) : Math.round(v * 1000) / 1000}`);
  return parts.length === 0 ? "" : ` [${parts.join(", ")}]`;
}

/** The text of an event, or undefined for events this view does not show. */
export function describeEvent(e: EngineEvent): string | undefined {
  switch (e.type) {
    case "run:start": {
      const pods = e.plan.target.pods.map((p) => p.name).join(", ");
      // a Service or workload target: how it was resolved (its selector, its ports mapped), one line each
      const resolved = (e.plan.target.resolution ?? []).map((line) => `\n  ${line}`).join("");
      return `run ${e.runId}: ${e.plan.scenario.name} on ${pods || "no pods"} (namespace ${e.plan.namespace ?? "?"}, context ${e.cluster.context})${resolved}`;
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
      return `fault ${e.faultId}: in effect in pod ${e.pod.namespace}/${e.pod.name}: ${e.detail} (${e.commands.length} command${e.commands.length === 1 ? "" : "s"}, ${ms(e.durationMs)})`;
    case "fault:holding":
      return `fault ${e.faultId}: held in ${e.pods.length} pod${e.pods.length === 1 ? "" : "s"} until ${new Date(e.untilAt).toISOString().slice(11, 19)}`;
    case "fault:lost":
      return `fault ${e.faultId}: LOST in pod ${e.pod.namespace}/${e.pod.name}: ${e.reason}`;
    case "fault:revert-retry":
      return `fault ${e.faultId}: revert attempt ${e.attempt} in pod ${e.pod.namespace}/${e.pod.name} not confirmed (${e.detail}); again in ${ms(e.retryInMs)}`;
    case "fault:watching":
      return `fault ${e.faultId}: done in ${e.pods.length} pod${e.pods.length === 1 ? "" : "s"}; recovery watched until ${new Date(e.untilAt).toISOString().slice(11, 19)}`;
    case "fault:observed":
      return `fault ${e.faultId} in pod ${e.pod.namespace}/${e.pod.name}: ${e.detail}${metricsText(e.metrics)}`;
    case "fault:held":
      return `fault ${e.faultId}: left to the agent in pod ${e.pod.namespace}/${e.pod.name}, which reverts it at ${new Date(e.untilMs).toISOString().slice(11, 19)}`;
    case "fault:reverted":
      return `fault ${e.faultId}: ${e.confirmed ? "reverted" : "REVERT NOT CONFIRMED"} in pod ${e.pod.namespace}/${e.pod.name}${e.detail !== "" ? ` (${e.detail})` : ""}${e.attempts > 1 ? ` after ${e.attempts} attempts` : ""}`;
    case "step:end":
      return e.ok ? undefined : `step ${e.index + 1}: ${e.detail ?? "failed"}`;
    case "tools:ready":
      return `tools pod ${e.pod.namespace}/${e.pod.name}: ${e.created ? "created" : "reused"} (${e.image}, ${ms(e.durationMs)})`;
    case "probe:start":
      return e.where.phase === "before" || e.where.phase === "after" || e.where.phase === "monitor" ? `${e.where.stepName}: probe ${e.probe}` : undefined;
    case "probe:result":
      return `probe ${e.outcome.probe}${e.series !== undefined ? ` #${e.series.index + 1}` : ""}${e.outcome.aggregate ? " (all pods)" : e.outcome.pod !== undefined ? ` → ${e.outcome.pod}` : ""}: ${probeSummary(e.outcome)}${e.save !== undefined ? `, saved as ${e.save}` : ""}`;
    case "expect:result":
      return `  ${e.outcome.verdict === "pass" ? "ok  " : e.outcome.verdict === "fail" ? "FAIL" : "ERR "} ${e.outcome.description}${e.pod !== undefined ? ` (${e.pod})` : ""}${e.outcome.reason !== undefined ? `: ${e.outcome.reason}` : ""}`;
    case "warning":
      return `warning: ${e.message}`;
    case "interrupt":
      return `${e.signal}: reverting`;
    case "run:end":
      return `run ${e.status} (exit ${e.exitCode})`;
  }
}
