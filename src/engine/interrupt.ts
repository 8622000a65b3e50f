// The reason a run's AbortController is aborted with when the user interrupts it.
import { ExitCode } from "../errors.js";

export type InterruptSignal = "SIGINT" | "SIGTERM";

export class Interrupted extends Error {
  constructor(readonly signal: InterruptSignal) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }

  get exitCode(): number {
    return this.signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated;
  }
}

export function interruptOf(signal: AbortSignal): Interrupted | undefined {
  return signal.aborted && signal.reason instanceof Interrupted ? signal.reason : undefined;
}
