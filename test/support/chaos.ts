// Runs the built CLI (dist/cli/main.js) the way a user does: a separate process, no TTY.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { assertLabAddress, labDir, repoRoot } from "./lab.js";

export const cli = join(repoRoot, "dist/cli/main.js");

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** when the process exited (performance.now()) */
  endedAt: number;
}

export interface Running {
  child: ChildProcess;
  /** resolves when stderr (or stdout) has a line matching re; rejects if the process ends first */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<Finished>;
  output(): string;
}

export function startChaosRun(args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  if (args.some((a) => a.startsWith(labDir))) assertLabAddress(); // a run against the lab
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: "true", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of listeners) l();
  };
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    notify();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    notify();
  });
  const done = new Promise<Finished>((resolve) => {
    child.on("close", (code, signal) => {
      notify();
      resolve({ code, signal, stdout, stderr, endedAt: performance.now() });
    });
  });
  let exited = false;
  void done.then(() => {
    exited = true;
    notify();
  });
  const waitFor = (re: RegExp, timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(stderr + stdout);
        if (m !== null) {
          cleanup();
          resolve(m[0]);
        } else if (exited) {
          cleanup();
          reject(new Error(`chaos-run ended before ${re} appeared:\n${stderr}${stdout}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${re}:\n${stderr}${stdout}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return { child, waitFor, done, output: () => stderr + stdout };
}

export async function chaosRun(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return startChaosRun(args, env).done;
}
