// chaos-run disconnect -p POD -r S [--url URL]: pod-chaos's first use case — take a pod (a
// database replica) off the network for a while and reconnect it. A partition of all its
// traffic, both directions, held in the foreground like disrupt (Ctrl-C reconnects at once,
// exit 130; --detach leaves it to the agent's lease). With --url, reconnection is proven by a
// probe: the URL answers before, does not during, and answers again after.
import { UsageError } from "../errors.js";
import { checkUrlTemplate } from "../scenario/template.js";
import { DEFAULT_TOOLS_IMAGE } from "../scenario/types.js";
import type { Probe, ProbeRun } from "../scenario/types.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, DETACH_FLAG, DURATION_FLAG, DURATION_HELP, HELP_HELP, POD_FLAG, POD_HELP, targetSelection } from "./common-flags.js";
import { text } from "./flags.js";
import { faultStep, heldFaultScenario, seconds, shortcutExpectation, sweepCommand } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb } from "./verb.js";

/** Requests of the reconnection probe; it stops at the first that times out. */
const PROBE_REQUESTS = 5;

const HELP = `Usage: chaos-run disconnect -p POD -r DURATION_S [--url URL] [options]

Takes each pod off the network for DURATION_S seconds — every packet in and out of its
interface dropped (a partition, an nftables table of its own) — and reconnects it: at the
end, at once on Ctrl-C (exit 130) or SIGTERM (143), or by the agent when its lease lapses.
With --detach, returns once the pod is disconnected and leaves the reconnection to the agent.

With --url, reconnection is proven rather than assumed: from a chaos-tools pod, ab requests
the URL (${PROBE_REQUESTS} requests, 2 s each) before — it must answer, or nothing is done —,
during — it must not —, and after — it must answer again. The URL may use {{ target.ip }}
(e.g. http://{{ target.ip }}:8080/health). Without it, the agent's confirmation that no rule
of the partition remains is all there is.

Options:
${POD_HELP}
${DURATION_HELP}
  --url URL              prove the reconnection with ab against this URL (http or https)
  --detach               return once disconnected; the agent reconnects after DURATION_S
${AGENT_HELP}
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 disconnected and reconnected (and, with --url, proven), 1 the URL did not
answer before, answered during, or did not answer after, 2 usage, 3 could not run, 4 the
reconnection could not be confirmed, 130/143 interrupted (after reconnecting).
`;

const FLAGS = { ...POD_FLAG, ...DURATION_FLAG, url: text(), ...DETACH_FLAG, ...AGENT_FLAGS };

/** With --url: the probe that proves the reconnection, before (steady state) and during the fault. */
function reconnectionProbe(url: string): { probes: Record<string, Probe>; steadyState: ProbeRun[]; during: ProbeRun[] } {
  const reach: Probe = { kind: "ab", name: "reach", ab: { url, requests: PROBE_REQUESTS, concurrency: 1, keepAlive: true, timeoutMs: 2000 }, tools: { image: DEFAULT_TOOLS_IMAGE } };
  return {
    probes: { reach },
    // answers before the fault (or nothing is done) and after it: the reconnection, proven
    steadyState: [{ probe: "reach", save: undefined, expect: [shortcutExpectation("/steadyState/0", "failedRequests", 0)] }],
    during: [{ probe: "reach", save: undefined, expect: [shortcutExpectation("/steps/0", "failedRequests", PROBE_REQUESTS)] }],
  };
}

function doneLine(durationMs: number, detach: boolean, url: string | undefined, sweep: string): string {
  if (detach) return `disconnected; the agent reconnects it in ${seconds(durationMs)} by itself. To reconnect now: ${sweep}\n`;
  if (url !== undefined) return `disconnected for ${seconds(durationMs)} and reconnected: ${url} answered before, not during, and again after.\n`;
  return `disconnected for ${seconds(durationMs)} and reconnected (the agent confirmed no rule of the partition remains; --url proves it with traffic).\n`;
}

export const run = defineVerb({ name: "disconnect", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run disconnect -p POD -r 30" }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "disconnect");
  const { duration: durationMs, detach, url } = values;
  if (url !== undefined) {
    const problem = checkUrlTemplate(url);
    if (problem !== undefined) throw new UsageError(`--url ${JSON.stringify(url)}: ${problem}`, { hint: "e.g. --url 'http://{{ target.ip }}:8080/health'" });
    if (detach) throw new UsageError("--url proves the reconnection after the fault, which --detach does not wait for", { hint: "drop one of them" });
  }
  const proof = url === undefined ? { probes: {}, steadyState: [], during: [] } : reconnectionProbe(url);
  const step = faultStep("disconnect", { kind: "partition", scope: undefined, interface: undefined }, durationMs, { during: proof.during });
  const namespace = ctx.globals.namespace;
  return runShortcut(ctx, () => ({
    scenario: heldFaultScenario({ name: "disconnect", selection, namespace, pullPolicy: values["pull-policy"], step, durationMs, detach, probes: proof.probes, steadyState: proof.steadyState }),
    agentImage: values["agent-image"],
    detach,
    done: doneLine(durationMs, detach, url, sweepCommand(namespace)),
  }));
});
