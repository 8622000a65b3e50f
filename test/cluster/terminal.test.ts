// The terminal views, for real: the live listr2 view in a tmux pane (a real pty), and plain
// lines without any ANSI code when there is no terminal.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chaosRun, cli } from "../support/chaos.js";
import { kubeconfig, kubectlOk, makeNamespace, repoRoot, run, waitFor, waitReady } from "../support/lab.js";

const ns = "terminal-test";
const scenario = join(repoRoot, "test/fixtures/lab/probe-partition.yaml");
const session = `chaos-run-test-${process.pid}`;

beforeAll(async () => {
  await makeNamespace(ns);
  await kubectlOk(["run", "nginx", "-n", ns, "--image", "nginx"]);
  await waitReady(ns, "nginx");
});

describe("in a terminal", () => {
  it("shows listr2's live steps, then the table and the verdict", async () => {
    // a private tmux server; the command runs in its pty as argv (no shell) under a wrapper that
    // records its exit status (tmux may not notice the exit on a busy machine), and its pane
    // stays after it exits so the screen can be read back
    const tmux = (...args: string[]) => run(["tmux", "-L", session, "-f", "/dev/null", ...args]);
    const statusDir = mkdtempSync(join(tmpdir(), "chaos-run-tty-"));
    const statusFile = join(statusDir, "status");
    expect((await tmux("new-session", "-d", "-s", "keep")).code).toBe(0);
    try {
      await tmux("set-option", "-g", "remain-on-exit", "on");
      const started = await tmux(
        "new-session",
        "-d",
        "-s",
        "run",
        "-x",
        "200",
        "-y",
        "60",
        "-e",
        "CI=",
        "-e",
        "TERM=xterm-256color",
        "--",
        process.execPath,
        join(repoRoot, "test/support/exit-status.mjs"),
        statusFile,
        "--",
        process.execPath,
        cli,
        scenario,
        "--kubeconfig",
        kubeconfig,
        "-n",
        ns,
        "--report-dir",
        join(repoRoot, ".lab/test-reports"),
      );
      expect(started.code, started.stderr).toBe(0);
      const screen = async (): Promise<string> => (await tmux("capture-pane", "-p", "-t", "run", "-S", "-100")).stdout;
      const live = await waitFor(
        "the live view's countdown",
        async () => {
          const s = await screen();
          return /left of 4s/.test(s) ? s : undefined;
        },
        90_000,
        100,
      );
      expect(live).toMatch(/✔ Preflight: permissions, Pod Security, agent TTL/);
      expect(live).toMatch(/✔ Steady state \(before\)/);
      expect(live).toMatch(/2\. cut port 80: partition .* for 4s/);
      const status = await waitFor("the end of the run", async () => (existsSync(statusFile) ? readFileSync(statusFile, "utf8") : undefined), 90_000, 200).catch(async (e: unknown) => {
        throw new Error(`${String(e)}; the screen:\n${await screen()}`);
      });
      expect(status).toBe("0");
      const end = await screen();
      expect(end).toMatch(/✔ 3\. recovery: probe web/);
      expect(end).toMatch(/┌─+┬/);
      expect(end).toMatch(/PASS probe-partition: 7 of 7 expectations held \(exit 0\)/);
    } finally {
      await tmux("kill-server");
      rmSync(statusDir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe("without a terminal", () => {
  it("prints plain timestamped lines and a table, with no ANSI codes at all", async () => {
    const r = await chaosRun([scenario, "--kubeconfig", kubeconfig, "-n", ns, "--report-dir", join(repoRoot, ".lab/test-reports")], { CI: "true" });
    expect(r.code, r.stderr).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts every ANSI code, the thing that must not be there
    expect(r.stdout + r.stderr).not.toMatch(/\u001b/);
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} run \S+: probe-partition on nginx/m);
    expect(r.stdout).toMatch(/PASS probe-partition: 7 of 7 expectations held \(exit 0\)/);
  });
});
