// chaos-run run FILE|DIR... [options]   (also: chaos-run FILE|DIR...)
import { createHash } from "node:crypto";
import { join } from "node:path";
import { CouldNotRunError, ExitCode, UsageError } from "../errors.js";
import { fanOut, type EngineEvent } from "../engine/events.js";
import { runPlan, type RunResult } from "../engine/run.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import { planToJson } from "../plan/format.js";
import { PlanError, planRun, selectorText } from "../plan/plan.js";
import type { Plan, TargetPod } from "../plan/types.js";
import { appendFile, journalWriter, runDirName, writeAtomic, writeIndex, type IndexEntry } from "../report/files.js";
import { newJournal, recordEvent, type Journal } from "../report/journal.js";
import { renderJUnit, renderMarkdown, renderTable, verdictLine } from "../report/views.js";
import { processRedactor } from "../report/redact.js";
import { readScenarioFile, type ValidationResult } from "../scenario/load.js";
import { templateSecrets } from "../scenario/template.js";
import type { PullPolicy, Scenario } from "../scenario/types.js";
import { plainView } from "../ui/plain.js";
import { integerFlag, oneOf, parseVerbArgs } from "./args.js";
import { agentImageOverride, CLUSTER_HELP, ENGINE_DEFAULTS, PULL_POLICY_HELP, PULL_POLICY_OPTION, connectFromFlags, newRunId, pullPolicyFlag } from "./cluster.js";
import { formatText } from "./diagnostics-output.js";
import { errorText, stderrIsPretty, type VerbContext } from "./io.js";
import { writePlanError } from "./plan.js";
import { expandPaths, toFileDiagnostics } from "./validate.js";
import { version } from "./version.js";

export const HELP = `Usage: chaos-run run FILE|DIR... [options]
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
  -h, --help             this help
${CLUSTER_HELP}

With $GITHUB_STEP_SUMMARY set, a Markdown summary is appended to it.

Exit status (the worst of all scenarios): 0 all expectations held, 1 an expectation failed,
2 invalid scenario or usage, 3 could not run, 4 a revert could not be confirmed,
130/143 interrupted (after reverting).
`;

/** The target pods as the cluster has them: running and not terminating; names must exist. */
export async function resolveTargets(cluster: Cluster, scenario: Scenario, namespace: string, warn: (m: string) => void): Promise<PodInfo[]> {
  const sel = scenario.target.selection;
  if (sel.kind === "pods") {
    const pods = await Promise.all(sel.names.map(async (name) => ({ name, pod: await cluster.getPod(namespace, name) })));
    const missing = pods.filter((p) => p.pod === undefined).map((p) => p.name);
    if (missing.length > 0) {
      throw new CouldNotRunError(`pod${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not found in namespace ${namespace} (nothing was touched)`, {
        hint: `kubectl get pods -n ${namespace}`,
      });
    }
    const found = pods.flatMap((p) => (p.pod === undefined ? [] : [p.pod]));
    const notRunning = found.filter((p) => p.phase !== "Running" || p.deleting);
    if (notRunning.length > 0) {
      throw new CouldNotRunError(
        `pod${notRunning.length > 1 ? "s" : ""} ${notRunning.map((p) => `${p.name} (${p.deleting ? "terminating" : p.phase})`).join(", ")} in namespace ${namespace} cannot take an agent: not running (nothing was touched)`,
      );
    }
    return found;
  }
  const all = await cluster.listPods(namespace, selectorText(sel.matchLabels));
  const running = all.filter((p) => p.phase === "Running" && !p.deleting);
  const skipped = all.filter((p) => !running.includes(p));
  if (skipped.length > 0) warn(`skipping pods that are not running: ${skipped.map((p) => `${p.name} (${p.deleting ? "terminating" : p.phase})`).join(", ")}`);
  return running;
}

