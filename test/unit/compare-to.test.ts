// `chaos-run run FILE --compare-to BASE`: BASE read before anything runs (a usage error, exit 2,
// with nothing touched, when it cannot be); at the end of a run, the comparison written beside its
// report and its summary printed; the exit status's precedence — a regression makes a run that
// passed exit 1, every other status keeps its own, and a run that did not finish is not compared.
// The cluster tier runs it for real (test/cluster/compare.test.ts).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CompareTo, comparingTo } from "../../src/cli/compare-to.js";
import type { VerbContext } from "../../src/cli/io.js";
import { loadJournal } from "../../src/compare/load.js";
import type { Comparison } from "../../src/compare/types.js";
import { isChaosRunError } from "../../src/errors.js";
import type { ClusterRecords } from "../../src/kube/types.js";
import type { Journal } from "../../src/report/journal.js";
import { cli, verbContext } from "./compare-io.js";
import { DEMO, LATENCY_X2, demo } from "./compare-journals.js";

const slower = (): Journal => loadJournal(LATENCY_X2).journal;

/** A cluster a BASE file's comparison must never read. */
const NO_RECORDS = new Proxy({} as ClusterRecords, {
  get: (_, name) => {
    throw new Error(`--compare-to BASE read the cluster (${String(name)})`);
  },
});

/** --compare-to BASE's judge, as the run gets it once connected. */
async function judgeWith(ctx: VerbContext, base: string, threshold: number | undefined, minChangeMs?: number): Promise<CompareTo> {
  const judge = await comparingTo(ctx, base, { thresholdPercent: threshold, minChangeMs }, 1)(NO_RECORDS, "shop", "nginx-latency-timeline");
  if (judge === undefined) throw new Error("no judge for a BASE file");
  return judge;
}

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isChaosRunError(e) && e.exitCode === 2) return e.message;
    throw e;
  }
  throw new Error("no usage error");
}

describe("--compare-to at the end of a run", () => {
  it("writes compare.md, compare.html and compare.json in the run's directory, prints the summary, and appends the Markdown to the step summary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-compare-to-"));
    const summary = join(dir, "step-summary.md");
    const { ctx, out } = verbContext({ GITHUB_STEP_SUMMARY: summary });
    const exit = await (await judgeWith(ctx, DEMO, undefined))(slower(), join(dir, "run"), 0);
    expect(exit).toBe(1);
    const c = JSON.parse(readFileSync(join(dir, "run/compare.json"), "utf8")) as Comparison;
    expect(c).toMatchObject({ regressed: true, counts: { regressed: 16 }, settings: { threshold: 0.2 } });
    expect(readFileSync(join(dir, "run/compare.md"), "utf8")).toMatch(/^### ❌ REGRESSED nginx-latency-timeline: 16 regressed/);
    expect(readFileSync(join(dir, "run/compare.html"), "utf8")).toMatch(/^<!doctype html>/);
    expect(readFileSync(summary, "utf8")).toBe(readFileSync(join(dir, "run/compare.md"), "utf8"));
    expect(out.stdout).toContain(`\ncompared with ${DEMO}:\nREGRESSED step 2 add latency: pulse (continuous) on nginx latency.min: Mann–Whitney U = 0`);
    expect(out.stdout).toContain(`comparison: ${join(dir, "run/compare.html")}`);
    expect(out.stderr).toBe("");
  });

  it("exit status: a regression makes a run that passed exit 1; a failed run stays 1; no regression leaves it as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-compare-to-"));
    const judge = async (threshold: number | undefined, journal: Journal, exitCode: number) => (await judgeWith(verbContext().ctx, DEMO, threshold))(journal, dir, exitCode);
    expect(await judge(undefined, slower(), 0)).toBe(1);
    const failed = { ...slower(), status: "failed", exitCode: 1 } as Journal;
    expect(await judge(undefined, failed, 1)).toBe(1);
    expect(await judge(undefined, demo(), 0)).toBe(0);
    expect(await judge(undefined, { ...demo(), status: "failed", exitCode: 1 } as Journal, 1)).toBe(1);
    // --compare-threshold reaches the rules: at 100% fewer figures regress, and they are written so
    await judge(100, slower(), 0);
    const lax = JSON.parse(readFileSync(join(dir, "compare.json"), "utf8")) as Comparison;
    expect(lax.settings.threshold).toBe(1);
    expect(lax.counts.regressed).toBeLessThan(16);
  });

  it("a run that did not finish keeps its own status and is not compared: its journal holds only part of it", async () => {
    for (const [status, exitCode] of [
      ["error", 3],
      ["error", 4],
      ["interrupted", 130],
      ["interrupted", 143],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), "chaos-run-compare-to-"));
      const { ctx, out } = verbContext();
      const exit = await (await judgeWith(ctx, DEMO, undefined))({ ...slower(), status, exitCode }, dir, exitCode);
      expect(exit).toBe(exitCode);
      expect(existsSync(join(dir, "compare.json"))).toBe(false);
      expect(out.stderr).toBe(`chaos-run: not compared with ${DEMO}: the run ended ${status} (exit ${exitCode}), its journal holds only part of it\n`);
    }
  });

  it("BASE is read before the run: unreadable, several scenarios, or a threshold without it are usage errors", () => {
    const { ctx } = verbContext();
    const none = { thresholdPercent: undefined, minChangeMs: undefined };
    expect(usageError(() => comparingTo(ctx, "/nonexistent/run", none, 1))).toContain("cannot read /nonexistent/run");
    expect(usageError(() => comparingTo(ctx, DEMO, none, 2))).toBe("--compare-to judges one scenario's run against a stored one; got 2 scenario files");
    expect(usageError(() => comparingTo(ctx, undefined, { thresholdPercent: 30, minChangeMs: undefined }, 1))).toBe("--compare-threshold is for --compare-to BASE, which is not given");
    expect(usageError(() => comparingTo(ctx, undefined, { thresholdPercent: undefined, minChangeMs: 1 }, 1))).toBe("--compare-min-change is for --compare-to BASE, which is not given");
    expect(usageError(() => comparingTo(ctx, DEMO, none, 1, true))).toBe("--compare-to BASE and --compare-to-last each name the base; give one");
    expect(usageError(() => comparingTo(ctx, undefined, none, 2, true))).toBe("--compare-to-last judges one scenario's run against a stored one; got 2 scenario files");
  });

  it("through the run verb: exit 2 before any cluster is asked (the kubeconfig named does not exist)", async () => {
    const env = { KUBECONFIG: "/nonexistent/kubeconfig" };
    const cases: [string[], string][] = [
      [["run", "scenarios/nginx-latency.yaml", "--compare-to", "/nonexistent/run"], "cannot read /nonexistent/run"],
      [["run", "scenarios/nginx-latency.yaml", "scenarios/web-loss.yaml", "--compare-to", DEMO], "got 2 scenario files"],
      [["run", "scenarios/nginx-latency.yaml", "--compare-threshold", "30%"], "--compare-threshold is for --compare-to BASE"],
      [["run", "scenarios/nginx-latency.yaml", "--compare-to", DEMO, "--compare-to-last"], "--compare-to BASE and --compare-to-last each name the base"],
      [["run", "scenarios/nginx-latency.yaml", "--compare-to", DEMO, "--compare-threshold", "300%"], "--compare-threshold takes a number of percent from 0 to 100"],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain("kubeconfig");
    }
  });
});
