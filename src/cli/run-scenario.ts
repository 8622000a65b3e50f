// A scenario run against the cluster, by the run verb and the shortcut verbs alike: the target
// pods resolved (running, not terminating), the plan made against them, the engine run with
// every event going to the verb's observers.
import { fanOut, type EngineEvent, type PodRef } from "../engine/events.js";
import { runPlan, type RunResult } from "../engine/run.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import { PlanError, planRun } from "../plan/plan.js";
import type { Plan, TargetPod } from "../plan/types.js";
import { processRedactor } from "../scenario/redact.js";
import { templateSecrets } from "../scenario/template.js";
import type { PullPolicy, Scenario } from "../scenario/types.js";
import { agentImageOverride, ENGINE_DEFAULTS, newRunId } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { resolveTargets } from "./targets.js";

export { resolveTargets } from "./targets.js";

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
  /** a held fault's --detach: its lease is handed to the agent */
  readonly handOffToLease: boolean;
  /** keep a chaos-tools pod this run created */
  readonly keepTools?: boolean | undefined;
  readonly runId?: string | undefined;
  /** kill and podDelete steps end once every pod recovered (the kill and kill-pod verbs) */
  readonly untilRecovered?: boolean | undefined;
  /** the pod this run runs in (inside the cluster): never a target */
  readonly runnerPod?: PodRef | undefined;
  /** told the target pods once they are resolved (the Events recorder needs their UIDs) */
  readonly onTargets?: ((pods: readonly PodInfo[]) => void) | undefined;
}

/** The namespace a run works in: the scenario's, else -n, else the kubeconfig context's (in a pod: its ServiceAccount's). */
export function runNamespace(scenario: Scenario, namespaceFlag: string | undefined, cluster: Cluster): string {
  return scenario.target.namespace ?? namespaceFlag ?? cluster.identity.namespace;
}

/** Plans against the real pods and runs; every event goes to the observers. */
export async function runScenario(
  ctx: VerbContext,
  cluster: Cluster,
  setup: RunSetup,
  observers: readonly ((e: EngineEvent) => void)[],
): Promise<{ result: RunResult; plan: Plan } | { planError: PlanError }> {
  const namespace = runNamespace(setup.scenario, setup.namespaceFlag, cluster);
  // every value the scenario's templates take from the environment, out of whatever leaves the process from now on
  processRedactor().add(templateSecrets(setup.scenario, ctx.io.env));
  const emit = fanOut(observers, (err) => ctx.io.stderr.write(`chaos-run: a view failed (ignored): ${String(err)}\n`));
  // a Service or workload target is resolved to its selector here, its faults' Service ports mapped: what the plan shows
  const { scenario, pods } = await resolveTargets(cluster, setup.scenario, namespace, (message) => emit({ type: "warning", at: Date.now(), message }));
  setup.onTargets?.(pods);
  const runId = setup.runId ?? newRunId();
  let plan: Plan;
  try {
    plan = planRun(scenario, pods.map(targetPod), { seed: setup.seed, runId, namespace, agentImage: agentImageOverride(ctx.io, setup.agentImage), pullPolicy: setup.pullPolicy });
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
    runnerPod: setup.runnerPod,
  });
  return { result, plan };
}