/** What the plan needs to know of a pod: its IP, whether it shares the node's network, its kind. */
export function targetPod(p: PodInfo): TargetPod {
  const names = p.containers.map((c) => c.name);
  const first = p.defaultContainer !== undefined && names.includes(p.defaultContainer) ? p.defaultContainer : undefined;
  return {
    name: p.name,
    ip: p.ip,
    hostNetwork: p.hostNetwork,
    role: p.mirror ? "static" : p.owner?.kind === "DaemonSet" ? "daemonset" : undefined,
    controller: p.owner === undefined ? null : { kind: p.owner.kind, name: p.owner.name },
    containers: first === undefined ? names : [first, ...names.filter((n) => n !== first)],
    limits: p.limits,
    requests: p.requests,
    sharesProcesses: p.shareProcessNamespace === true,
  };
}

export interface RunSetup {
  readonly scenario: Scenario;
  readonly file: string;
  readonly seed?: number | undefined;
  readonly agentImage?: string | undefined;
  readonly pullPolicy?: PullPolicy | undefined;
  readonly namespaceFlag?: string | undefined;
  readonly concurrency: number;
  /** disrupt --detach */
  readonly handOffToLease: boolean;
  /** keep a chaos-tools pod this run created */
  readonly keepTools?: boolean | undefined;
  readonly runId?: string | undefined;
  /** kill and podDelete steps end once every pod recovered (the seed verbs) */
  readonly untilRecovered?: boolean | undefined;
}

/** Plans against the real pods and runs; every event goes to the observers. */
export async function runScenario(
  ctx: VerbContext,
  cluster: Cluster,
  setup: RunSetup,
  observers: readonly ((e: EngineEvent) => void)[],
): Promise<{ result: RunResult; plan: Plan } | { planError: PlanError }> {
  const namespace = setup.scenario.target.namespace ?? setup.namespaceFlag ?? cluster.identity.namespace;
  // every value the scenario's templates take from the environment, out of whatever leaves the process from now on
  processRedactor().add(templateSecrets(setup.scenario, ctx.io.env));
  const emit = fanOut(observers, (err) => ctx.io.stderr.write(`chaos-run: a view failed (ignored): ${String(err)}\n`));
  const pods = await resolveTargets(cluster, setup.scenario, namespace, (message) => emit({ type: "warning", at: Date.now(), message }));
  const runId = setup.runId ?? newRunId();
  let plan: Plan;
  try {
    plan = planRun(setup.scenario, pods.map(targetPod), { seed: setup.seed, runId, namespace, agentImage: agentImageOverride(ctx.io, setup.agentImage), pullPolicy: setup.pullPolicy });
  } catch (e) {
    if (e instanceof PlanError) return { planError: e };
    throw e;
  }
  const chosen = new Set(plan.target.pods.map((p) => p.name));
  const result = await runPlan(plan, cluster, emit, ctx.interrupts(), {
    runId,
    pods: pods.filter((p) => chosen.has(p.name)),
    namespace,
    concurrency: setup.concurrency,
    injectTimeoutMs: ENGINE_DEFAULTS.injectTimeoutMs,
    execTimeoutMs: ENGINE_DEFAULTS.execTimeoutMs,
    revertDeadlineMs: ENGINE_DEFAULTS.revertDeadlineMs,
    probeTimeoutMs: ENGINE_DEFAULTS.probeTimeoutMs,
    handOffToLease: setup.handOffToLease,
    env: ctx.io.env,
    keepTools: setup.keepTools ?? false,
    now: Date.now,
    untilRecovered: setup.untilRecovered === true,
  });
  return { result, plan };
}

export function writeResult(ctx: VerbContext, result: RunResult): number {
  if (result.message !== undefined && result.exitCode !== 0) {
    ctx.io.stderr.write(errorText(result.message, result.hint, result.exitCode === 130 || result.exitCode === 143 ? "" : "error: "));
  }
  return result.exitCode;
}

/** Worst first: a fault that may remain, then an interrupt, could-not-run, invalid, failed, passed. */
const SEVERITY: Readonly<Record<number, number>> = { 0: 0, 1: 1, 2: 2, 3: 3, 130: 4, 143: 4, 4: 5 };
export function worst(codes: readonly number[]): number {
  return codes.reduce((a, b) => ((SEVERITY[b] ?? 3) > (SEVERITY[a] ?? 3) ? b : a), 0);
}

