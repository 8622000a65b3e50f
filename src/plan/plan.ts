// planRun: scenario + pods + seed → Plan. Pure: no clock, no I/O, randomness only from the
// seeded PRNG (the target pods: targets.ts). Each step planned in timeline order: a fault
// (faults.ts), a probe run (probe-runs.ts), a wait.
import { expectationText } from "../expect/expectation.js";
import { NETWORK_CAPABILITIES, capabilitiesFor } from "../faults/index.js";
import { DEFAULT_SEED, SYSTEM_NAMESPACE_HINT, SYSTEM_NAMESPACES } from "../scenario/types.js";
import type { PullPolicy, Scenario, Step } from "../scenario/types.js";
import { selectorString } from "../scenario/selector.js";
import { plannedFault } from "./faults.js";
import { PlanError } from "./plan-error.js";
import { plannedRun } from "./probe-runs.js";
import { choosePods, modeCount, modeText, targetSelector, targetVia } from "./targets.js";
import type { Plan, PlannedPod, PlannedProbeRun, PlannedStep, TargetPod } from "./types.js";

// named here too for the callers that import them from plan.js
export { PlanError } from "./plan-error.js";
export type { PlanErrorCode } from "./plan-error.js";
export { abArgv, curlArgv, probeUsesTarget } from "./probe-runs.js";
export { faultSummary } from "./fault-words.js";
export { KILL_AGENT_MARGIN_MS } from "./faults.js";
export { modeCount, modeText, selectorText, targetSelector, targetVia } from "./targets.js";

/** The run id of an offline plan: a real run has its own (8 random characters, new each run). */
export const OFFLINE_RUN_ID = "offline";

export interface PlanOptions {
  /** overrides the scenario's target.seed */
  readonly seed?: number | undefined;
  /** the run's id: in every request, and the prefix of fault ids (`<runId>-s2`); default OFFLINE_RUN_ID */
  readonly runId?: string | undefined;
  /** namespace when the scenario has none (--namespace, or the kubeconfig's) */
  readonly namespace?: string | undefined;
  /** agent image override (--agent-image) */
  readonly agentImage?: string | undefined;
  /** pull policy override (--pull-policy) */
  readonly pullPolicy?: PullPolicy | undefined;
}

function refuseSystemNamespace(scenario: Scenario, namespace: string | undefined): void {
  const target = scenario.target;
  if (namespace !== undefined && SYSTEM_NAMESPACES.includes(namespace) && !target.allowSystemNamespaces) {
    throw new PlanError(
      "system-namespace",
      `namespace ${namespace} holds the cluster's own components: chaos-run refuses to target it unless the scenario says target.allowSystemNamespaces: true (nothing was touched)`,
      target.namespace !== undefined ? "/target/namespace" : "/target",
      SYSTEM_NAMESPACE_HINT,
      namespace,
    );
  }
}

function plannedStep(scenario: Scenario, step: Step, startMs: number, pods: readonly PlannedPod[], runId: string): PlannedStep {
  switch (step.kind) {
    case "fault": {
      const fault = plannedFault(step, pods, runId, scenario.agent.leaseMs);
      const expect = step.expect ?? [];
      return {
        kind: "fault",
        index: step.index,
        name: step.name,
        startMs,
        durationMs: step.durationMs,
        fault,
        during: step.during.map((r) => plannedRun(scenario, r)),
        expect,
        expectText: expect.map(expectationText),
      };
    }
    case "probe":
      return { kind: "probe", index: step.index, name: step.name, startMs, durationMs: undefined, run: plannedRun(scenario, step.run) };
    case "wait":
      return { kind: "wait", index: step.index, name: step.name, startMs, durationMs: step.durationMs };
    default: {
      const never: never = step;
      throw new TypeError(`unknown step ${JSON.stringify(never)}`);
    }
  }
}

/** A probe that asks the target pods' own agents (dns): the run adds them even without a fault they hold. */
export function asksPodAgents(runs: readonly Pick<PlannedProbeRun, "kind">[]): boolean {
  return runs.some((r) => r.kind === "dns");
}

/** Every probe run of a plan: the steady state's, the probe steps', those during faults. */
export function probeRunsOf(plan: Pick<Plan, "steadyState" | "steps">): PlannedProbeRun[] {
  return [...plan.steadyState, ...plan.steps.flatMap((s) => (s.kind === "probe" ? [s.run] : s.kind === "fault" ? s.during : []))];
}

/** The timeline of a scenario for given target pods (placeholders included). */
/** The target's selector as the API server reads it, when it has one (see targetSelector). */
function selectorOf(target: Scenario["target"]): string | undefined {
  const selector = targetSelector(target);
  return selector === undefined ? undefined : selectorString(selector);
}

