#!/usr/bin/env node
// The entry point: the only place that reads process.env or sets the exit code (process.exit
// only as a last resort). Everything else gets what it needs through CliIO.
import { runCli } from "./cli.js";
import type { CliIO } from "./io.js";

const io: CliIO = {
  stdout: { write: (s) => void process.stdout.write(s) },
  stderr: { write: (s) => void process.stderr.write(s) },
  stdoutIsTTY: process.stdout.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
  env: process.env,
  cwd: process.cwd(),
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`chaos-run: internal error: ${String(e)}\n`);
    process.exit(3);
  },
);
