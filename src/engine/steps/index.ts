// The step runners, one per kind of step: a wait, a probe, and a fault by how it is delivered —
// through the pods' own agents (netem, partition, http), by stress agents of its own, by kill
// agents of its own, or through the API (podDelete). Each stands behind the one StepRunner
// contract (step-runner.ts); a kind the table lacks does not compile.
import type { PlannedStep } from "../../plan/types.js";
import { killStep } from "./kill.js";
import { networkFaultStep } from "./network.js";
import { podDeleteStep } from "./pod-delete.js";
import { probeStep } from "./probe.js";
import type { StepContext, StepRunner } from "./step-runner.js";
import { stressStep } from "./stress.js";
import { waitStep } from "./wait.js";

/** Which runner a step goes to: its kind, and a fault's delivery. */
type StepKey = Exclude<PlannedStep["kind"], "fault"> | Extract<PlannedStep, { kind: "fault" }>["fault"]["delivery"];

/** A runner offered any step: it runs the steps it accepts, and declines the others (undefined). */
type Offer = (step: PlannedStep, ctx: StepContext) => Promise<void> | undefined;

function offer<S extends PlannedStep>(runner: StepRunner<S>): Offer {
  return (step, ctx) => (runner.accepts(step) ? runner.run(step, ctx) : undefined);
}

const RUNNERS: { readonly [K in StepKey]: Offer } = {
  wait: offer(waitStep),
  probe: offer(probeStep),
  agent: offer(networkFaultStep),
  "stress-agent": offer(stressStep),
  "kill-agent": offer(killStep),
  api: offer(podDeleteStep),
};

/** Runs one step through the runner of its kind. */
export function runStep(step: PlannedStep, ctx: StepContext): Promise<void> {
  const run = RUNNERS[step.kind === "fault" ? step.fault.delivery : step.kind](step, ctx);
  if (run === undefined) throw new TypeError(`${step.kind} step ${step.index + 1} has no runner the engine knows`);
  return run;
}
