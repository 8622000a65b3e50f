// The CLI in-process for the compare tests: runCli with recording I/O, and a verb's context.
import { runCli } from "../../src/cli/cli.js";
import { extractGlobalFlags } from "../../src/cli/globals.js";
import type { CliIO, VerbContext } from "../../src/cli/io.js";

export interface Recorded {
  stdout: string;
  stderr: string;
}

/** I/O that keeps what is written; `tty`: both streams are terminals. */
export function recordingIO(env: Record<string, string> = {}, tty = false): { io: CliIO; out: Recorded } {
  const out: Recorded = { stdout: "", stderr: "" };
  const io: CliIO = {
    stdout: {
      write: (s) => {
        out.stdout += s;
      },
    },
    stderr: {
      write: (s) => {
        out.stderr += s;
      },
    },
    stdoutIsTTY: tty,
    stderrIsTTY: tty,
    env,
    cwd: process.cwd(),
  };
  return { io, out };
}

/** `chaos-run ARGS`: its exit status and what it wrote. */
export async function cli(args: readonly string[], options: { env?: Record<string, string>; tty?: boolean } = {}): Promise<Recorded & { code: number }> {
  const { io, out } = recordingIO(options.env, options.tty);
  const code = await runCli(args, io);
  return { code, ...out };
}

/** A verb's context over recording I/O, without flags or interrupts. */
export function verbContext(env: Record<string, string> = {}): { ctx: VerbContext; out: Recorded } {
  const { io, out } = recordingIO(env);
  return { ctx: { args: [], io, debug: false, globals: extractGlobalFlags([]).globals, interrupts: () => new AbortController().signal }, out };
}
