// chaos-run stress -p POD --cpu N [--load P] [--memory SIZE] -r S: CPU workers and memory
// consumed by the pod's agent for S seconds, held in the foreground like disrupt (Ctrl-C stops
// every stressor at once, exit 130); --detach leaves them to the agent's lease. The agent is an
// ephemeral container in the pod's cgroup, outside the app container's: what it measured — the
// load achieved, how much the pod's CPU limit throttled it, what the OOM killer took — is printed.
import { UsageError } from "../errors.js";
import { TTL_MARGIN_MS } from "../engine/preflight.js";
import { DEFAULT_AGENT_TTL_MS } from "../scenario/types.js";
import { parsePercent, parseSize } from "../scenario/units.js";
import { countdownView } from "../ui/countdown.js";
import { plainView } from "../ui/plain.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, ENGINE_DEFAULTS, PULL_POLICY_HELP, PULL_POLICY_OPTION, connectFromFlags, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { writeResult } from "./result.js";
import { runScenario } from "./run-scenario.js";
import { seedReport } from "./seed-report.js";
import { faultStep, numberFlag, podNames, secondsFlag, seedScenario } from "./seed-verbs.js";

export const HELP = `Usage: chaos-run stress -p POD [--cpu N [--load P]] [--memory SIZE] -r DURATION_S [options]

Consumes CPU and memory in each pod for DURATION_S seconds, from its agent (added if the pod
has none; it needs no capability), held in the foreground: every stressor stops at the end,
at once on Ctrl-C (exit 130) or SIGTERM (143), when the agent's lease lapses, at its TTL, and
when the agent dies. With --detach, returns once the stressors run and leaves them to the
agent, which stops them after DURATION_S by itself (chaos-run sweep stops them sooner).

The agent is an ephemeral container: it has no resources of its own and runs in the pod's
cgroup, outside the app container's. It competes with the app under the pod's CPU limit (the
sum of its containers' limits), and its memory counts towards the pod's limit, not the app
container's. What it measured is printed: the load achieved, how long the pod's CPU limit
throttled it, and — under a memory limit — what the OOM killer took (the memory stressor asks
to be its first choice, so that the agent survives to report).

A stress asks a pod for no more than the pod has: memory up to its memory limit, CPU workers
(workers x load) up to its CPU limit; on a pod without a limit, up to its request (what the
scheduler set aside for it on its node). More is refused unless --allow-beyond-limit.

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  --cpu N                CPU workers (threads), each on an exact duty cycle
  --load P               percent of one CPU each worker uses (default 100)
  --memory SIZE          memory to allocate and touch: 64Mi, 1Gi, 500M, bytes
  --allow-beyond-limit   ask for more than the pod's limit (or, without one, its request):
                         refused otherwise, before anything is touched (exit 3)
  -r, --duration S       how long, in seconds
  --detach               return once the stressors run; the agent stops them after DURATION_S
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 stressed for the duration and stopped (with --detach: started), 2 usage,
3 could not run, 4 a stop could not be confirmed, 130/143 interrupted (after stopping).
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("stress", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    cpu: { type: "string" },
    load: { type: "string" },
    memory: { type: "string" },
    "allow-beyond-limit": { type: "boolean" },
    duration: { type: "string", short: "r" },
    detach: { type: "boolean" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`stress takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run stress -p POD --cpu 1 --load 50 -r 30" });
  const pods = podNames(values.pod, "stress");
  const workers = numberFlag("--cpu", values.cpu, "workers", { min: 1, max: 64, integer: true });
  const loadText = values.load;
  const load = loadText === undefined ? undefined : parsePercent(loadText.endsWith("%") ? loadText : `${loadText}%`);
  if (loadText !== undefined && (load === undefined || load <= 0)) throw new UsageError(`--load takes a percent of one CPU above 0 and at most 100, not ${JSON.stringify(loadText)}`);
  if (load !== undefined && workers === undefined) throw new UsageError("--load needs --cpu N");
  const memoryText = values.memory;
  const bytes = memoryText === undefined ? undefined : parseSize(memoryText);
  if (memoryText !== undefined && (bytes === undefined || bytes < 4096 || bytes > 1024 ** 4))
    throw new UsageError(`--memory takes a size from 4Ki to 1Ti (64Mi, 1Gi, 500M, bytes), not ${JSON.stringify(memoryText)}`);
  if (workers === undefined && bytes === undefined) throw new UsageError("stress needs --cpu N or --memory SIZE (or both)", { hint: "chaos-run stress -p POD --cpu 1 --load 50 -r 30" });
  const durationS = secondsFlag("-r/--duration", values.duration);
  if (durationS === undefined) throw new UsageError("stress needs a duration: -r SECONDS");
  const detach = values.detach === true;
  const beyond = values["allow-beyond-limit"] === true ? { allowBeyondLimit: true } : {};
  const durationMs = durationS * 1000;
  const scenario = seedScenario({
    name: "stress",
    pods,
    namespace: ctx.globals.namespace,
    agentImage: undefined,
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    ttlMs: Math.max(DEFAULT_AGENT_TTL_MS, durationMs + 2 * TTL_MARGIN_MS),
    leaseMs: detach ? durationMs : undefined,
    steps: [
      faultStep(
        "stress",
        {
          kind: "stress",
          cpu: workers === undefined ? undefined : { workers, load: load ?? 100, ...beyond },
          memory: bytes === undefined || memoryText === undefined ? undefined : { bytes, text: memoryText, ...beyond },
        },
        durationMs,
      ),
    ],
  });
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const report = seedReport();
    const countdown = countdownView({ out: ctx.io.stderr, tty: ctx.io.stderrIsTTY, now: Date.now });
    const outcome = await runScenario(ctx, cluster, { scenario, file: "stress", agentImage: values["agent-image"], concurrency: ENGINE_DEFAULTS.concurrency, handOffToLease: detach }, [
      report.observe,
      countdown,
      plainView(ctx.io.stderr),
    ]);
    if ("planError" in outcome) throw outcome.planError;
    report.print(ctx.io.stdout);
    const code = writeResult(ctx, outcome.result);
    if (code === 0) {
      const sweep = `chaos-run sweep${ctx.globals.namespace !== undefined ? ` -n ${ctx.globals.namespace}` : ""}`;
      ctx.io.stdout.write(detach ? `stressors running; the agent stops them in ${durationS}s by itself. To stop them now: ${sweep}\n` : `stressed for ${durationS}s; every stressor stopped.\n`);
    }
    return code;
  } finally {
    cluster.close();
  }
}
