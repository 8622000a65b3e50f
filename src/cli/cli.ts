// argv → verb, and the one try/catch that turns errors into exit codes. Each verb's module is
// imported inside its handler, so `--help` and `validate` load only what they use (cold start:
// see bench/scenario.mjs). main.ts wires it to the process.
import { existsSync } from "node:fs";
import { ExitCode, UsageError, isChaosRunError } from "../errors.js";
import { loadVerb } from "./fast-load.js";
import { extractGlobalFlags } from "./globals.js";
import { version } from "./version.js";
import { errorText, type CliIO, type VerbModule } from "./io.js";

/** Verbs → their lazily imported module. Adding a verb is one line here (plus its module). */
export const VERBS: Readonly<Record<string, { readonly summary: string; readonly load: () => Promise<VerbModule> }>> = {
  validate: { summary: "check scenario files; every problem, located", load: () => loadVerb("validate", () => import("./validate.js")) },
  plan: { summary: "print the timeline and agent commands of a run (--offline)", load: () => loadVerb("plan", () => import("./plan.js")) },
  run: { summary: "run a scenario against the cluster (also: chaos-run FILE)", load: () => import("./run.js") },
  install: { summary: "add the chaos agent to a pod (-p POD)", load: () => import("./install.js") },
  disrupt: { summary: "add latency/loss to a pod for a while (-p POD -d MS -r S)", load: () => import("./disrupt.js") },
  kill: { summary: "signal a container's main process and watch it come back (-p POD [-c C] [-s SIG])", load: () => import("./kill.js") },
  "kill-pod": { summary: "delete a pod and watch its controller replace it (-p POD)", load: () => import("./kill-pod.js") },
  stress: { summary: "consume a pod's CPU and memory for a while (-p POD --cpu N --memory SIZE -r S)", load: () => import("./stress.js") },
  disconnect: { summary: "take a pod off the network for a while and reconnect it (-p POD -r S)", load: () => import("./disconnect.js") },
  http: { summary: "delay or fail HTTP requests to a pod's port for a while (-p POD --port N -r S)", load: () => import("./http.js") },
  dns: { summary: "fail or delay a pod's DNS queries for matching names for a while (-p POD --name N --answer A -r S)", load: () => import("./dns.js") },
  grpc: { summary: "delay or fail gRPC calls to a pod's port for a while (-p POD --port N -r S)", load: () => import("./grpc.js") },
  sweep: { summary: "have every chaos agent in a namespace revert what it holds", load: () => import("./sweep.js") },
  report: { summary: "re-render a run's table, JUnit or Markdown from its journal.json", load: () => import("./report.js") },
  compare: { summary: "judge a run against another from their journals: what regressed, beyond the noise", load: () => import("./compare.js") },
  history: { summary: "list the runs kept in the cluster, newest first (-n NS | -A, a SCENARIO)", load: () => import("./history.js") },
  job: { summary: "print the manifests that run a scenario in the cluster (a Job, or --schedule a CronJob)", load: () => import("./job.js") },
};

/** Verbs named in help and dispatch but not built yet (`chaos-run FILE.yaml` means `run`). */
const PLANNED_VERBS = [] as const;

function helpText(): string {
  const verbs = Object.entries(VERBS)
    .map(([name, v]) => `  ${name.padEnd(10)} ${v.summary}`)
    .join("\n");
  return `Usage: chaos-run VERB [options]
       chaos-run FILE.yaml            (same as: chaos-run run FILE.yaml)

Declarative chaos experiments for Kubernetes.

Verbs:
${verbs}

Options:
  -h, --help     this help (chaos-run VERB --help for a verb's)
  --version      print the version
  --debug        show stack traces of internal errors

Global options, before or after the verb (kubectl's): --kubeconfig FILE, --context NAME,
-n/--namespace NS.

Exit status: 0 expectations held, 1 an expectation failed, 2 invalid scenario or usage,
3 could not run, 4 revert not confirmed, 130/143 interrupted (after reverting).
`;
}

/** Which verb a command line means; `FILE.yaml` or an existing path as first argument means `run`. */
export function dispatch(args: readonly string[], io: CliIO): { verb: string; rest: string[] } | undefined {
  const [first, ...rest] = args;
  if (first === undefined) return undefined;
  if (first in VERBS || (PLANNED_VERBS as readonly string[]).includes(first)) return { verb: first, rest };
  if (!first.startsWith("-") && (/\.ya?ml$/i.test(first) || existsSync(first.startsWith("/") ? first : `${io.cwd}/${first}`))) {
    return { verb: "run", rest: args.slice() };
  }
  return { verb: first, rest };
}

/** How a verb's interrupts are wired: main.ts passes the process's signals in; tests pass their own. */
export type InterruptWiring = () => AbortSignal;

const noInterrupts: InterruptWiring = () => new AbortController().signal;

export async function runCli(argv: readonly string[], io: CliIO, interrupts: InterruptWiring = noInterrupts): Promise<number> {
  const debug = argv.includes("--debug");
  try {
    const { globals, rest: args } = extractGlobalFlags(argv);
    const first = args[0];
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      if (first === "help" && args[1] !== undefined) return await runCli([args[1], "--help"], io, interrupts);
      (first === undefined ? io.stderr : io.stdout).write(helpText());
      return first === undefined ? ExitCode.Invalid : ExitCode.Ok;
    }
    if (first === "--version" || first === "-V") {
      io.stdout.write(`${version()}\n`);
      return ExitCode.Ok;
    }
    const d = dispatch(args, io);
    if (d === undefined) return ExitCode.Invalid;
    const entry = VERBS[d.verb];
    if (entry === undefined) {
      if ((PLANNED_VERBS as readonly string[]).includes(d.verb)) {
        throw new UsageError(`${d.verb} is not implemented yet`, { hint: "chaos-run --help lists the verbs there are" });
      }
      if (d.verb.startsWith("-")) throw new UsageError(`unknown option ${d.verb}`, { hint: "chaos-run --help" });
      const { closest } = await import("../scenario/suggest.js");
      const guess = closest(d.verb, [...Object.keys(VERBS), ...PLANNED_VERBS]);
      throw new UsageError(`unknown verb ${JSON.stringify(d.verb)}`, { hint: guess !== undefined ? `did you mean ${guess}? (chaos-run --help)` : "chaos-run --help lists the verbs" });
    }
    const mod = await entry.load();
    return await mod.run({ args: d.rest, io, debug, interrupts, globals });
  } catch (e) {
    if (isChaosRunError(e)) {
      io.stderr.write(errorText(e.message, e.hint));
      return e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(
      errorText(err.message, undefined, "internal error: ") +
        `This is a bug in chaos-run: please report it to its maintainers with this output.\n` +
        `chaos-run ${version()}, node ${process.version}, ${process.platform} ${process.arch}\n` +
        (debug ? `${err.stack ?? ""}\n` : "(run again with --debug for the stack trace)\n"),
    );
    return ExitCode.CouldNotRun;
  }
}