function buildPlan(scenario: Scenario, pods: readonly PlannedPod[], candidates: readonly string[] | undefined, seed: number, offline: boolean, options: PlanOptions): Plan {
  const target = scenario.target;
  const namespace = target.namespace ?? options.namespace;
  refuseSystemNamespace(scenario, namespace);
  const runId = options.runId ?? OFFLINE_RUN_ID;
  // a step starts once the faults and waits before it have run their durations (probes take as long as they take)
  let t = 0;
  const steps = scenario.steps.map((step): PlannedStep => {
    const startMs = t;
    if (step.kind !== "probe") t += step.durationMs;
    return plannedStep(scenario, step, startMs, pods, runId);
  });
  const agentFaults = steps.flatMap((s) => (s.kind === "fault" && s.fault.delivery === "agent" ? [s.fault.fault] : []));
  // an agent added by a run without faults (install) is there for the network faults of later runs
  const install = scenario.steps.length === 0;
  const steadyState = scenario.steadyState.map((r) => plannedRun(scenario, r));
  const asking = asksPodAgents(probeRunsOf({ steadyState, steps }));
  const needed = install ? NETWORK_CAPABILITIES : [...new Set(agentFaults.flatMap((f) => capabilitiesFor(f)))];
  return {
    planVersion: 2,
    runId,
    scenario: { name: scenario.metadata.name, description: scenario.metadata.description },
    seed,
    offline,
    namespace,
    target: {
      selector: selectorOf(target),
      ...(targetVia(target) === undefined ? {} : { via: targetVia(target), resolution: target.resolved?.lines }),
      mode: target.mode,
      maxPods: target.maxPods,
      allowSystemNamespaces: target.allowSystemNamespaces,
      candidates,
      pods,
    },
    agent: {
      ...scenario.agent,
      image: options.agentImage ?? scenario.agent.image,
      pullPolicy: options.pullPolicy ?? scenario.agent.pullPolicy,
      capabilities: needed,
      // said only when no agent is held: kill agents and the API do it all
      ...(agentFaults.length > 0 || install || asking ? {} : { needed: false }),
    },
    steadyState,
    steps,
    timelineMs: t,
  };
}

/**
 * The plan of a run against known pods (from the cluster, or named offline). Throws PlanError
 * (located, exit 3) when the mode asks for more pods than exist or than maxPods allows: it
 * refuses, never clamps.
 */
export function planRun(scenario: Scenario, pods: readonly TargetPod[], options: PlanOptions = {}): Plan {
  const seed = options.seed ?? scenario.target.seed ?? DEFAULT_SEED;
  const { candidates, chosen } = choosePods(scenario, pods, seed);
  const planned = chosen.map(
    (p): PlannedPod => ({
      name: p.name,
      ip: p.ip,
      placeholder: false,
      role: p.role,
      controller: p.controller,
      containers: p.containers,
      limits: p.limits,
      requests: p.requests,
      sharesProcesses: p.sharesProcesses,
    }),
  );
  return buildPlan(scenario, planned, candidates, seed, false, options);
}

export interface OfflinePlanOptions extends PlanOptions {
  /** `--pods a,b,c`: the pods the selector would match */
  readonly pods?: readonly string[] | undefined;
}

/**
 * The plan without a cluster. Pods: `--pods`, else the scenario's `pods:` names, else
 * placeholders: `one` and `{count: N}` give N numbered placeholders
 * (`<pod matching run=nginx #1>`), `all` and `{percent}` give one placeholder standing for
 * every chosen pod (their number is known only at run time, where maxPods is checked).
 */
export function planOffline(scenario: Scenario, options: OfflinePlanOptions = {}): Plan {
  const seed = options.seed ?? scenario.target.seed ?? DEFAULT_SEED;
  const selection = scenario.target.selection;
  const names = options.pods ?? (selection.kind === "pods" ? selection.names : undefined);
  if (names !== undefined) {
    const plan = planRun(
      scenario,
      names.map((name) => ({ name })),
      options,
    );
    return { ...plan, offline: true };
  }
  const via = targetVia(scenario.target);
  const sel = via === undefined ? `matching ${selectorOf(scenario.target) ?? ""}` : `of ${via}`;
  const mode = scenario.target.mode;
  let pods: PlannedPod[];
  switch (mode.kind) {
    case "one":
    case "count": {
      const n = modeCount(mode, Number.MAX_SAFE_INTEGER);
      if (scenario.target.maxPods !== undefined && n > scenario.target.maxPods) {
        throw new PlanError("blast-radius", `mode ${modeText(mode)} would hit ${n} pods, above maxPods ${scenario.target.maxPods}`, "/target/maxPods", "narrow the target or raise maxPods");
      }
      pods = Array.from({ length: n }, (_, i) => ({ name: `<pod ${sel} #${i + 1}>`, ip: undefined, placeholder: true, role: undefined }));
      break;
    }
    case "all":
      pods = [{ name: `<every pod ${sel}>`, ip: undefined, placeholder: true, role: undefined }];
      break;
    case "percent":
      pods = [{ name: `<${mode.percent}% of the pods ${sel}, chosen with seed ${seed}>`, ip: undefined, placeholder: true, role: undefined }];
      break;
  }
  return buildPlan(scenario, pods, undefined, seed, true, options);
}
