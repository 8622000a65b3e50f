// chaos-run sweep [-n NS | -A]: the third revert guarantee. Finds every running chaos agent
// (ephemeral containers named chaos-agent-*) and has it revert all it holds: faults of runs
// that died, of `disrupt` without --wait, of anything. Idempotent: an agent that holds nothing
// says so.
import { ExitCode, UsageError } from "../errors.js";
import { AGENT_PREFIX } from "../engine/agents.js";
import { mapPool } from "../engine/pool.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, CLUSTER_OPTIONS, ENGINE_DEFAULTS, connectFromFlags } from "./cluster.js";
import type { VerbContext } from "./io.js";

export const HELP = `Usage: chaos-run sweep [-n NS | -A] [options]

Finds the chaos agents in a namespace (or all) and has each revert every fault it holds.
Use it after a run was killed (the agents also revert by themselves when their leases lapse),
or to end a \`disrupt\` early.

Options:
  -A, --all-namespaces   every namespace
  -l, --selector SEL     only pods matching this label selector
  --dry-run              list what the agents hold; revert nothing
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 nothing remains, 2 usage, 3 could not run, 4 a revert could not be confirmed.
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("sweep", ctx.args, {
    ...CLUSTER_OPTIONS,
    "all-namespaces": { type: "boolean", short: "A" },
    selector: { type: "string", short: "l" },
    "dry-run": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`sweep takes no arguments besides options, got ${positionals.join(" ")}`);
  if (values["all-namespaces"] === true && values.namespace !== undefined) throw new UsageError("give -n NS or -A, not both");
  const cluster = await connectFromFlags(values, ctx.io);
  try {
    const namespace = values["all-namespaces"] === true ? undefined : (values.namespace ?? cluster.identity.namespace);
    const pods = await cluster.listPods(namespace, values.selector);
    const agents = pods.flatMap((p) => p.ephemeralContainers.filter((c) => c.name.startsWith(AGENT_PREFIX) && c.state === "running").map((c) => ({ pod: p, container: c.name })));
    if (agents.length === 0) {
      ctx.io.stdout.write(`no running chaos agents in ${namespace === undefined ? "any namespace" : `namespace ${namespace}`}\n`);
      return ExitCode.Ok;
    }
    const dry = values["dry-run"] === true;
    const results = await mapPool(agents, ENGINE_DEFAULTS.concurrency, async ({ pod, container }) => {
      const where = `${pod.namespace}/${pod.name} ${container}`;
      const status = await cluster.exec(pod.namespace, pod.name, container, ["chaos-agent", "status"], { timeoutMs: ENGINE_DEFAULTS.execTimeoutMs });
      const faults = status.stdout.split("\n").filter((l) => l.startsWith("fault="));
      if (dry || faults.length === 0) {
        ctx.io.stdout.write(`${where}: ${faults.length === 0 ? "holds nothing" : `holds ${faults.join("; ")}`}\n`);
        return true;
      }
      const r = await cluster.exec(pod.namespace, pod.name, container, ["chaos-agent", "revert", "--all"], { timeoutMs: ENGINE_DEFAULTS.execTimeoutMs });
      const ok = r.exitCode === 0;
      ctx.io.stdout.write(`${where}: ${ok ? `reverted ${faults.length} fault${faults.length > 1 ? "s" : ""}` : `REVERT NOT CONFIRMED: ${r.stderr.trim() || r.error || ""}`}\n`);
      return ok;
    });
    const failed = results.filter((r) => r.status === "rejected" || r.value === false).length;
    return failed === 0 ? ExitCode.Ok : ExitCode.RevertUnconfirmed;
  } finally {
    cluster.close();
  }
}
