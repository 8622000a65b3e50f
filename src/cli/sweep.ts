// chaos-run sweep [-n NS | -A]: the third revert guarantee (src/engine/sweep.ts). Every running
// chaos agent reverts what it holds and the orphans it sees; where an agent died and none runs,
// a fresh agent is added to revert what the dead one left. Idempotent.
import { ExitCode, UsageError } from "../errors.js";
import { sweepPods, sweepToolsPods } from "../engine/sweep.js";
import { DEFAULT_PULL_POLICY } from "../scenario/types.js";
import { parseVerbArgs } from "./args.js";
import { agentImageOverride, CLUSTER_HELP, ENGINE_DEFAULTS, PULL_POLICY_HELP, PULL_POLICY_OPTION, connectFromFlags, newRunId, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";

/** A fresh agent added by sweep only has to sweep. */
const SWEEP_AGENT_TTL_MS = 120_000;

export const HELP = `Usage: chaos-run sweep [-n NS | -A] [options]

Finds the chaos agents in a namespace (or all) and has each revert every fault it holds and
every orphan it sees (what agents that are gone left behind). Where a pod's agent died (killed,
OOM: exit code not 0) and none runs, the faults it applied are still in the pod's network
namespace: sweep adds a fresh agent (TTL ${SWEEP_AGENT_TTL_MS / 60_000} minutes) that reverts them, and says so.
Use it after a run was killed (running agents also revert by themselves when their leases
lapse), or to end a \`disrupt --detach\` early. It also removes the chaos-tools pods of runs that
are gone: a tools pod ends by itself at its run's longest possible life (activeDeadlineSeconds;
its annotation chaos-run.dev/expires says when), so one that ended or whose time is past is
removed; one of a run that may still be going is left, and said so (not with -l).

Options:
  -A, --all-namespaces   every namespace
  -l, --selector SEL     only pods matching this label selector
  --dry-run              list what the agents hold and where one died; change nothing
  --agent-image IMAGE    image of a fresh agent (default: the image of the agent that died)
${PULL_POLICY_HELP}
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 nothing remains, 2 usage, 3 could not run (or remove a tools pod), 4 a revert
could not be confirmed.
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("sweep", ctx.args, {
    "all-namespaces": { type: "boolean", short: "A" },
    selector: { type: "string", short: "l" },
    "dry-run": { type: "boolean" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`sweep takes no arguments besides options, got ${positionals.join(" ")}`);
  if (values["all-namespaces"] === true && ctx.globals.namespace !== undefined) throw new UsageError("give -n NS or -A, not both");
  const pullPolicy = pullPolicyFlag(values["pull-policy"]) ?? DEFAULT_PULL_POLICY;
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const namespace = values["all-namespaces"] === true ? undefined : (ctx.globals.namespace ?? cluster.identity.namespace);
    const pods = await cluster.listPods(namespace, values.selector);
    const report = await sweepPods(
      cluster,
      pods,
      {
        runId: newRunId(),
        agentImage: agentImageOverride(ctx.io, values["agent-image"]),
        pullPolicy,
        ttlMs: SWEEP_AGENT_TTL_MS,
        injectTimeoutMs: ENGINE_DEFAULTS.injectTimeoutMs,
        execTimeoutMs: ENGINE_DEFAULTS.execTimeoutMs,
        concurrency: ENGINE_DEFAULTS.concurrency,
        dryRun: values["dry-run"] === true,
        // Ctrl-C keeps its default here (quit at once): a sweep half done is redone by the next
        signal: new AbortController().signal,
      },
      (line) => ctx.io.stdout.write(`${line}\n`),
    );
    // tools pods match no selector of the user's: with -l only the pods it matches are touched
    const tools = values.selector === undefined ? await sweepToolsPods(cluster, namespace, { dryRun: values["dry-run"] === true }, Date.now(), (line) => ctx.io.stdout.write(`${line}\n`)) : undefined;
    const toolsSeen = tools === undefined ? 0 : tools.removed + tools.kept + tools.failed;
    if (report.agents === 0 && toolsSeen === 0) ctx.io.stdout.write(`no chaos agents, running or dead, and no tools pods in ${namespace === undefined ? "any namespace" : `namespace ${namespace}`}\n`);
    if (report.failed > 0) return ExitCode.RevertUnconfirmed;
    return (tools?.failed ?? 0) > 0 ? ExitCode.CouldNotRun : ExitCode.Ok;
  } finally {
    cluster.close();
  }
}
