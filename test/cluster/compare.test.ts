// compare on the real node (issue 23): one scenario (test/fixtures/lab/compare-latency.yaml: nginx
// sampled every second through the run, two probe steps around a wait) run three times, each under an HTTP
// delay that another chaos-run holds on nginx's port 80 — twice at 20 ms, once at 120 ms, the
// service as two releases would answer. The built CLI compares them: no regression between the
// first two (exit 0), the latency regression of the third named (exit 1); the second and third
// runs were judged against the first at their end — the second by --compare-to-last (the newest
// run kept in the cluster that passed: the first, which had none before it), the third by
// --compare-to its directory; and every run was kept in the cluster (--record), where compare
// reads them again (--from-cluster, --last).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Comparison, ComparisonRow } from "../../src/compare/types.js";
import { chaosRun, startChaosRun, type Finished } from "../support/chaos.js";
import { resultName } from "../../src/results/stored.js";
import type { Journal } from "../../src/report/journal.js";
import { kubeconfig, nginxAndTools, repoRoot } from "../support/lab.js";

const ns = "compare-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const scenario = join(repoRoot, "test/fixtures/lab/compare-latency.yaml");
const reports = mkdtempSync(join(tmpdir(), "chaos-run-compare-"));

interface Run {
  readonly finished: Finished;
  /** the run's directory: its journal.json, report.html, and with --compare-to its compare.* */
  readonly dir: string;
}

/** The scenario, run while another chaos-run holds `delayMs` on nginx's port 80 (reverted after). */
async function runUnderDelay(name: string, delayMs: number, extra: readonly string[] = []): Promise<Run> {
  const held = startChaosRun(["http", "-p", "nginx", "--port", "80", "--delay", `${delayMs}ms`, "-r", "300", ...asAdmin]);
  await held.waitFor(/in effect in pod compare-test\/nginx[^\n]*\n/);
  const reportDir = join(reports, name);
  let finished: Finished;
  try {
    finished = await chaosRun([scenario, ...asAdmin, "--report-dir", reportDir, "--record", ...extra]);
  } finally {
    held.child.kill("SIGINT");
    const released = await held.done;
    expect(released.code, released.stderr).toBe(130);
  }
  const runDir = readdirSync(reportDir).find((d) => d.startsWith("compare-latency-"));
  if (runDir === undefined) throw new Error(`no run directory in ${reportDir}:\n${finished.stderr}${finished.stdout}`);
  return { finished, dir: join(reportDir, runDir) };
}

const runs: Run[] = [];

beforeAll(async () => {
  await nginxAndTools(ns);
  runs.push(await runUnderDelay("first-20ms", 20, ["--compare-to-last"]));
  runs.push(await runUnderDelay("second-20ms", 20, ["--compare-to-last", "--compare-threshold", "50%"]));
  runs.push(await runUnderDelay("third-120ms", 120, ["--compare-to", runs[0]?.dir ?? ""]));
}, 300_000);

afterAll(() => rmSync(reports, { recursive: true, force: true }));

const run = (i: number): Run => {
  const r = runs[i];
  if (r === undefined) throw new Error(`run ${i + 1} did not happen`);
  return r;
};

async function compare(base: Run, next: Run, format: string, extra: readonly string[] = []): Promise<Finished> {
  return chaosRun(["compare", base.dir, join(next.dir, "journal.json"), "--format", format, ...extra]);
}

// The two runs at the same 20 ms are judged at a 50% threshold, not the default 20%: on this
// shared two-core machine, with the other cluster lane beside them, a one-shot figure of two runs
// minutes apart moved by 23% twice in about ten CI runs (step 1's latency.p50, 21.1 → 25.9 ms),
// beyond both the default threshold and the noise band the monitor's samples give. The machine
// changed, not the service; the 120 ms run, ~5× slower, is judged at the default.
const SAME_SETTING = ["--threshold", "50%"];

