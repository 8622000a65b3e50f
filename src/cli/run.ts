// chaos-run run FILE|DIR... [options]   (also: chaos-run FILE|DIR...)
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ExitCode, UsageError } from "../errors.js";
import type { EngineEvent } from "../engine/events.js";
import type { ConnectedCluster } from "../kube/types.js";
import { planToJson } from "../plan/format.js";
import { appendFile, journalWriter, runDirName, writeAtomic, writeIndex, type IndexEntry } from "../report/files.js";
import { newJournal, recordEvent, type Journal } from "../report/journal.js";
import { renderJUnit, renderMarkdown, renderTable, verdictLine } from "../report/views.js";
import { readScenarioFile, type ValidationResult } from "../scenario/load.js";
import type { PullPolicy, Scenario } from "../scenario/types.js";
import { plainView } from "../ui/plain.js";
import { CLUSTER_HELP, ENGINE_DEFAULTS, connectFromFlags, newRunId } from "./cluster.js";
import { HELP_HELP, PULL_POLICY_FLAG, PULL_POLICY_HELP, minChangeFlag } from "./common-flags.js";
import { toFileDiagnostics, writeDiagnostics } from "./diagnostics-output.js";
import { boolean, choice, percent, text, wholeNumber } from "./flags.js";
import type { Comparing } from "./compare-to.js";
import { stdoutIsPretty, type VerbContext } from "./io.js";
import { writePlanError } from "./plan.js";
import { worst, writeResult } from "./result.js";
import { awaitRunnerSeen, runnerPodOf, startRecording, type RecordFlags } from "./record-run.js";
import { runNamespace, runScenario } from "./run-scenario.js";
import { expandPaths } from "./scenario-files.js";
import { defineVerb, type FlagValues } from "./verb.js";
import { version } from "./version.js";

const HELP = `Usage: chaos-run run FILE|DIR... [options]
       chaos-run FILE|DIR... [options]

Runs scenarios against the cluster, one after another (their faults never overlap). For each:
resolves the target pods, checks permissions and Pod Security before touching anything,
checks the steady state, adds the agent to each pod as an ephemeral container (or reuses one
still running), applies each fault for its duration while its probes measure, reverts it — at
its end, on any error, and on Ctrl-C/SIGTERM (then exits 130/143) — and checks the steady
state again. Prints a table of every expectation and the verdict; writes a journal.

Options:
  --report-dir DIR       where journals go (default chaos-run-report): DIR/<scenario>-<time>/journal.json
  --junit FILE           also write JUnit XML (one testcase per expectation)
  --fail-fast            stop at the first scenario that does not pass
  --output auto|plain|live
                         live progress in a terminal, plain timestamped lines otherwise (auto, default;
                         plain under CI=true)
  --seed N               seed of the pod choice (default: the scenario's target.seed)
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else the scenario's agent.image,
                         else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  --concurrency N        pods worked on at once (default ${ENGINE_DEFAULTS.concurrency})
  --keep-tools           keep the run's chaos-tools pod (chaos-tools-<run id>) for a look afterwards
  --compare-to BASE      judge the run against a stored one (its journal.json or run directory) at
                         its end: compare.md/.html/.json beside its report; a regression makes a run
                         that passed exit 1 (docs/compare.md)
  --compare-to-last      judge it against the newest run of the same scenario that passed, of those
                         kept in the cluster (--record); with none kept yet, it is not compared
  --compare-threshold P  the smallest change that matters to --compare-to(-last) (default 20%)
  --compare-min-change D the smallest change of a duration that matters to it (compare --min-change)
  --record               keep the run in the cluster (the default inside the cluster; --no-record: not):
                         Events on its target pods, and its result as a ConfigMap (chaos-run history,
                         report --from-cluster) in the run's namespace (inside the cluster: the runner's)
  --record-keep N        results kept per scenario, the oldest pruned (default 20)
  --pushgateway URL      push the run's verdict, duration and measured figures (chaos_run_*) there
${HELP_HELP}
${CLUSTER_HELP}

With $GITHUB_STEP_SUMMARY set, a Markdown summary is appended to it.

Exit status (the worst of all scenarios): 0 all expectations held, 1 an expectation failed (or,
with --compare-to(-last), a figure regressed), 2 invalid scenario or usage, 3 could not run, 4 a revert
could not be confirmed, 130/143 interrupted (after reverting).
`;

