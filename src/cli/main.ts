#!/usr/bin/env node
// The entry point: the only place that reads process.env, sets the exit code and exits.
// Everything else gets what it needs through CliIO.
import { Interrupted } from "../engine/interrupt.js";
import { runCli } from "./cli.js";
import { guardOutput, type CliIO } from "./io.js";

guardOutput(process.stdout);
guardOutput(process.stderr);

const io: CliIO = {
  stdout: { write: (s) => void process.stdout.write(s) },
  stderr: { write: (s) => void process.stderr.write(s) },
  stdoutIsTTY: process.stdout.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
  env: process.env,
  cwd: process.cwd(),
};

// Until a verb asks for them (ctx.interrupts()), signals keep their default: exit at once.
// After: the first SIGINT/SIGTERM aborts the run, which reverts and exits 130/143; a second one
// quits now, saying what may remain (the agents revert by themselves when their leases lapse).
let controller: AbortController | undefined;
function interrupts(): AbortSignal {
  if (controller !== undefined) return controller.signal;
  const c = new AbortController();
  controller = c;
  const onSignal = (signal: "SIGINT" | "SIGTERM"): void => {
    if (!c.signal.aborted) {
      process.stderr.write(`\nchaos-run: ${signal}: reverting every fault before exiting (${signal === "SIGINT" ? "Ctrl-C" : "SIGTERM"} again to quit now)\n`);
      c.abort(new Interrupted(signal));
      return;
    }
    process.stderr.write(`chaos-run: quitting without confirming the reverts; the agents revert by themselves when their leases lapse\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  return c.signal;
}

/** Resolves once what was written to stdout and stderr has been handed to the OS. */
function flushed(): Promise<void> {
  const drain = (s: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => s.write("", () => resolve()));
  return Promise.all([drain(process.stdout), drain(process.stderr)]).then(() => undefined);
}

runCli(process.argv.slice(2), io, interrupts).then(
  async (code) => {
    // The verb is over and every fault it applied is reverted: exit now rather than wait for a
    // socket or timer a library may still hold open (a CI step must never hang after its report).
    await flushed();
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`chaos-run: internal error: ${String(e)}\n`);
    process.exit(3);
  },
);