const named = (r: ComparisonRow): string => `${r.section} | ${r.origin} | ${r.metric}`;

describe("three runs of one scenario: 20 ms, 20 ms, 120 ms", () => {
  it("each run passed its own expectations (the latency stays under 1 s at 120 ms too)", () => {
    for (const r of runs) expect(r.finished.stdout, r.finished.stderr).toMatch(/PASS compare-latency: 4 of 4 expectations held \(exit 0\)/);
  });

  it("the two runs at 20 ms: no regression (exit 0), the samples taken during the wait judged by the rank test", async () => {
    const r = await compare(run(0), run(1), "json", SAME_SETTING);
    const c = JSON.parse(r.stdout) as Comparison;
    // what was called regressed, with its figures and rule, before the exit code: a failure says why
    expect(c.rows.filter((x) => x.verdict === "regressed").map((x) => `${named(x)}: ${JSON.stringify(x)}`)).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    expect(c.regressed).toBe(false);
    // every step matched; a continuous sample may fall in a short step in one run only
    expect(c.unmatched.filter((u) => u.what === "step")).toEqual([]);
    expect(c.rows.filter((x) => x.verdict === "regressed").map(named)).toEqual([]);
    const monitor = c.rows.find((x) => x.section === "step 2 hold" && x.origin === "monitor" && x.metric === "latency.p50");
    expect(monitor?.rule.kind).toBe("rank-test");
    expect(monitor?.base.n).toBeGreaterThanOrEqual(10);
    // both around 20 ms: the proxy's delay, and what nginx adds
    for (const side of [monitor?.base.value, monitor?.new.value]) expect(side).toBeGreaterThanOrEqual(19);
    const table = await compare(run(0), run(1), "table", SAME_SETTING);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\nNO REGRESSION compare-latency: \d+ within noise of \d+ figures/);
  });

  it("the run at 120 ms: the latency regression named (exit 1), and nothing but latency", async () => {
    const r = await compare(run(0), run(2), "json");
    expect(r.code, r.stderr).toBe(1);
    const c = JSON.parse(r.stdout) as Comparison;
    const regressed = c.rows.filter((x) => x.verdict === "regressed");
    for (const x of regressed) expect(named(x)).toMatch(/\| latency\.\w+$/);
    const names = regressed.map(named);
    expect(names, names.join("\n")).toContain("step 2 hold | monitor | latency.p50");
    expect(names).toContain("step 1 baseline | step | latency.p50");
    expect(names).toContain("step 3 again | step | latency.p50");
    const monitor = regressed.find((x) => named(x) === "step 2 hold | monitor | latency.p50");
    expect(monitor?.rule).toMatchObject({ kind: "rank-test", significant: true, practical: true });
    // about 100 ms slower: the difference of the two delays
    expect(monitor?.change).toBeGreaterThan(80);
    expect(monitor?.change).toBeLessThan(120);
    const md = await compare(run(0), run(2), "md");
    expect(md.code).toBe(1);
    expect(md.stdout).toMatch(/^### ❌ REGRESSED compare-latency: \d+ regressed/);
    expect(md.stdout).toContain("| step 2 hold | web (continuous) on nginx | `latency.p50` |");
  });

  it("--compare-to-last, then --compare-to: the second run (20 ms) exit 0, the third (120 ms) exit 1 though it passed; each with its comparison beside its report", () => {
    const [first, second, third] = [run(0), run(1), run(2)];
    // the first had no run kept before it: said, not compared, its own exit
    expect(first.finished.code, first.finished.stderr).toBe(0);
    expect(first.finished.stderr).toContain("chaos-run: nothing to compare with: no run of compare-latency that passed is kept in namespace compare-test");
    expect(existsSync(join(first.dir, "compare.json"))).toBe(false);
    // the second found the first where the runs are kept
    const firstResult = resultName(JSON.parse(readFileSync(join(first.dir, "journal.json"), "utf8")) as Journal);
    expect(second.finished.stdout).toContain(`\ncompared with result compare-test/${firstResult}:\n`);
    expect(second.finished.code, second.finished.stderr).toBe(0);
    expect(third.finished.code, third.finished.stderr).toBe(1);
    expect(third.finished.stdout).toMatch(/\nREGRESSED compare-latency: \d+ regressed, .*; exit 1\)\n/);
    for (const [r, regressed] of [
      [second, false],
      [third, true],
    ] as const) {
      for (const f of ["compare.md", "compare.html", "compare.json"]) expect(existsSync(join(r.dir, f)), f).toBe(true);
      const c = JSON.parse(readFileSync(join(r.dir, "compare.json"), "utf8")) as Comparison;
      expect(c.regressed).toBe(regressed);
      expect(c.base.runId).toBe((JSON.parse(readFileSync(join(run(0).dir, "journal.json"), "utf8")) as { runId: string }).runId);
    }
  });
});