const FLAGS = {
  seed: wholeNumber({ min: 0, max: 4294967295 }),
  "agent-image": text(),
  ...PULL_POLICY_FLAG,
  concurrency: wholeNumber({ min: 1, max: 1000 }),
  "report-dir": text(),
  junit: text(),
  "fail-fast": boolean(),
  output: choice(["auto", "plain", "live"] as const, "auto"),
  "keep-tools": boolean(),
  "compare-to": text(),
  "compare-to-last": boolean(),
  "compare-threshold": percent({ takes: "a number of percent from 0 to 100 (20 or 20%): the smallest change that matters" }),
  "compare-min-change": minChangeFlag(),
  record: boolean(),
  "no-record": boolean(),
  "record-keep": wholeNumber({ min: 1, max: 1000 }),
  pushgateway: text(),
};

type OutputMode = "plain" | "live";

function outputMode(ctx: VerbContext, asked: "auto" | OutputMode): OutputMode {
  if (asked !== "auto") return asked;
  const ci = ctx.io.env["CI"];
  const dumb = ctx.io.env["TERM"] === "dumb";
  return ctx.io.stdoutIsTTY && ctx.io.stderrIsTTY && (ci === undefined || ci === "" || ci === "false") && !dumb ? "live" : "plain";
}

interface CatalogOptions {
  readonly reportDir: string;
  readonly output: OutputMode;
  readonly color: boolean;
  readonly seed: number | undefined;
  readonly agentImage: string | undefined;
  readonly pullPolicy: PullPolicy | undefined;
  readonly namespace: string | undefined;
  readonly concurrency: number;
  readonly keepTools: boolean;
  /** --compare-to(-last): where the run finds the stored one it is judged against at its end */
  readonly compareTo?: Comparing | undefined;
  readonly record: RecordFlags;
}

function catalogOptions(ctx: VerbContext, values: FlagValues<typeof FLAGS>): CatalogOptions {
  return {
    reportDir: values["report-dir"] ?? join(ctx.io.cwd, "chaos-run-report"),
    output: outputMode(ctx, values.output),
    color: stdoutIsPretty(ctx.io),
    seed: values.seed,
    agentImage: values["agent-image"],
    pullPolicy: values["pull-policy"],
    namespace: ctx.globals.namespace,
    concurrency: values.concurrency ?? ENGINE_DEFAULTS.concurrency,
    keepTools: values["keep-tools"],
    record: { record: values["no-record"] ? false : values.record ? true : undefined, keep: values["record-keep"], pushgateway: pushgatewayUrl(values.pushgateway) },
  };
}

/** --pushgateway's URL, checked before anything runs. */
function pushgatewayUrl(given: string | undefined): string | undefined {
  if (given === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(given);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`--pushgateway takes the Pushgateway's http(s) URL, not ${JSON.stringify(given)}`, { hint: "e.g. --pushgateway http://pushgateway.monitoring:9091" });
  }
  return given;
}

