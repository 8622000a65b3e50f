// Journals for the compare tests: the demo run of test/fixtures/report/demo (nginx, a netem
// delay of 100 ms for 30 s, an http probe sampled every 4 s through the run and every 10 s
// during the fault) and variants of it made by editing a copy, each edit saying what it stands
// for. test/fixtures/compare/latency-x2 is written from latencyTimes(demo, 2) (UPDATE_GOLDEN=1).
// And seeded random samples for the statistics.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../../src/plan/prng.js";
import type { Journal, JournalFault } from "../../src/report/journal.js";

export const root = join(import.meta.dirname, "../..");
export const DEMO = join(root, "test/fixtures/report/demo/journal.json");
export const LATENCY_X2 = join(root, "test/fixtures/compare/latency-x2");

export function demo(): Journal {
  return JSON.parse(readFileSync(DEMO, "utf8")) as Journal;
}

function faultWindow(j: Journal): [number, number] {
  const f = j.faults[0] as JournalFault;
  return [Date.parse(f.appliedAt ?? ""), Date.parse(f.revertedAt ?? "")];
}

/** Every latency the probes measured while the fault was held, times `factor` (the service got slower under it). */
export function latencyTimes(j: Journal, factor: number): Journal {
  const out = structuredClone(j);
  const [from, to] = faultWindow(out);
  for (const p of out.probes) {
    const at = Date.parse(p.at);
    if (at < from || at > to) continue;
    for (const [k, v] of Object.entries(p.metrics)) if (k.startsWith("latency.") && v !== null) p.metrics[k] = v * factor;
  }
  return out;
}

interface PlanStepJson {
  name: string;
  fault?: { summary: string; spec: Record<string, unknown> };
  during?: { argv: string[] }[];
}

export function planSteps(j: Journal): PlanStepJson[] {
  return (j.plan as { steps: PlanStepJson[] }).steps;
}

/** The fault step with another fault: `spec` as the plan would hold it. */
export function withFault(j: Journal, summary: string, spec: Record<string, unknown>): Journal {
  const out = structuredClone(j);
  const step = planSteps(out)[1];
  if (step?.fault === undefined) throw new Error("the demo's step 2 is its fault");
  step.fault.summary = summary;
  step.fault.spec = spec;
  for (const f of out.faults) f.summary = summary;
  return out;
}

/** The demo's fault step turned into a kill of nginx on `pods`, each observing `recoveryMs` (null: it did not recover in the window). */
export function killRun(recoveryMs: Record<string, number | null>): Journal {
  const out = withFault(demo(), "SIGKILL to the main process of container nginx", { kind: "kill", signal: "SIGKILL", container: "nginx" });
  const template = out.faults[0] as JournalFault;
  out.faults = Object.entries(recoveryMs).map(([pod, ms]) => ({
    ...structuredClone(template),
    pod,
    observed: {
      at: template.revertedAt ?? template.appliedAt ?? out.startedAt,
      kind: "kill",
      metrics: { restarts: ms === null ? 0 : 1, exitCode: 137, "recovery.time": ms },
      detail: "container nginx restarted",
    },
  }));
  (out.plan as { target: { pods: { name: string }[] } }).target.pods = Object.keys(recoveryMs).map((name) => ({ name, ip: null, placeholder: false, role: null }) as { name: string });
  return out;
}

/** Every pod name of the run replaced (a Deployment's pods are new in every run). */
export function renamePod(j: Journal, from: string, to: string): Journal {
  const text = JSON.stringify(j).replaceAll(`"${from}"`, `"${to}"`);
  return JSON.parse(text) as Journal;
}

/** Normal draws (Box–Muller) from a seeded generator. */
export function normals(seed: number): (mean: number, sd: number) => number {
  const random = mulberry32(seed);
  return (mean, sd) => mean + sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export function draw(n: number, f: () => number): number[] {
  return Array.from({ length: n }, f);
}
