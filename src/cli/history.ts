// chaos-run history [-n NS | -A] [SCENARIO]: the runs kept in the cluster (src/results), newest
// first — when, scenario, verdict, duration, the figures each is remembered by.
import { ExitCode, UsageError } from "../errors.js";
import { historyTable } from "../results/history.js";
import { listStoredRuns } from "../results/index.js";
import { CLUSTER_HELP, connectFromFlags } from "./cluster.js";
import { HELP_HELP } from "./common-flags.js";
import { boolean, choice, wholeNumber } from "./flags.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run history [-n NS | -A] [SCENARIO] [options]

Lists the runs kept in the cluster — every run inside it (chaos-run job) and any run with
--record — newest first: when each started, its scenario, verdict (expectations held of all),
exit code, duration, the figures it measured (the latency each fault added, recovery times,
error ratios under faults), and the result's name for chaos-run report --from-cluster NAME.

Options:
  -A, --all-namespaces   every namespace's results
  --limit N              the newest N (default 50)
  --format table|json    a table (default), or the results' metadata as JSON
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 listed (also when there is none), 3 the cluster could not be read.
`;

export const run = defineVerb(
  {
    name: "history",
    help: HELP,
    flags: { "all-namespaces": boolean("A"), limit: wholeNumber({ min: 1, max: 10_000 }), format: choice(["table", "json"] as const, "table") },
    positionals: { one: "takes at most one SCENARIO" },
    example: "chaos-run history -n chaos nginx-latency",
  },
  async ({ ctx, values, positionals }) => {
    const scenario = positionals[0];
    if (scenario !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(scenario)) throw new UsageError(`${JSON.stringify(scenario)} is not a scenario name (metadata.name: a DNS label)`);
    const cluster = await connectFromFlags(ctx.globals, ctx.io);
    try {
      const namespace = values["all-namespaces"] ? undefined : (ctx.globals.namespace ?? cluster.identity.namespace);
      const runs = (await listStoredRuns(cluster, namespace, scenario)).slice(0, values.limit ?? 50);
      if (values.format === "json") ctx.io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      else if (runs.length === 0)
        ctx.io.stderr.write(`no chaos-run results${namespace === undefined ? "" : ` in namespace ${namespace}`}${scenario === undefined ? "" : ` of scenario ${scenario}`}\n`);
      else ctx.io.stdout.write(historyTable(runs, namespace === undefined));
      return ExitCode.Ok;
    } finally {
      cluster.close();
    }
  },
);
