import { execFile } from "node:child_process";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv (never through a shell) and resolves with its exit code and output. */
export function run(argv: readonly string[], input?: string): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("run: empty argv");
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr: err !== null && typeof err.code !== "number" ? `${stderr}${err.message}` : stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs argv and throws with its stderr when it fails. */
export async function must(argv: readonly string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}
