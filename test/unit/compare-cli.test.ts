// `chaos-run compare BASE NEW` in-process (runCli with recording I/O): its exit status — 0 nothing
// regressed, 1 something regressed, 2 usage or a journal it cannot read — each format on stdout,
// and --threshold reaching the rules.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Comparison } from "../../src/compare/types.js";
import { cli } from "./compare-io.js";
import { DEMO, LATENCY_X2 } from "./compare-journals.js";

describe("chaos-run compare: exit status", () => {
  it("0 when nothing regressed: the demo run against itself", async () => {
    const r = await cli(["compare", DEMO, join(DEMO, "..")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nNO REGRESSION nginx-latency-timeline: 154 within noise of 154 figures .*; exit 0\)\n$/);
  });

  it("1 when something regressed: every latency under the fault doubled", async () => {
    const r = await cli(["compare", DEMO, LATENCY_X2]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\nREGRESSED nginx-latency-timeline: 16 regressed, 138 within noise of 154 figures .*; exit 1\)\n$/);
    // the other way round, the same figures improved: nothing regressed
    expect((await cli(["compare", LATENCY_X2, DEMO])).code).toBe(0);
  });

  it("2 for usage errors and journals it cannot read, each said on stderr with nothing on stdout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-compare-cli-"));
    writeFileSync(join(dir, "broken.json"), "{");
    writeFileSync(join(dir, "other.json"), '{"apiVersion": "chaos-run/v1"}');
    const cases: [string[], string][] = [
      [["compare"], "compare needs two runs: BASE and NEW (each a journal.json or a run directory)"],
      [["compare", DEMO], "compare takes two runs, BASE and NEW, got 1"],
      [["compare", DEMO, DEMO, DEMO], "compare takes two runs, BASE and NEW, got 3"],
      [["compare", DEMO, join(dir, "missing")], `cannot read ${join(dir, "missing")}`],
      [["compare", DEMO, dir], `cannot read ${join(dir, "journal.json")}`],
      [["compare", join(dir, "broken.json"), DEMO], `${join(dir, "broken.json")} is not JSON`],
      [["compare", DEMO, join(dir, "other.json")], "is not a chaos-run journal (it has no journalVersion)"],
      [["compare", DEMO, DEMO, "--threshold", "150%"], '--threshold takes a number of percent from 0 to 100 (20 or 20%): the smallest change that matters, not "150%"'],
      [["compare", DEMO, DEMO, "--threshold", "fast"], "--threshold takes a number of percent"],
      [["compare", DEMO, DEMO, "--min-change", "soon"], '--min-change takes a number of milliseconds from 0 to 3600000 or a duration (100ms, 1.5s), not "soon"'],
      [["compare", DEMO, DEMO, "--format", "xml"], '--format must be one of table, md, markdown, junit, html, json, not "xml"'],
      [["compare", DEMO, DEMO, "--since", "1d"], "Unknown option '--since'"],
      // runs kept in the cluster: what is asked is checked before anything connects
      [["compare", "--last", "2"], "--last 2 takes one scenario's name, got 0"],
      [["compare", "--last", "2", "a", "b"], "--last 2 takes one scenario's name, got 2"],
      [["compare", "--last", "1", "a"], "--last takes a whole number of runs from 2 to 1000"],
      [["compare", "--last", "2", "a", "--from-cluster", "b"], "compare takes --last N SCENARIO or --from-cluster NAME, not both"],
      [["compare", "--from-cluster", "a", DEMO, DEMO], "compare takes two runs, BASE and NEW, got 1 from the cluster and 2 files"],
      [["compare", "--from-cluster", "a", "--from-cluster", "b", "--from-cluster", "c"], "compare takes two runs, BASE and NEW, got 3 from the cluster and 0 files"],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(r.stderr, args.join(" ")).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("--help: the usage, exit 0", async () => {
    const r = await cli(["compare", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: chaos-run compare BASE NEW [options]");
    expect(r.stdout).toContain("Exit status: 0 nothing regressed, 1 something regressed, 2 usage");
  });
});

describe("chaos-run compare: formats and the threshold", () => {
  it("each format on stdout; json is the comparison, md and markdown the same", async () => {
    const json = await cli(["compare", DEMO, LATENCY_X2, "--format", "json"]);
    const c = JSON.parse(json.stdout) as Comparison;
    expect(c).toMatchObject({ comparisonVersion: 1, regressed: true, counts: { regressed: 16 } });
    const md = await cli(["compare", DEMO, LATENCY_X2, "--format", "md"]);
    expect(md.stdout.startsWith("### ❌ REGRESSED nginx-latency-timeline")).toBe(true);
    expect((await cli(["compare", DEMO, LATENCY_X2, "--format", "markdown"])).stdout).toBe(md.stdout);
    const junit = await cli(["compare", DEMO, LATENCY_X2, "--format", "junit"]);
    expect(junit.stdout).toContain('failures="16"');
    const html = await cli(["compare", DEMO, LATENCY_X2, "--format", "html"]);
    expect(html.stdout.startsWith("<!doctype html>")).toBe(true);
    for (const r of [json, md, junit, html]) expect(r.code).toBe(1);
  });

  it("the table in colour only on a terminal", async () => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the colour codes looked for
    const colour = /\u001b\[31m/;
    expect((await cli(["compare", DEMO, LATENCY_X2], { tty: true })).stdout).toMatch(colour);
    expect((await cli(["compare", DEMO, LATENCY_X2], { tty: false })).stdout).not.toMatch(colour);
  });

  it("--threshold reaches the rules: 20% is the default, 100% lets most of a doubling through", async () => {
    const settingsOf = async (extra: string[]) => JSON.parse((await cli(["compare", DEMO, LATENCY_X2, "--format", "json", ...extra])).stdout) as Comparison;
    const byDefault = await settingsOf([]);
    expect(await settingsOf(["--threshold", "20%"])).toEqual(byDefault);
    const lax = await settingsOf(["--threshold", "100"]);
    expect(lax.settings.threshold).toBe(1);
    expect(lax.counts.regressed).toBeGreaterThan(0);
    expect(lax.counts.regressed).toBeLessThan(byDefault.counts.regressed);
  });

  it("--min-change reaches the rules: durations that moved by less are within noise, and the exit says so", async () => {
    const r = await cli(["compare", DEMO, LATENCY_X2, "--format", "json", "--min-change", "1h"]);
    const c = JSON.parse(r.stdout) as Comparison;
    expect(c.settings.minChangeMs).toBe(3_600_000);
    expect(c.rows.filter((x) => x.dimension === "duration" && x.verdict !== "within noise")).toEqual([]);
    expect(r.code).toBe(c.regressed ? 1 : 0);
    expect((await cli(["compare", DEMO, LATENCY_X2, "--min-change", "1ms"])).stdout).toMatch(/judged by: threshold 20% of the base value, and at least 1ms for a duration;/);
  });
});