/** One scenario: its journal (written as it goes), its live or plain view, its table. */
async function runOne(
  ctx: VerbContext,
  cluster: ConnectedCluster,
  v: ValidationResult & { scenario: Scenario },
  o: CatalogOptions,
): Promise<{ journal: Journal | undefined; path: string | undefined; exitCode: number }> {
  const runId = newRunId();
  const targetNamespace = runNamespace(v.scenario, o.namespace, cluster);
  const recording = await startRecording(ctx.io, cluster, targetNamespace, runId, o.record);
  const runnerPod = runnerPodOf(ctx.io, cluster);
  await awaitRunnerSeen(cluster, runnerPod, targetNamespace);
  // the base, before anything is touched: with --compare-to-last, read where the run keeps its own
  const compareTo = await o.compareTo?.(cluster, runnerPod?.namespace ?? targetNamespace, v.scenario.metadata.name);
  const startedAt = Date.now();
  const dir = join(o.reportDir, runDirName(v.scenario.metadata.name, startedAt));
  const path = join(dir, "journal.json");
  const journal = newJournal({
    runId,
    version: version(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    file: v.file,
    sha256: createHash("sha256").update(v.text).digest("hex"),
    startedAt,
  });
  const writer = journalWriter(path, (e) => ctx.io.stderr.write(`chaos-run: cannot write the journal ${path}: ${String(e)}\n`));
  let planJson: unknown = null;
  const journalObserver = (e: EngineEvent): void => {
    recordEvent(journal, e, () => planJson);
    writer.update(journal);
    if (e.type === "run:start" || e.type === "run:end") writer.flush();
  };
  let live: { observe: (e: EngineEvent) => void; finished: () => Promise<void> } | undefined;
  if (o.output === "live") {
    const { liveView } = await import("../ui/live.js");
    live = liveView();
  }
  const view = live?.observe ?? plainView(ctx.io.stderr);
  const planCapture = (e: EngineEvent): void => {
    if (e.type === "run:start") planJson = planToJson(e.plan, v.file);
  };
  const outcome = await runScenario(
    ctx,
    cluster,
    {
      scenario: v.scenario,
      file: v.file,
      seed: o.seed,
      agentImage: o.agentImage,
      pullPolicy: o.pullPolicy,
      namespaceFlag: o.namespace,
      concurrency: o.concurrency,
      handOffToLease: false,
      keepTools: o.keepTools,
      runId,
      runnerPod,
      onTargets: recording?.targets,
    },
    [planCapture, journalObserver, view, ...(recording === undefined ? [] : [recording.observe])],
  );
  if ("planError" in outcome) return { journal: undefined, path: undefined, exitCode: writePlanError(ctx, v.file, v, outcome.planError, "text") };
  writer.flush();
  const html = join(dir, "report.html");
  try {
    const { renderHtml } = await import("../report/html.js");
    writeAtomic(html, renderHtml(journal));
  } catch (e) {
    ctx.io.stderr.write(`chaos-run: cannot write the HTML report ${html}: ${String(e)}\n`);
  }
  await live?.finished();
  ctx.io.stdout.write(renderTable(journal, { color: o.color }));
  ctx.io.stdout.write(`journal: ${path}\nreport: ${html}\n`);
  await recording?.finish(journal);
  if (outcome.result.exitCode !== 0 && outcome.result.exitCode !== 1) writeResult(ctx, outcome.result);
  const exitCode = compareTo === undefined ? outcome.result.exitCode : await compareTo(journal, dir, outcome.result.exitCode);
  return { journal, path, exitCode };
}

/** Every valid scenario, one after another; what each ran as an index entry, its journal if it had one. */
async function runCatalog(ctx: VerbContext, valid: readonly (ValidationResult & { scenario: Scenario })[], o: CatalogOptions, failFast: boolean) {
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  const entries: IndexEntry[] = [];
  const journals: Journal[] = [];
  const summary = ctx.io.env["GITHUB_STEP_SUMMARY"];
  try {
    for (const v of valid) {
      const one = await runOne(ctx, cluster, v, o);
      entries.push({ scenario: v.scenario.metadata.name, file: v.file, journal: one.path ?? null, status: one.journal?.status ?? "error", exitCode: one.exitCode });
      if (one.journal !== undefined) {
        journals.push(one.journal);
        if (summary !== undefined && summary !== "") appendFile(summary, renderMarkdown(one.journal));
      }
      if (one.exitCode === ExitCode.Interrupted || one.exitCode === ExitCode.Terminated) break;
      if (failFast && one.exitCode !== 0) break;
    }
  } finally {
    cluster.close();
  }
  return { entries, journals };
}

export const run = defineVerb(
  { name: "run", help: HELP, flags: FLAGS, positionals: { missing: "needs a scenario FILE or DIR" }, example: "chaos-run scenarios/nginx-latency.yaml" },
  async ({ ctx, values, positionals }) => {
    const results = expandPaths(positionals).map((f) => readScenarioFile(f));
    const invalid = results.filter((r) => r.scenario === undefined);
    if (invalid.length > 0) {
      writeDiagnostics(ctx, invalid.map(toFileDiagnostics), "text");
      ctx.io.stderr.write(`chaos-run: ${invalid.length} of ${results.length} scenario file${results.length > 1 ? "s are" : " is"} invalid; nothing was run\n`);
      return ExitCode.Invalid;
    }
    const flags = { thresholdPercent: values["compare-threshold"], minChangeMs: values["compare-min-change"] };
    const comparing = values["compare-to"] !== undefined || values["compare-to-last"] || flags.thresholdPercent !== undefined || flags.minChangeMs !== undefined;
    const compareTo = comparing ? (await import("./compare-to.js")).comparingTo(ctx, values["compare-to"], flags, results.length, values["compare-to-last"]) : undefined;
    const options = { ...catalogOptions(ctx, values), compareTo };
    const valid = results.flatMap((r) => (r.scenario === undefined ? [] : [{ ...r, scenario: r.scenario }]));
    const { entries, journals } = await runCatalog(ctx, valid, options, values["fail-fast"]);
    const exitCode = worst(entries.map((e) => e.exitCode));
    if (values.junit !== undefined) writeAtomic(values.junit, renderJUnit(journals));
    if (results.length > 1) {
      const index = writeIndex(options.reportDir, entries, exitCode);
      ctx.io.stdout.write(`\n${journals.map(verdictLine).join("\n")}\n`);
      const skipped = results.length - entries.length;
      ctx.io.stdout.write(`${entries.length} of ${results.length} scenarios ran${skipped > 0 ? ` (${skipped} not run)` : ""}; index: ${index}; exit ${exitCode}\n`);
    }
    return exitCode;
  },
);
