// chaos-run disconnect -p POD -r S [--url URL]: the seed's first use case — take a pod (a
// database replica) off the network for a while and reconnect it. A partition of all its
// traffic, both directions, held in the foreground like disrupt (Ctrl-C reconnects at once,
// exit 130; --detach leaves it to the agent's lease). With --url, reconnection is proven by a
// probe: the URL answers before, does not during, and answers again after.
import { UsageError } from "../errors.js";
import { checkUrlTemplate } from "../scenario/template.js";
import { DEFAULT_TOOLS_IMAGE } from "../scenario/types.js";
import type { Probe, ProbeRun } from "../scenario/types.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, PULL_POLICY_HELP, PULL_POLICY_OPTION, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { runHeldFault } from "./held-fault.js";
import { faultStep, podNames, secondsFlag, seedExpectation } from "./seed-verbs.js";

/** Requests of the reconnection probe; it stops at the first that times out. */
const PROBE_REQUESTS = 5;

export const HELP = `Usage: chaos-run disconnect -p POD -r DURATION_S [--url URL] [options]

Takes each pod off the network for DURATION_S seconds — every packet in and out of its
interface dropped (a partition, iptables in a chain of its own) — and reconnects it: at the
end, at once on Ctrl-C (exit 130) or SIGTERM (143), or by the agent when its lease lapses.
With --detach, returns once the pod is disconnected and leaves the reconnection to the agent.

With --url, reconnection is proven rather than assumed: from a chaos-tools pod, ab requests
the URL (${PROBE_REQUESTS} requests, 2 s each) before — it must answer, or nothing is done —,
during — it must not —, and after — it must answer again. The URL may use {{ target.ip }}
(e.g. http://{{ target.ip }}:8080/health). Without it, the agent's confirmation that no rule
of the partition remains is all there is.

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  -r, --duration S       how long, in seconds
  --url URL              prove the reconnection with ab against this URL (http or https)
  --detach               return once disconnected; the agent reconnects after DURATION_S
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 disconnected and reconnected (and, with --url, proven), 1 the URL did not
answer before, answered during, or did not answer after, 2 usage, 3 could not run, 4 the
reconnection could not be confirmed, 130/143 interrupted (after reconnecting).
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("disconnect", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    duration: { type: "string", short: "r" },
    url: { type: "string" },
    detach: { type: "boolean" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`disconnect takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run disconnect -p POD -r 30" });
  const pods = podNames(values.pod, "disconnect");
  const durationS = secondsFlag("-r/--duration", values.duration);
  if (durationS === undefined) throw new UsageError("disconnect needs a duration: -r SECONDS", { hint: "chaos-run disconnect -p POD -r 30" });
  const detach = values.detach === true;
  const url = values.url;
  if (url !== undefined) {
    const problem = checkUrlTemplate(url);
    if (problem !== undefined) throw new UsageError(`--url ${JSON.stringify(url)}: ${problem}`, { hint: "e.g. --url 'http://{{ target.ip }}:8080/health'" });
    if (detach) throw new UsageError("--url proves the reconnection after the fault, which --detach does not wait for", { hint: "drop one of them" });
  }
  const durationMs = durationS * 1000;
  const probes: Record<string, Probe> = {};
  let steadyState: ProbeRun[] = [];
  let during: ProbeRun[] = [];
  if (url !== undefined) {
    probes["reach"] = { kind: "ab", name: "reach", ab: { url, requests: PROBE_REQUESTS, concurrency: 1, keepAlive: true, timeoutMs: 2000 }, tools: { image: DEFAULT_TOOLS_IMAGE } };
    // answers before the fault (or nothing is done) and after it: the reconnection, proven
    steadyState = [{ probe: "reach", save: undefined, expect: [seedExpectation("/steadyState/0", "failedRequests", 0)] }];
    during = [{ probe: "reach", save: undefined, expect: [seedExpectation("/steps/0", "failedRequests", PROBE_REQUESTS)] }];
  }
  return runHeldFault(ctx, {
    verb: "disconnect",
    pods,
    step: faultStep("disconnect", { kind: "partition", scope: undefined, interface: undefined }, durationMs, { during }),
    durationMs,
    detach,
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    agentImage: values["agent-image"],
    probes,
    steadyState,
    done: (sweep) =>
      detach
        ? `disconnected; the agent reconnects it in ${durationS}s by itself. To reconnect now: ${sweep}\n`
        : url !== undefined
          ? `disconnected for ${durationS}s and reconnected: ${url} answered before, not during, and again after.\n`
          : `disconnected for ${durationS}s and reconnected (the agent confirmed no rule of the partition remains; --url proves it with traffic).\n`,
  });
}
