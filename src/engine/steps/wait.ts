// A wait step: the run holds still for its duration (the steady state's monitor samples on);
// Ctrl-C ends it at once.
import type { PlannedWaitStep } from "../../plan/types.js";
import { sleep } from "../pool.js";
import type { StepRunner } from "./step-runner.js";

export const waitStep: StepRunner<PlannedWaitStep> = {
  accepts: (step): step is PlannedWaitStep => step.kind === "wait",
  run: (step, ctx) => sleep(step.durationMs, ctx.signal),
};
