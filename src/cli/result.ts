// A run's exit status: what the CLI says of a run that did not pass, and the worst of several.
import type { RunResult } from "../engine/run.js";
import { errorText, type VerbContext } from "./io.js";

export function writeResult(ctx: VerbContext, result: RunResult): number {
  if (result.message !== undefined && result.exitCode !== 0) {
    ctx.io.stderr.write(errorText(result.message, result.hint, result.exitCode === 130 || result.exitCode === 143 ? "" : "error: "));
  }
  return result.exitCode;
}

/** Worst first: a fault that may remain, then an interrupt, could-not-run, invalid, failed, passed. */
const SEVERITY: Readonly<Record<number, number>> = { 0: 0, 1: 1, 2: 2, 3: 3, 130: 4, 143: 4, 4: 5 };
export function worst(codes: readonly number[]): number {
  return codes.reduce((a, b) => ((SEVERITY[b] ?? 3) > (SEVERITY[a] ?? 3) ? b : a), 0);
}
