// What a verb loads: `--help`, `validate` and `plan --offline` never load @kubernetes/client-node
// (nor the cluster adapter that imports it) or listr2 (the live view) — they stay fast and work
// where there is no cluster. Real processes, through the CLI's sources (tsx), every module
// they resolve recorded by a loader hook (module-trace/).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VERBS } from "../../src/cli/cli.js";

const dir = mkdtempSync(join(tmpdir(), "chaos-run-lazy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAVY = /@kubernetes[/\\]client-node|[/\\]listr2[/\\]|[/\\]kube[/\\](index|client-node)\.|[/\\]ui[/\\]live\./;

/** The modules `chaos-run ARGS` resolved, and how it exited. */
function modulesOf(args: readonly string[]): Promise<{ code: number | null; modules: string[]; stderr: string }> {
  const trace = join(dir, `${args.join("_").replace(/[^a-z0-9_-]/gi, "")}.trace`);
  writeFileSync(trace, "");
  const argv = ["--import", "tsx", "--import", "./test/unit/module-trace/register.mjs", "src/cli/main.ts", ...args];
  const env = { ...process.env, MODULE_TRACE: trace, KUBECONFIG: "/nonexistent/kubeconfig" };
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { encoding: "utf8", env, timeout: 60_000 }, (error, _stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({
        code,
        modules: readFileSync(trace, "utf8")
          .split("\n")
          .filter((l) => l !== ""),
        stderr,
      });
    });
  });
}

describe("lazy imports", () => {
  it("the trace sees what a verb loads (else the checks below would pass for nothing)", { timeout: 30_000 }, async () => {
    const r = await modulesOf(["disrupt", "--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.modules.some((m) => m.endsWith("/src/cli/disrupt.ts"))).toBe(true);
    expect(r.modules.some((m) => m.endsWith("/src/engine/run.ts"))).toBe(true);
  });

  it("--help of chaos-run and of every verb, validate and plan --offline load neither client-node nor listr2", { timeout: 120_000 }, async () => {
    const commands = [
      ["--help"],
      ...Object.keys(VERBS).map((verb) => [verb, "--help"]),
      ["validate", "scenarios/"],
      ["validate", "test/fixtures/invalid/"],
      ["plan", "scenarios/nginx-latency.yaml", "--offline"],
      ["plan", "scenarios/half-the-fleet.yaml", "--offline", "--format", "json"],
    ];
    const runs = await Promise.all(commands.map(async (args) => ({ args, ...(await modulesOf(args)) })));
    for (const r of runs) {
      expect({ args: r.args, code: r.code }).toEqual({ args: r.args, code: r.args[1] === "test/fixtures/invalid/" ? 2 : 0 });
      expect({ args: r.args, heavy: r.modules.filter((m) => HEAVY.test(m)) }).toEqual({ args: r.args, heavy: [] });
    }
  });

  it("compare, from journals, loads neither in any of its formats (it reads the cluster only for stored runs)", { timeout: 120_000 }, async () => {
    const [base, next] = ["test/fixtures/report/demo", "test/fixtures/compare/latency-x2"];
    const runs = await Promise.all(["table", "md", "junit", "html", "json"].map(async (format) => ({ format, ...(await modulesOf(["compare", base, next, "--format", format])) })));
    for (const r of runs) {
      // exit 1: the new run regressed, so compare ran to its end
      expect({ format: r.format, code: r.code, stderr: r.stderr }).toEqual({ format: r.format, code: 1, stderr: "" });
      expect(r.modules.some((m) => m.endsWith("/src/compare/compare.ts"))).toBe(true);
      expect({ format: r.format, heavy: r.modules.filter((m) => HEAVY.test(m)) }).toEqual({ format: r.format, heavy: [] });
    }
  });

  it("compare loads the adapter only for a run kept in the cluster", { timeout: 30_000 }, async () => {
    const r = await modulesOf(["compare", "--from-cluster", "chaos-run-x", "test/fixtures/report/demo"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read the kubeconfig /nonexistent/kubeconfig");
    expect(r.modules.filter((m) => HEAVY.test(m)).length).toBeGreaterThan(0);
  });

  it("a verb that talks to a cluster loads the adapter only then (the pattern above matches it)", { timeout: 30_000 }, async () => {
    const r = await modulesOf(["install", "-p", "nginx"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read the kubeconfig /nonexistent/kubeconfig");
    expect(r.modules.filter((m) => HEAVY.test(m)).length).toBeGreaterThan(0);
  });
});
