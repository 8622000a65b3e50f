// chaos-run sweep [-n NS | -A]: the third revert guarantee (src/engine/sweep.ts). Every running
// chaos agent reverts what it holds and the orphans it sees; where an agent died and none runs,
// a fresh agent is added to revert what the dead one left. Idempotent.
import { ExitCode, UsageError } from "../errors.js";
import { sweepPods, sweepToolsPods } from "../engine/sweep.js";
import { DEFAULT_PULL_POLICY } from "../scenario/types.js";
import { agentImageOverride, CLUSTER_HELP, ENGINE_DEFAULTS, connectFromFlags, newRunId } from "./cluster.js";
import { AGENT_FLAGS, HELP_HELP, PULL_POLICY_HELP } from "./common-flags.js";
import { boolean, text } from "./flags.js";
import { defineVerb } from "./verb.js";

/** A fresh agent added by sweep only has to sweep. */
const SWEEP_AGENT_TTL_MS = 120_000;

const HELP = `Usage: chaos-run sweep [-n NS | -A] [options]

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
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 nothing remains, 2 usage, 3 could not run (or remove a tools pod), 4 a revert
could not be confirmed.
`;

const FLAGS = {
  "all-namespaces": boolean("A"),
  selector: text("l"),
  "dry-run": boolean(),
  ...AGENT_FLAGS,
};

export const run = defineVerb({ name: "sweep", help: HELP, flags: FLAGS, positionals: "none" }, async ({ ctx, values }) => {
  if (values["all-namespaces"] && ctx.globals.namespace !== undefined) throw new UsageError("give -n NS or -A, not both");
  const dryRun = values["dry-run"];
  const say = (line: string) => ctx.io.stdout.write(`${line}\n`);
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const namespace = values["all-namespaces"] ? undefined : (ctx.globals.namespace ?? cluster.identity.namespace);
    const pods = await cluster.listPods(namespace, values.selector);
    const report = await sweepPods(
      cluster,
      pods,
      {
        runId: newRunId(),
        agentImage: agentImageOverride(ctx.io, values["agent-image"]),
        pullPolicy: values["pull-policy"] ?? DEFAULT_PULL_POLICY,
        ttlMs: SWEEP_AGENT_TTL_MS,
        injectTimeoutMs: ENGINE_DEFAULTS.injectTimeoutMs,
        execTimeoutMs: ENGINE_DEFAULTS.execTimeoutMs,
        concurrency: ENGINE_DEFAULTS.concurrency,
        dryRun,
        // Ctrl-C keeps its default here (quit at once): a sweep half done is redone by the next
        signal: new AbortController().signal,
      },
      say,
    );
    // tools pods match no selector of the user's: with -l only the pods it matches are touched
    const tools = values.selector === undefined ? await sweepToolsPods(cluster, namespace, { dryRun }, Date.now(), say) : undefined;
    const toolsSeen = tools === undefined ? 0 : tools.removed + tools.kept + tools.failed;
    if (report.agents === 0 && toolsSeen === 0) say(`no chaos agents, running or dead, and no tools pods in ${namespace === undefined ? "any namespace" : `namespace ${namespace}`}`);
    if (report.failed > 0) return ExitCode.RevertUnconfirmed;
    return (tools?.failed ?? 0) > 0 ? ExitCode.CouldNotRun : ExitCode.Ok;
  } finally {
    cluster.close();
  }
});
