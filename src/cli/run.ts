// chaos-run run FILE [options]   (also: chaos-run FILE)
import { UsageError, CouldNotRunError } from "../errors.js";
import { runPlan, type RunResult } from "../engine/run.js";
import { fanOut, type EngineEvent } from "../engine/events.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import { PlanError, planRun, selectorText } from "../plan/plan.js";
import type { Plan } from "../plan/types.js";
import { readScenarioFile } from "../scenario/load.js";
import type { Scenario } from "../scenario/types.js";
import { plainView } from "../ui/plain.js";
import { integerFlag, parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, CLUSTER_OPTIONS, ENGINE_DEFAULTS, connectFromFlags, newRunId } from "./cluster.js";
import { formatText } from "./diagnostics-output.js";
import { stderrIsPretty, type VerbContext } from "./io.js";
import { writePlanError } from "./plan.js";
import { toFileDiagnostics } from "./validate.js";

export const HELP = `Usage: chaos-run run FILE [options]
       chaos-run FILE [options]

Runs a scenario against the cluster: resolves the target pods, checks permissions and Pod
Security before touching anything, adds the agent to each pod as an ephemeral container (or
reuses one that still runs), applies each fault for its duration and reverts it — at its end,
on any error, and on Ctrl-C/SIGTERM (then exits 130/143).

Options:
  --seed N               seed of the pod choice (default: the scenario's target.seed)
  --agent-image IMAGE    agent image (default: the scenario's agent.image, chaos-agent:latest)
  --concurrency N        pods worked on at once (default ${ENGINE_DEFAULTS.concurrency})
  -h, --help             this help
${CLUSTER_HELP}

Exit status: 0 all expectations held, 1 an expectation failed, 2 invalid scenario or usage,
3 could not run, 4 a revert could not be confirmed, 130/143 interrupted (after reverting).
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
      throw new CouldNotRunError(`pod${notRunning.length > 1 ? "s" : ""} ${notRunning.map((p) => `${p.name} (${p.deleting ? "terminating" : p.phase})`).join(", ")} in namespace ${namespace} cannot take an agent: not running (nothing was touched)`);
    }
    return found;
  }
  const all = await cluster.listPods(namespace, selectorText(sel.matchLabels));
  const running = all.filter((p) => p.phase === "Running" && !p.deleting);
  const skipped = all.filter((p) => !running.includes(p));
  if (skipped.length > 0) warn(`skipping pods that are not running: ${skipped.map((p) => `${p.name} (${p.deleting ? "terminating" : p.phase})`).join(", ")}`);
  return running;
}

export interface RunSetup {
  readonly scenario: Scenario;
  readonly file: string;
  readonly seed?: number | undefined;
  readonly agentImage?: string | undefined;
  readonly namespaceFlag?: string | undefined;
  readonly concurrency: number;
  /** disrupt without --wait */
  readonly handOffToLease: boolean;
}

/** Connects, plans against the real pods, runs, and reports through the plain view. */
export async function runScenario(ctx: VerbContext, cluster: Cluster, setup: RunSetup, observers: readonly ((e: EngineEvent) => void)[] = []): Promise<{ result: RunResult; plan: Plan } | { planError: PlanError }> {
  const namespace = setup.scenario.target.namespace ?? setup.namespaceFlag ?? cluster.identity.namespace;
  const view = plainView(ctx.io.stderr);
  const warn = (message: string): void => view({ type: "warning", at: Date.now(), message });
  const pods = await resolveTargets(cluster, setup.scenario, namespace, warn);
  const runId = newRunId();
  let plan: Plan;
  try {
    plan = planRun(setup.scenario, pods.map((p) => ({ name: p.name, ip: p.ip })), { seed: setup.seed, faultIdPrefix: runId, namespace, agentImage: setup.agentImage });
  } catch (e) {
    if (e instanceof PlanError) return { planError: e };
    throw e;
  }
  const chosen = new Set(plan.target.pods.map((p) => p.name));
  const emit = fanOut([view, ...observers], (err) => ctx.io.stderr.write(`chaos-run: a view failed (ignored): ${String(err)}\n`));
  const signal = ctx.interrupts();
  const result = await runPlan(plan, cluster, emit, signal, {
    runId,
    pods: pods.filter((p) => chosen.has(p.name)),
    namespace,
    concurrency: setup.concurrency,
    injectTimeoutMs: ENGINE_DEFAULTS.injectTimeoutMs,
    execTimeoutMs: ENGINE_DEFAULTS.execTimeoutMs,
    revertDeadlineMs: ENGINE_DEFAULTS.revertDeadlineMs,
    handOffToLease: setup.handOffToLease,
    now: Date.now,
  });
  return { result, plan };
}

export function writeResult(ctx: VerbContext, result: RunResult): number {
  if (result.message !== undefined && result.exitCode !== 0) {
    ctx.io.stderr.write(`chaos-run: ${result.exitCode === 130 || result.exitCode === 143 ? "" : "error: "}${result.message}\n${result.hint !== undefined ? `  hint: ${result.hint}\n` : ""}`);
  }
  return result.exitCode;
}

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("run", ctx.args, {
    ...CLUSTER_OPTIONS,
    seed: { type: "string" },
    "agent-image": { type: "string" },
    concurrency: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (file === undefined) throw new UsageError("run needs a scenario FILE", { hint: "chaos-run scenarios/nginx-latency.yaml" });
  if (extra.length > 0) throw new UsageError(`run takes one FILE for now, got ${positionals.length}`);
  const result = readScenarioFile(file);
  if (result.scenario === undefined) {
    ctx.io.stderr.write(formatText([toFileDiagnostics(result)], stderrIsPretty(ctx.io)));
    return 2;
  }
  const cluster = await connectFromFlags(values, ctx.io);
  try {
    const outcome = await runScenario(ctx, cluster, {
      scenario: result.scenario,
      file,
      seed: integerFlag("seed", values.seed, 0, 4294967295),
      agentImage: values["agent-image"],
      namespaceFlag: values.namespace,
      concurrency: integerFlag("concurrency", values.concurrency, 1, 1000) ?? ENGINE_DEFAULTS.concurrency,
      handOffToLease: false,
    });
    if ("planError" in outcome) return writePlanError(ctx, file, result, outcome.planError, "text");
    return writeResult(ctx, outcome.result);
  } finally {
    cluster.close();
  }
}
