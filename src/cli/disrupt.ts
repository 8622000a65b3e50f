// chaos-run disrupt -p POD -d MS -r S: the seed's command. A one-fault netem scenario through
// the same engine. By default the fault is held in the foreground with a countdown, its lease
// renewed, and reverted here at its end — or at once on Ctrl-C (exit 130) or SIGTERM (143).
// With --detach the fault is handed to the agent, whose lease (the fault's duration) ends it,
// and the command returns once the fault is in effect, saying how to end it early.
import { UsageError } from "../errors.js";
import type { NetemParams } from "../faults/types.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, PULL_POLICY_HELP, PULL_POLICY_OPTION, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { runHeldFault } from "./held-fault.js";
import { netemStep, numberFlag, podNames } from "./seed-verbs.js";

export const HELP = `Usage: chaos-run disrupt -p POD -d DELAY_MS -r DURATION_S [options]

Adds network latency (and optionally jitter and loss) to each pod for DURATION_S seconds,
through the agent (added if the pod has none), and holds it in the foreground with a
countdown: the fault is reverted at the end, or at once on Ctrl-C (exit 130) or SIGTERM
(exit 143). With --detach, returns as soon as the fault is in effect and leaves it to the
agent, which reverts it by itself when the duration is over (chaos-run sweep ends it sooner).

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  -d, --delay MS         added delay in milliseconds
  -r, --duration S       how long, in seconds
  -j, --jitter MS        jitter in milliseconds (with --delay)
  -l, --loss PERCENT     packet loss in percent
  -i, --interface NAME   interface (default: the pod's default-route interface)
  --detach               return once the fault is in effect; the agent ends it after DURATION_S
  -w, --wait             hold the fault in the foreground (the default; kept for scripts)
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 applied and reverted (with --detach: applied), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("disrupt", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    delay: { type: "string", short: "d" },
    duration: { type: "string", short: "r" },
    jitter: { type: "string", short: "j" },
    loss: { type: "string", short: "l" },
    interface: { type: "string", short: "i" },
    wait: { type: "boolean", short: "w" },
    detach: { type: "boolean" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`disrupt takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run disrupt -p POD -d 100 -r 30" });
  const pods = podNames(values.pod, "disrupt");
  const delayMs = numberFlag("-d/--delay", values.delay, "milliseconds", { min: 0, max: 60_000 });
  const jitterMs = numberFlag("-j/--jitter", values.jitter, "milliseconds", { min: 0, max: 60_000 });
  const loss = numberFlag("-l/--loss", values.loss, "percent", { min: 0, max: 100 });
  const durationS = numberFlag("-r/--duration", values.duration, "seconds", { min: 1, max: 24 * 3600, integer: true });
  if (durationS === undefined) throw new UsageError("disrupt needs a duration: -r SECONDS", { hint: "chaos-run disrupt -p POD -d 100 -r 30" });
  if (delayMs === undefined && loss === undefined) throw new UsageError("disrupt needs a delay (-d MS) or a loss (-l PERCENT)");
  if (jitterMs !== undefined && delayMs === undefined) throw new UsageError("--jitter needs --delay");
  const iface = values.interface;
  if (iface !== undefined && !/^[A-Za-z0-9_.@-]{1,15}$/.test(iface)) throw new UsageError(`${JSON.stringify(iface)} is not an interface name`);
  const params: NetemParams = {
    delayMs,
    jitterMs,
    correlation: undefined,
    distribution: undefined,
    loss,
    duplicate: undefined,
    corrupt: undefined,
    reorder: undefined,
    rate: undefined,
  };
  if (values.detach === true && values.wait === true) throw new UsageError("--detach and --wait contradict each other: --wait holds the fault here (the default), --detach leaves it to the agent");
  const detach = values.detach === true;
  return runHeldFault(ctx, {
    verb: "disrupt",
    pods,
    step: netemStep(params, durationS * 1000, iface),
    durationMs: durationS * 1000,
    detach,
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    agentImage: values["agent-image"],
    done: (sweep) => (detach ? `fault applied; the agent reverts it in ${durationS}s by itself. To end it early: ${sweep}\n` : `fault applied for ${durationS}s and reverted.\n`),
  });
}
