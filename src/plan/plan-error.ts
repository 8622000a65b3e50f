// A refusal to plan, located at a place in the scenario: nothing is touched, exit 3.
import { ChaosRunError, ExitCode } from "../errors.js";

export type PlanErrorCode = "no-pods" | "not-enough-pods" | "blast-radius" | "bad-fault-id" | "system-namespace" | "host-network" | "stress-bound";

/** A refusal to plan: located at a place in the scenario (JSON pointer), exit 3 (could not run). */
export class PlanError extends ChaosRunError {
  constructor(
    readonly code: PlanErrorCode,
    message: string,
    /** JSON pointer into the scenario, e.g. `/target/mode` */
    readonly path: string,
    hint: string,
    /** for system-namespace: the namespace refused */
    readonly namespace?: string | undefined,
  ) {
    super(ExitCode.CouldNotRun, message, { hint });
    this.name = "PlanError";
  }
}
