// chaos-run disrupt -p POD -d MS -r S: the seed's command. A one-fault netem scenario through
// the same engine. Without --wait the fault is handed to the agent, whose lease (the fault's
// duration) ends it, and the command returns once the fault is verified in effect; with --wait
// it holds the fault, renews the lease and reverts it itself (Ctrl-C reverts early).
import { UsageError } from "../errors.js";
import type { NetemParams } from "../faults/types.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, CLUSTER_OPTIONS, ENGINE_DEFAULTS, connectFromFlags } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { plainView } from "../ui/plain.js";
import { runScenario, writeResult } from "./run.js";
import { netemStep, numberFlag, podNames, seedScenario } from "./seed-verbs.js";

export const HELP = `Usage: chaos-run disrupt -p POD -d DELAY_MS -r DURATION_S [options]

Adds network latency (and optionally jitter and loss) to each pod for DURATION_S seconds,
through the agent (added if the pod has none). Without --wait, returns once the fault is in
effect: the agent reverts it by itself when the duration is over (chaos-run sweep reverts it
sooner). With --wait, stays until the fault is over and reverts it (Ctrl-C reverts at once).

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  -d, --delay MS         added delay in milliseconds
  -r, --duration S       how long, in seconds
  -j, --jitter MS        jitter in milliseconds (with --delay)
  -l, --loss PERCENT     packet loss in percent
  -i, --interface NAME   interface (default: the pod's default-route interface)
  -w, --wait             hold the fault until it is over, then revert
  --agent-image IMAGE    agent image (default chaos-agent:latest)
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 applied (and, with --wait, reverted), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("disrupt", ctx.args, {
    ...CLUSTER_OPTIONS,
    pod: { type: "string", short: "p", multiple: true },
    delay: { type: "string", short: "d" },
    duration: { type: "string", short: "r" },
    jitter: { type: "string", short: "j" },
    loss: { type: "string", short: "l" },
    interface: { type: "string", short: "i" },
    wait: { type: "boolean", short: "w" },
    "agent-image": { type: "string" },
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
  const wait = values.wait === true;
  const durationMs = durationS * 1000;
  const scenario = seedScenario({
    name: "disrupt",
    pods,
    namespace: values.namespace,
    agentImage: values["agent-image"],
    // handed to the agent, the lease is the fault's whole life
    leaseMs: wait ? undefined : durationMs,
    steps: [netemStep(params, durationMs, iface)],
  });
  const cluster = await connectFromFlags(values, ctx.io);
  try {
    const outcome = await runScenario(ctx, cluster, { scenario, file: "disrupt", concurrency: ENGINE_DEFAULTS.concurrency, handOffToLease: !wait }, [plainView(ctx.io.stderr)]);
    if ("planError" in outcome) throw new UsageError(outcome.planError.message);
    const code = writeResult(ctx, outcome.result);
    if (code === 0) {
      ctx.io.stdout.write(
        wait
          ? `fault applied for ${durationS}s and reverted.\n`
          : `fault applied; the agent reverts it in ${durationS}s (chaos-run sweep${values.namespace !== undefined ? ` -n ${values.namespace}` : ""} to revert now).\n`,
      );
    }
    return code;
  } finally {
    cluster.close();
  }
}
