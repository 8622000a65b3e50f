// Runs the engine against a RecordingCluster on vitest's fake clock: the plan of a scenario
// written inline, the events it emits, and helpers that move fake time on until something
// happened. Nothing here sleeps for real.
import { vi } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { Interrupted, type InterruptSignal } from "../../src/engine/interrupt.js";
import { runPlan, type EngineOptions, type RunResult } from "../../src/engine/run.js";
import { planRun } from "../../src/plan/plan.js";
import type { Plan } from "../../src/plan/types.js";
import { validateSource } from "../../src/scenario/load.js";
import type { Scenario } from "../../src/scenario/types.js";
import type { RecordingCluster } from "./recording-cluster.js";

export function scenarioOf(yaml: string): Scenario {
  const r = validateSource("inline.yaml", yaml);
  if (r.scenario === undefined) throw new Error(JSON.stringify(r.diagnostics));
  return r.scenario;
}

/** One 10 s netem fault under a 3 s lease (renewed every second, each renewal bounded by 900 ms). */
export const ONE_FAULT = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 10s
`;

export const fakeClock = (): void => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"], now: Date.parse("2026-12-01T10:00:00.000Z") });
};

export interface Running {
  readonly plan: Plan;
  readonly events: EngineEvent[];
  readonly controller: AbortController;
  readonly result: Promise<RunResult>;
  /** the fake time the run started at */
  readonly t0: number;
  /** aborts the run as main.ts does on SIGINT/SIGTERM */
  interrupt(signal?: InterruptSignal): void;
}

export function start(cluster: RecordingCluster, scenario: Scenario, options: Partial<EngineOptions> = {}): Running {
  const plan = planRun(
    scenario,
    [...cluster.pods.values()].map((p) => ({ name: p.name, ip: p.ip })),
    { runId: "r1", namespace: "default" },
  );
  const events: EngineEvent[] = [];
  const controller = new AbortController();
  const t0 = Date.now();
  const result = runPlan(plan, cluster, (e) => events.push(e), controller.signal, {
    runId: "r1",
    pods: [...cluster.pods.values()].filter((p) => plan.target.pods.some((x) => x.name === p.name)),
    namespace: "default",
    concurrency: 16,
    injectTimeoutMs: 120_000,
    execTimeoutMs: 30_000,
    revertDeadlineMs: 30_000,
    probeTimeoutMs: 600_000,
    handOffToLease: false,
    env: {},
    keepTools: false,
    now: () => Date.now(),
    // the tests send the first fault by exec, as to a reused agent; engine-first-fault.test.ts
    // runs the path where it travels with the fresh agent
    firstFaultWithAgent: false,
    ...options,
  });
  return { plan, events, controller, result, t0, interrupt: (signal = "SIGINT") => controller.abort(new Interrupted(signal)) };
}

/** Moves fake time on, 10 ms at a time, until `cond` holds. */
export async function until(cond: () => boolean, limitMs = 120_000): Promise<void> {
  for (let t = 0; t <= limitMs; t += 10) {
    if (cond()) return;
    await vi.advanceTimersByTimeAsync(10);
  }
  throw new Error(`not reached within ${limitMs} ms of fake time`);
}

/** Moves fake time on until the run ends; returns its result. */
export async function finish(run: Running, limitMs = 300_000): Promise<RunResult> {
  let out: RunResult | undefined;
  void run.result.then((r) => (out = r));
  await until(() => out !== undefined, limitMs);
  if (out === undefined) throw new Error("no result");
  return out;
}

export function typesOf(events: readonly EngineEvent[]): string[] {
  return events.map((e) => e.type);
}
