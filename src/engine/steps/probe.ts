// A probe step: one probe run between faults, its expectations judged, its results saved for
// later steps (checks.ts).
import type { PlannedProbeStep } from "../../plan/types.js";
import type { StepRunner } from "./step-runner.js";

export const probeStep: StepRunner<PlannedProbeStep> = {
  accepts: (step): step is PlannedProbeStep => step.kind === "probe",
  run: async (step, ctx) => {
    await ctx.checks.run([step.run], { phase: "step", index: step.index, stepName: step.name }, ctx.signal);
  },
};
