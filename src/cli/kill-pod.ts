// chaos-run kill-pod -p POD [--grace S]: the pod deleted through the API (no agent), and its
// controller watched in the foreground until a replacement is Ready — at most the window. A pod
// with no controller does not come back, and is said so. Nothing to revert: Ctrl-C only stops
// the watching (exit 130).
import { UsageError } from "../errors.js";
import { countdownView } from "../ui/countdown.js";
import { plainView } from "../ui/plain.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, ENGINE_DEFAULTS, connectFromFlags } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { writeResult } from "./result.js";
import { runScenario } from "./run-scenario.js";
import { seedReport } from "./seed-report.js";
import { faultStep, numberFlag, podNames, secondsFlag, seedExpectation, seedScenario } from "./seed-verbs.js";

const DEFAULT_WINDOW_S = 120;

export const HELP = `Usage: chaos-run kill-pod -p POD [--grace S] [options]

Deletes each pod through the API (no agent is added), then watches its controller in the
foreground until a replacement is Ready — at most WINDOW seconds — and prints the time it took
(recovery.time) and how many of the controller's pods are Ready (pods.ready). A pod with no
controller does not come back: the command says so before it deletes it.

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  --grace S              grace period of the deletion, in seconds (default: the pod's own; 0: at once)
  -w, --window S         how long to watch for a replacement, in seconds (default ${DEFAULT_WINDOW_S})
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 deleted (and, where it has a controller, replaced by a Ready pod within the
window), 1 no replacement Ready in time, 2 usage, 3 could not run (RBAC: delete pods),
130/143 interrupted (the pod stays deleted; nothing to revert).
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("kill-pod", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    grace: { type: "string" },
    window: { type: "string", short: "w" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`kill-pod takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run kill-pod -p POD" });
  const pods = podNames(values.pod, "kill-pod");
  const grace = numberFlag("--grace", values.grace, "seconds", { min: 0, max: 3600, integer: true });
  const windowS = secondsFlag("-w/--window", values.window, 3600) ?? DEFAULT_WINDOW_S;
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const namespace = ctx.globals.namespace ?? cluster.identity.namespace;
    // only what a controller replaces can be expected back
    const bare: string[] = [];
    for (const name of pods) {
      const p = await cluster.getPod(namespace, name);
      if (p !== undefined && p.owner === undefined) bare.push(name);
    }
    for (const name of bare) ctx.io.stderr.write(`chaos-run: pod ${namespace}/${name} has no controller: once deleted, it will not come back\n`);
    const scenario = seedScenario({
      name: "kill-pod",
      pods,
      namespace: ctx.globals.namespace,
      agentImage: undefined,
      steps: [
        faultStep("kill-pod", { kind: "podDelete", gracePeriodMs: grace === undefined ? undefined : grace * 1000 }, windowS * 1000, {
          expect: bare.length === 0 ? [seedExpectation("/steps/0", "recovery.time", { atMost: `${windowS}s` })] : [],
        }),
      ],
    });
    const report = seedReport();
    const countdown = countdownView({ out: ctx.io.stderr, tty: ctx.io.stderrIsTTY, now: Date.now });
    const outcome = await runScenario(ctx, cluster, { scenario, file: "kill-pod", concurrency: ENGINE_DEFAULTS.concurrency, handOffToLease: false, untilRecovered: true }, [
      report.observe,
      countdown,
      plainView(ctx.io.stderr),
    ]);
    if ("planError" in outcome) throw outcome.planError;
    report.print(ctx.io.stdout);
    const code = writeResult(ctx, outcome.result);
    if (code === 0) ctx.io.stdout.write(bare.length === 0 ? "deleted; replaced by a Ready pod.\n" : "deleted.\n");
    return code;
  } finally {
    cluster.close();
  }
}