type OutputMode = "plain" | "live";

function outputMode(ctx: VerbContext, asked: "auto" | "plain" | "live"): OutputMode {
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
}

/** One scenario: its journal (written as it goes), its live or plain view, its table. */
async function runOne(
  ctx: VerbContext,
  cluster: Cluster,
  v: ValidationResult & { scenario: Scenario },
  o: CatalogOptions,
): Promise<{ journal: Journal | undefined; path: string | undefined; exitCode: number }> {
  const runId = newRunId();
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
    },
    [planCapture, journalObserver, view],
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
  if (outcome.result.exitCode !== 0 && outcome.result.exitCode !== 1) writeResult(ctx, outcome.result);
  return { journal, path, exitCode: outcome.result.exitCode };
}

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("run", ctx.args, {
    seed: { type: "string" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    concurrency: { type: "string" },
    "report-dir": { type: "string" },
    junit: { type: "string" },
    "fail-fast": { type: "boolean" },
    output: { type: "string" },
    "keep-tools": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("run needs a scenario FILE or DIR", { hint: "chaos-run scenarios/nginx-latency.yaml" });
  const files = expandPaths(positionals);
  const results = files.map((f) => readScenarioFile(f));
  const invalid = results.filter((r) => r.scenario === undefined);
  if (invalid.length > 0) {
    ctx.io.stderr.write(formatText(invalid.map(toFileDiagnostics), stderrIsPretty(ctx.io)));
    ctx.io.stderr.write(`chaos-run: ${invalid.length} of ${results.length} scenario file${results.length > 1 ? "s are" : " is"} invalid; nothing was run\n`);
    return ExitCode.Invalid;
  }
  const noColor = ctx.io.env["NO_COLOR"];
  const options: CatalogOptions = {
    reportDir: values["report-dir"] ?? join(ctx.io.cwd, "chaos-run-report"),
    output: outputMode(ctx, oneOf("output", values.output, ["auto", "plain", "live"] as const, "auto")),
    color: ctx.io.stdoutIsTTY && (noColor === undefined || noColor === ""),
    seed: integerFlag("seed", values.seed, 0, 4294967295),
    agentImage: values["agent-image"],
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    namespace: ctx.globals.namespace,
    concurrency: integerFlag("concurrency", values.concurrency, 1, 1000) ?? ENGINE_DEFAULTS.concurrency,
    keepTools: values["keep-tools"] === true,
  };
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  const entries: IndexEntry[] = [];
  const journals: Journal[] = [];
  const summary = ctx.io.env["GITHUB_STEP_SUMMARY"];
  try {
    for (const r of results) {
      if (r.scenario === undefined) continue;
      const one = await runOne(ctx, cluster, { ...r, scenario: r.scenario }, options);
      entries.push({ scenario: r.scenario.metadata.name, file: r.file, journal: one.path ?? null, status: one.journal?.status ?? "error", exitCode: one.exitCode });
      if (one.journal !== undefined) {
        journals.push(one.journal);
        if (summary !== undefined && summary !== "") appendFile(summary, renderMarkdown(one.journal));
      }
      if (one.exitCode === ExitCode.Interrupted || one.exitCode === ExitCode.Terminated) break;
      if (values["fail-fast"] === true && one.exitCode !== 0) break;
    }
  } finally {
    cluster.close();
  }
  const exitCode = worst(entries.map((e) => e.exitCode));
  if (values.junit !== undefined) writeAtomic(values.junit, renderJUnit(journals));
  if (results.length > 1) {
    const index = writeIndex(options.reportDir, entries, exitCode);
    ctx.io.stdout.write(`\n${journals.map(verdictLine).join("\n")}\n`);
    const skipped = results.length - entries.length;
    ctx.io.stdout.write(`${entries.length} of ${results.length} scenarios ran${skipped > 0 ? ` (${skipped} not run)` : ""}; index: ${index}; exit ${exitCode}\n`);
  }
  return exitCode;
}
