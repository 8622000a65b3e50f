// What a verb gets from main.ts: its arguments and the process's edges, passed in (verbs never
// touch process.* themselves, so tests run them in-process).
import { processRedactor } from "../scenario/redact.js";
import { terminalText } from "../report/sanitise.js";
import type { GlobalFlags } from "./globals.js";

export interface Output {
  write(text: string): void;
}

export interface CliIO {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export interface VerbContext {
  /** arguments after the verb */
  readonly args: readonly string[];
  readonly io: CliIO;
  /** --debug was given */
  readonly debug: boolean;
  /** --kubeconfig, --context, -n/--namespace, wherever they were on the command line */
  readonly globals: GlobalFlags;
  /**
   * A verb that reverts on Ctrl-C calls this: from then on SIGINT/SIGTERM abort the returned
   * signal (reason: engine's Interrupted) instead of killing the process, and the verb exits
   * 130/143 once it has reverted. A second signal quits at once (the agents' leases remain).
   */
  readonly interrupts: () => AbortSignal;
}

/** A verb module: `export async function run(ctx): Promise<exit code>`. */
export interface VerbModule {
  run(ctx: VerbContext): Promise<number>;
}

function noColor(io: CliIO): boolean {
  const value = io.env["NO_COLOR"];
  return value !== undefined && value !== "";
}

/** Colour and code frames on stderr: only a TTY, and only without NO_COLOR. */
export function stderrIsPretty(io: CliIO): boolean {
  return io.stderrIsTTY && !noColor(io);
}

/** Colour on stdout (tables, plans): only a TTY, and only without NO_COLOR. */
export function stdoutIsPretty(io: CliIO): boolean {
  return io.stdoutIsTTY && !noColor(io);
}

/**
 * An error as the CLI prints it, `chaos-run: error: MESSAGE` and its hint: a message may carry
 * a pod's text (an agent's error, a container's state message), sanitised for the terminal.
 */
export function errorText(message: string, hint: string | undefined, label = "error: "): string {
  return `chaos-run: ${label}${terminalText(message)}\n${hint !== undefined ? `  hint: ${terminalText(hint)}\n` : ""}`;
}

/**
 * One of the process's two streams, as every verb and view writes it (listr2 too, which writes
 * to them directly; main.ts guards both at start): what leaves is redacted (scenario/redact.ts: a
 * value filled in from the environment never does, its template does). A reader that went away
 * (`chaos-run validate … | head`) is not an error: what follows is dropped without a word, the
 * verb finishes — a run still reverts every fault — and exits with its own status.
 */
export function guardOutput(stream: NodeJS.WritableStream): void {
  let closed = false;
  // EPIPE, or any other failure to write: the reader is gone for good
  stream.on("error", () => {
    closed = true;
  });
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const guarded = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (closed) {
      const done = rest.find((x): x is () => void => typeof x === "function");
      if (done !== undefined) process.nextTick(done);
      return true;
    }
    return write(typeof chunk === "string" ? processRedactor().text(chunk) : chunk, ...rest);
  };
  stream.write = guarded as typeof stream.write;
}