describe("the same runs as the cluster keeps them", () => {
  const journalOf = (r: Run): Journal => JSON.parse(readFileSync(join(r.dir, "journal.json"), "utf8")) as Journal;
  const stored = (i: number): string => resultName(journalOf(run(i)));
  const verdictOf = (f: Finished): Comparison => JSON.parse(f.stdout) as Comparison;

  it("--from-cluster: the two runs at 20 ms within noise (exit 0); the first as kept against the third's file, regressed (exit 1)", async () => {
    const same = await chaosRun(["compare", "--from-cluster", stored(0), "--from-cluster", stored(1), "--format", "json", ...SAME_SETTING, ...asAdmin]);
    expect(
      verdictOf(same)
        .rows.filter((x) => x.verdict === "regressed")
        .map((x) => `${named(x)}: ${JSON.stringify(x)}`),
    ).toEqual([]);
    expect(same.code, same.stderr).toBe(0);
    expect(verdictOf(same)).toMatchObject({ regressed: false, base: { runId: journalOf(run(0)).runId }, new: { runId: journalOf(run(1)).runId } });
    const slower = await chaosRun(["compare", "--from-cluster", stored(0), run(2).dir, "--format", "json", ...asAdmin]);
    expect(slower.code, slower.stderr).toBe(1);
    // the same verdicts as from the files: the cluster kept the whole journal
    const fromFiles = await compare(run(0), run(2), "json");
    expect(verdictOf(slower).counts).toEqual(verdictOf(fromFiles).counts);
  });

  it("--last N SCENARIO: the newest run against the Nth newest; more than are kept is a usage error", async () => {
    const last2 = await chaosRun(["compare", "--last", "2", "compare-latency", "--format", "json", ...asAdmin]);
    expect(last2.code, last2.stderr).toBe(1);
    expect(verdictOf(last2)).toMatchObject({ regressed: true, base: { runId: journalOf(run(1)).runId }, new: { runId: journalOf(run(2)).runId } });
    const last3 = await chaosRun(["compare", "--last", "3", "compare-latency", "--format", "json", ...asAdmin]);
    expect(last3.code, last3.stderr).toBe(1);
    expect(verdictOf(last3).base.runId).toBe(journalOf(run(0)).runId);
    const tooMany = await chaosRun(["compare", "--last", "4", "compare-latency", ...asAdmin]);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain("--last 4 needs 4 stored runs of compare-latency in namespace compare-test; there are 3");
    // none at all: the API server lists no metadata as "items": null, not []
    const none = await chaosRun(["compare", "--last", "2", "never-run", ...asAdmin]);
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toContain("--last 2 needs 2 stored runs of never-run in namespace compare-test; there are 0");
    const missing = await chaosRun(["compare", "--from-cluster", "chaos-run-nothing-here", run(0).dir, ...asAdmin]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no chaos-run result chaos-run-nothing-here in namespace compare-test");
  });
});
