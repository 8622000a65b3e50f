// Runs argv on this process's terminal and writes how it ended to a file (`0`, `1`, `SIGINT`…).
// A tmux pane runs this instead of the program itself: tmux 3.3a can leave a pane's process a
// zombie and never mark the pane dead when the machine is busy, so a test reads the file instead.
//   node exit-status.mjs STATUS-FILE -- PROGRAM ARG...
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const [file, dashes, program, ...args] = process.argv.slice(2);
if (file === undefined || dashes !== "--" || program === undefined) {
  process.stderr.write("usage: exit-status.mjs STATUS-FILE -- PROGRAM ARG...\n");
  process.exit(2);
}
const child = spawn(program, args, { stdio: "inherit" });
// the program owns the terminal's signals; this wrapper only waits for it
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => undefined);
child.on("error", (e) => {
  writeFileSync(file, `error ${e.message}`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  writeFileSync(file, signal ?? String(code));
  process.exit(code ?? 128);
});
