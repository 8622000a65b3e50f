// The shortcut verbs — pod-chaos's `install -p POD` and `disrupt -p POD -d MS -r S`, kept, and
// the ones in their style for the newer faults (`http`, `kill`, `kill-pod`, `stress`,
// `disconnect`) — each build a small scenario from their flags (no YAML) and run it through the
// same engine as `chaos-run FILE`, so they get the same preflight, plan, revert guarantees and
// report. This is how the scenario is built.
import { TTL_MARGIN_MS } from "../engine/preflight.js";
import { readExpectation, type Expectation } from "../expect/expectation.js";
import type { Fault } from "../faults/types.js";
import type { Probe, ProbeRun, Scenario, Step, TargetSelection } from "../scenario/types.js";
import { DEFAULT_AGENT_IMAGE, DEFAULT_AGENT_LEASE_MS, DEFAULT_AGENT_TTL_MS, DEFAULT_PULL_POLICY, type PullPolicy } from "../scenario/types.js";

export interface ShortcutScenarioOptions {
  /** the verb: the scenario's name, and its "file" in reports */
  readonly name: string;
  /** -p, --service, --workload or -l (targetSelection) */
  readonly selection: TargetSelection;
  readonly namespace: string | undefined;
  readonly pullPolicy?: PullPolicy | undefined;
  readonly ttlMs?: number | undefined;
  readonly leaseMs?: number | undefined;
  readonly steps: readonly Step[];
  readonly probes?: Readonly<Record<string, Probe>> | undefined;
  readonly steadyState?: readonly ProbeRun[] | undefined;
}

export function shortcutScenario(o: ShortcutScenarioOptions): Scenario {
  return {
    apiVersion: "chaos-run/v1",
    kind: "Scenario",
    metadata: { name: o.name, description: undefined },
    // the shortcut verbs never reach into kube-system & co: that opt-in is for scenarios, where it is reviewed
    target: { namespace: o.namespace, selection: o.selection, mode: { kind: "all" }, seed: undefined, maxPods: undefined, allowSystemNamespaces: false },
    agent: { image: DEFAULT_AGENT_IMAGE, ttlMs: o.ttlMs ?? DEFAULT_AGENT_TTL_MS, leaseMs: o.leaseMs ?? DEFAULT_AGENT_LEASE_MS, pullPolicy: o.pullPolicy ?? DEFAULT_PULL_POLICY },
    probes: o.probes ?? {},
    steadyState: o.steadyState ?? [],
    steps: o.steps,
  };
}

export interface HeldFaultOptions extends Omit<ShortcutScenarioOptions, "ttlMs" | "leaseMs" | "steps"> {
  readonly step: Step;
  readonly durationMs: number;
  /** --detach: the fault is handed to the agent, whose lease ends it */
  readonly detach: boolean;
}

/**
 * A fault held for its duration (disrupt, http, disconnect, stress): here in the foreground, its
 * lease renewed, or — detached — by the agent alone, for a lease of the fault's whole life.
 */
export function heldFaultScenario(o: HeldFaultOptions): Scenario {
  const { step, durationMs, detach, ...rest } = o;
  return shortcutScenario({
    ...rest,
    // the agent outlives the fault by far: its TTL is the last resort, never the fault's end
    ttlMs: Math.max(DEFAULT_AGENT_TTL_MS, durationMs + 2 * TTL_MARGIN_MS),
    leaseMs: detach ? durationMs : undefined,
    steps: [step],
  });
}

/** A shortcut verb's own expectation, written as a scenario would (`restarts`, `{ atLeast: 1 }`). */
export function shortcutExpectation(at: string, metric: string, raw: unknown): Expectation {
  const r = readExpectation(metric, raw, `${at}/expect/${metric}`);
  if (!r.ok) throw new TypeError(`a shortcut verb's expectation ${metric} does not parse`);
  return r.expectation;
}

/** The one fault step of a shortcut verb. */
export function faultStep(name: string, fault: Fault, durationMs: number, extra: { during?: readonly ProbeRun[]; expect?: readonly Expectation[] } = {}): Step {
  return { kind: "fault", index: 0, name, path: "/steps/0", fault, durationMs, during: extra.during ?? [], expect: extra.expect ?? [] };
}

/** The command that ends a detached fault early. */
export function sweepCommand(namespace: string | undefined): string {
  return `chaos-run sweep${namespace !== undefined ? ` -n ${namespace}` : ""}`;
}

/** Seconds as the verbs say them (`30s`, `1.5s`): what `-r` and `-w` were given. */
export function seconds(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}
