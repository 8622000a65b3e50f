// The seed tool's commands, kept: `install -p POD` and `disrupt -p POD -d MS -r S`, and the ones
// in their style for the newer faults (`http -p POD --port N`, `kill`, `kill-pod`, `stress`,
// `disconnect`). Each builds a small scenario (no YAML) and runs it through the same engine as
// `chaos-run FILE`, so they get the same preflight, plan, revert guarantees and report.
import { UsageError } from "../errors.js";
import { readExpectation, type Expectation } from "../expect/expectation.js";
import type { Fault, HttpParams, NetemParams } from "../faults/types.js";
import type { Probe, ProbeRun, Scenario, Step } from "../scenario/types.js";
import { DEFAULT_AGENT_IMAGE, DEFAULT_AGENT_LEASE_MS, DEFAULT_AGENT_TTL_MS, DEFAULT_PULL_POLICY, type PullPolicy } from "../scenario/types.js";

const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function podNames(values: readonly string[] | undefined, verb: string): string[] {
  const pods = (values ?? [])
    .flatMap((v) => v.split(","))
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (pods.length === 0) throw new UsageError(`${verb} needs a pod: -p POD`, { hint: `chaos-run ${verb} -p nginx` });
  const bad = pods.find((p) => !POD_NAME.test(p));
  if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not a pod name`);
  return pods;
}

/** A positive number flag (ms, s, %), with its unit in the message. */
export function numberFlag(flag: string, value: string | undefined, unit: string, options: { min: number; max: number; integer?: boolean }): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const ok = /^\d+(\.\d+)?$/.test(value) && n >= options.min && n <= options.max && (options.integer !== true || Number.isInteger(n));
  if (!ok) throw new UsageError(`${flag} takes ${options.integer === true ? "a whole number" : "a number"} of ${unit} from ${options.min} to ${options.max}, not ${JSON.stringify(value)}`);
  return n;
}

export interface SeedScenarioOptions {
  readonly name: string;
  readonly pods: readonly string[];
  readonly namespace: string | undefined;
  readonly agentImage: string | undefined;
  readonly pullPolicy?: PullPolicy | undefined;
  readonly ttlMs?: number | undefined;
  readonly leaseMs?: number | undefined;
  readonly steps: readonly Step[];
  readonly probes?: Readonly<Record<string, Probe>> | undefined;
  readonly steadyState?: readonly ProbeRun[] | undefined;
}

export function seedScenario(o: SeedScenarioOptions): Scenario {
  return {
    apiVersion: "chaos-run/v1",
    kind: "Scenario",
    metadata: { name: o.name, description: undefined },
    // the seed's verbs never reach into kube-system & co: that opt-in is for scenarios, where it is reviewed
    target: { namespace: o.namespace, selection: { kind: "pods", names: o.pods }, mode: { kind: "all" }, seed: undefined, maxPods: undefined, allowSystemNamespaces: false },
    agent: { image: o.agentImage ?? DEFAULT_AGENT_IMAGE, ttlMs: o.ttlMs ?? DEFAULT_AGENT_TTL_MS, leaseMs: o.leaseMs ?? DEFAULT_AGENT_LEASE_MS, pullPolicy: o.pullPolicy ?? DEFAULT_PULL_POLICY },
    probes: o.probes ?? {},
    steadyState: o.steadyState ?? [],
    steps: o.steps,
  };
}

/** A seed verb's own expectation, written as a scenario would (`restarts`, `{ atLeast: 1 }`). */
export function seedExpectation(at: string, metric: string, raw: unknown): Expectation {
  const r = readExpectation(metric, raw, `${at}/expect/${metric}`);
  if (!r.ok) throw new TypeError(`a seed verb's expectation ${metric} does not parse`);
  return r.expectation;
}

/** One fault step of a seed verb. */
export function faultStep(name: string, fault: Fault, durationMs: number, extra: { during?: readonly ProbeRun[]; expect?: readonly Expectation[] } = {}): Step {
  return { kind: "fault", index: 0, name, path: "/steps/0", fault, durationMs, during: extra.during ?? [], expect: extra.expect ?? [] };
}

/** A duration flag in whole seconds (`-r 30`, `--window 60`). */
export function secondsFlag(flag: string, value: string | undefined, max = 24 * 3600): number | undefined {
  return numberFlag(flag, value, "seconds", { min: 1, max, integer: true });
}

export function netemStep(params: NetemParams, durationMs: number, iface: string | undefined): Step {
  return {
    kind: "fault",
    index: 0,
    name: "disrupt",
    path: "/steps/0",
    fault: { kind: "netem", netem: params, scope: undefined, interface: iface },
    durationMs,
    during: [],
  };
}

export function httpStep(params: HttpParams, durationMs: number, iface: string | undefined): Step {
  return {
    kind: "fault",
    index: 0,
    name: "http",
    path: "/steps/0",
    fault: { kind: "http", http: params, interface: iface },
    durationMs,
    during: [],
  };
}
