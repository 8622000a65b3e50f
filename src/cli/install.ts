// chaos-run install -p POD [-n NS]: the seed's command. Adds the agent to the pod (or finds one
// still running) through the same engine as a run with no steps.
import { UsageError } from "../errors.js";
import { DEFAULT_AGENT_TTL_MS } from "../scenario/types.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, ENGINE_DEFAULTS, PULL_POLICY_HELP, PULL_POLICY_OPTION, connectFromFlags, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { plainView } from "../ui/plain.js";
import { writeResult } from "./result.js";
import { runScenario } from "./run-scenario.js";
import { numberFlag, podNames, seedScenario } from "./seed-verbs.js";

export const HELP = `Usage: chaos-run install -p POD [-p POD...] [options]

Adds the chaos agent to each pod as an ephemeral container, or finds one of the same image
still running there. Nothing else is changed; the agent exits by itself after its TTL.

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  --ttl MINUTES          the agent's lifetime (default ${DEFAULT_AGENT_TTL_MS / 60_000})
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 installed, 2 usage, 3 could not (RBAC, Pod Security, pod not running).
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("install", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    ttl: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`install takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run install -p POD" });
  const pods = podNames(values.pod, "install");
  const ttlMin = numberFlag("--ttl", values.ttl, "minutes", { min: 1, max: 24 * 60 });
  const scenario = seedScenario({
    name: "install",
    pods,
    namespace: ctx.globals.namespace,
    agentImage: undefined,
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    ttlMs: ttlMin === undefined ? undefined : ttlMin * 60_000,
    steps: [],
  });
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const outcome = await runScenario(ctx, cluster, { scenario, file: "install", agentImage: values["agent-image"], concurrency: ENGINE_DEFAULTS.concurrency, handOffToLease: false }, [
      plainView(ctx.io.stderr),
    ]);
    if ("planError" in outcome) throw outcome.planError;
    const code = writeResult(ctx, outcome.result);
    if (code === 0) ctx.io.stdout.write("chaos agent installed.\n");
    return code;
  } finally {
    cluster.close();
  }
}
