// The few named errors of chaos-run and the exit codes they map to.
// Everything below src/cli throws these (or returns diagnostics); only src/cli exits.

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  /** every expectation held */
  Ok: 0,
  /** an expectation failed: the system under test deviated */
  ExpectationFailed: 1,
  /** invalid scenario or usage */
  Invalid: 2,
  /** could not run: cluster, RBAC, Pod Security, preflight, probe could not run */
  CouldNotRun: 3,
  /** a revert could not be confirmed: a fault may remain */
  RevertUnconfirmed: 4,
  /** interrupted by SIGINT, after reverting */
  Interrupted: 130,
  /** terminated by SIGTERM, after reverting */
  Terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ChaosRunErrorOptions {
  /** what to do about it, one line */
  hint?: string | undefined;
  cause?: unknown;
}

/** Marks ChaosRunErrors across separately bundled copies of this module (see isChaosRunError). */
const BRAND: unique symbol = Symbol.for("chaos-run.ChaosRunError");

/** An error a user can act on: a message, an exit code and a hint. Printed without a stack. */
export class ChaosRunError extends Error {
  readonly [BRAND] = true;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(exitCode: ExitCode, message: string, options: ChaosRunErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ChaosRunError";
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** Bad usage or input (exit 2). */
export class UsageError extends ChaosRunError {
  constructor(message: string, options: ChaosRunErrorOptions = {}) {
    super(ExitCode.Invalid, message, options);
    this.name = "UsageError";
  }
}

/** The run could not start or continue for a reason outside the system under test (exit 3). */
export class CouldNotRunError extends ChaosRunError {
  constructor(message: string, options: ChaosRunErrorOptions = {}) {
    super(ExitCode.CouldNotRun, message, options);
    this.name = "CouldNotRunError";
  }
}

/** instanceof, or the brand: a verb bundle (dist/cli/bundle) carries its own copy of this class. */
export function isChaosRunError(e: unknown): e is ChaosRunError {
  return e instanceof ChaosRunError || (typeof e === "object" && e !== null && BRAND in e);
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
