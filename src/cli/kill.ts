// chaos-run kill -p POD [-c CONTAINER] [-s SIGNAL]: a signal to a container's main process,
// through a kill agent of its own in the pod (added with targetContainerName), then the
// container's restart and the pod's return to Ready watched in the foreground — until it has
// recovered, at most the window. A signal the process cannot receive is refused before any pod
// is touched. Nothing to revert: Ctrl-C only stops the watching (exit 130).
import { UsageError } from "../errors.js";
import { KILL_SIGNALS, type KillSignal } from "../faults/types.js";
import { countdownView } from "../ui/countdown.js";
import { plainView } from "../ui/plain.js";
import { parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, ENGINE_DEFAULTS, PULL_POLICY_HELP, PULL_POLICY_OPTION, connectFromFlags, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { writeResult } from "./result.js";
import { runScenario } from "./run-scenario.js";
import { seedReport } from "./seed-report.js";
import { faultStep, podNames, secondsFlag, seedExpectation, seedScenario } from "./seed-verbs.js";

const DEFAULT_WINDOW_S = 60;

export const HELP = `Usage: chaos-run kill -p POD [-c CONTAINER] [-s SIGNAL] [options]

Sends SIGNAL (default SIGKILL) to the main process of CONTAINER (default: the pod's default
container) in each pod, then waits in the foreground until the container has restarted and
the pod is Ready again — at most WINDOW seconds — and prints what it saw: the exit, the
restarts, the time to Ready.

The signal comes from a kill agent of its own, an ephemeral container added to the pod with
targetContainerName (it shares the container's PID namespace) and capabilities SYS_PTRACE and
KILL. There the main process is the namespace's init, which the kernel lets receive only the
signals it handles — and SIGKILL, which the kill agent injects through ptrace (and dies with).
Any other signal is refused, with the reason, before any pod is touched. With
shareProcessNamespace the main process is an ordinary one and gets any signal it does not ignore.

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  -c, --container NAME   the container (default: kubectl.kubernetes.io/default-container, else the first)
  -s, --signal SIGNAL    ${KILL_SIGNALS.join(", ")} (also without SIG, or by number)
  -w, --window S         how long to watch for the recovery, in seconds (default ${DEFAULT_WINDOW_S})
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 killed and Ready again within the window, 1 the container did not restart or
was not Ready again in time, 2 usage, 3 could not run (a signal refused before any harm, RBAC,
Pod Security), 130/143 interrupted (nothing to revert).
`;

const NUMBERS: Readonly<Record<string, KillSignal>> = { "9": "SIGKILL", "15": "SIGTERM", "2": "SIGINT", "3": "SIGQUIT", "1": "SIGHUP", "6": "SIGABRT", "10": "SIGUSR1", "12": "SIGUSR2" };

/** `KILL`, `SIGKILL`, `kill`, `9` → SIGKILL. */
export function signalFlag(value: string | undefined): KillSignal {
  if (value === undefined) return "SIGKILL";
  const upper = value.toUpperCase();
  const name = NUMBERS[value] ?? KILL_SIGNALS.find((s) => s === upper || s === `SIG${upper}`);
  if (name === undefined)
    throw new UsageError(`-s/--signal must be one of ${KILL_SIGNALS.join(", ")}, not ${JSON.stringify(value)}`, {
      hint: "signals whose default action ends a process; SIGSTOP and SIGCONT are not offered",
    });
  return name;
}

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("kill", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    container: { type: "string", short: "c" },
    signal: { type: "string", short: "s" },
    window: { type: "string", short: "w" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`kill takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run kill -p POD -s SIGKILL" });
  const pods = podNames(values.pod, "kill");
  const container = values.container;
  if (container !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(container)) throw new UsageError(`${JSON.stringify(container)} is not a container name`);
  const signal = signalFlag(values.signal);
  const windowS = secondsFlag("-w/--window", values.window, 3600) ?? DEFAULT_WINDOW_S;
  const windowMs = windowS * 1000;
  const scenario = seedScenario({
    name: "kill",
    pods,
    namespace: ctx.globals.namespace,
    agentImage: undefined,
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    steps: [
      faultStep("kill", { kind: "kill", container, signal }, windowMs, {
        // the verb's promise: the container went down, and came back in time
        expect: [seedExpectation("/steps/0", "restarts", { atLeast: 1 }), seedExpectation("/steps/0", "recovery.time", { atMost: `${windowS}s` })],
      }),
    ],
  });
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const report = seedReport();
    const countdown = countdownView({ out: ctx.io.stderr, tty: ctx.io.stderrIsTTY, now: Date.now });
    const outcome = await runScenario(
      ctx,
      cluster,
      { scenario, file: "kill", agentImage: values["agent-image"], concurrency: ENGINE_DEFAULTS.concurrency, handOffToLease: false, untilRecovered: true },
      [report.observe, countdown, plainView(ctx.io.stderr)],
    );
    if ("planError" in outcome) throw outcome.planError;
    report.print(ctx.io.stdout);
    const code = writeResult(ctx, outcome.result);
    if (code === 0) ctx.io.stdout.write(`killed with ${signal}; Ready again.\n`);
    return code;
  } finally {
    cluster.close();
  }
}
