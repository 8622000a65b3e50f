// Continuous sampling during a real netem fault (the kernel lab: UML has sch_netem):
// scenarios/nginx-latency-timeline.yaml (the demo as a timeline), whose steady state samples
// nginx with an http probe every 4 s through the whole run. The series shows the 100 ms delay begin and end within one sampling
// interval of the fault's recorded apply and revert, and the run writes its HTML report beside
// its journal. The reports stay in .lab/test-reports/probes-series (on the host's file system)
// for a look afterwards.
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Journal, JournalProbe } from "../../src/report/journal.js";
import { chaosRun, type Finished } from "../support/chaos.js";
import { inKernelLab, kubeconfig, kubectl, kubectlOk, repoRoot, waitReady } from "../support/lab.js";

const reports = join(repoRoot, ".lab/test-reports/probes-series");
let demo: Finished;
let journal: Journal;
let dir: string;

beforeAll(async () => {
  expect(inKernelLab, "the kernel tier runs inside UML: test/lab/kernel node_modules/.bin/vitest run --project kernel …").toBe(true);
  rmSync(reports, { recursive: true, force: true });
  mkdirSync(reports, { recursive: true });
  if ((await kubectl(["get", "pod", "nginx", "-n", "default"])).code !== 0) await kubectlOk(["run", "nginx", "-n", "default", "--image", "nginx"]);
  await waitReady("default", "nginx", 120_000);
  demo = await chaosRun([join(repoRoot, "scenarios/nginx-latency-timeline.yaml"), "--kubeconfig", kubeconfig, "--report-dir", reports]);
  const sub = readdirSync(reports).find((d) => d.startsWith("nginx-latency-timeline-")) ?? "";
  dir = join(reports, sub);
  journal = JSON.parse(readFileSync(join(dir, "journal.json"), "utf8")) as Journal;
}, 600_000);

const start = (p: JournalProbe): number => Date.parse(p.startedAt ?? p.at);
const end = (p: JournalProbe): number => Date.parse(p.at);

describe("a continuous probe across a real 100 ms netem delay", () => {
  it("passes, and writes report.html beside journal.json", () => {
    expect(demo.code, demo.stderr + demo.stdout).toBe(0);
    expect(demo.stdout).toMatch(/PASS nginx-latency-timeline: 6 of 6 expectations held \(exit 0\)/);
    expect(demo.stdout).toMatch(/series pulse \(steady state, through the run\): latency\.p95 [▁▂▃▄▅▆▇█ ]+ /);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).toMatch(/<g class="fault-window" data-step="2">/);
    expect(html).toMatch(/<g class="baseline">/);
  });

  it("shows the delay begin and end within one sampling interval of the fault's recorded apply and revert", () => {
    const fault = journal.faults[0];
    const applied = Date.parse(fault?.appliedAt ?? "");
    const reverted = Date.parse(fault?.revertedAt ?? "");
    const samples = journal.probes.filter((p) => p.probe === "pulse" && p.phase === "monitor" && !p.aggregate).sort((a, b) => start(a) - start(b));
    const every = samples[0]?.everyMs ?? 0;
    expect(every).toBe(4000);
    const p50 = (p: JournalProbe): number => p.metrics["latency.p50"] ?? Number.NaN;
    const delayed = samples.filter((p) => p50(p) >= 90);
    const rows = samples.map((p) => `+${start(p) - applied}ms..+${end(p) - applied}ms p50 ${p50(p).toFixed(1)}ms`);
    console.log(`pulse samples around the fault (times from its apply; reverted at +${reverted - applied}ms):\n${rows.join("\n")}`);
    expect(delayed.length, rows.join("\n")).toBeGreaterThanOrEqual(5);
    const first = delayed[0];
    const last = delayed[delayed.length - 1];
    if (first === undefined || last === undefined) throw new Error("no delayed sample");
    // the delay begins: the first delayed sample started less than one interval after the apply,
    // and every sample that ended before the apply was not delayed
    expect(start(first) - applied).toBeLessThan(every);
    expect(end(first)).toBeGreaterThan(applied);
    for (const p of samples.filter((s) => end(s) < applied)) expect(p50(p), rows.join("\n")).toBeLessThan(50);
    // and ends: the last delayed sample started before the revert, the first one after it that
    // started later than the revert is clean, and it started less than one interval after it
    expect(start(last)).toBeLessThan(reverted);
    const after = samples.filter((s) => start(s) > reverted);
    expect(after.length).toBeGreaterThan(0);
    expect(start(after[0] ?? last) - reverted).toBeLessThan(every);
    for (const p of after) expect(p50(p), rows.join("\n")).toBeLessThan(50);
    // between them, every sample wholly inside the window was delayed
    for (const p of samples.filter((s) => start(s) > applied && end(s) < reverted)) expect(p50(p), rows.join("\n")).toBeGreaterThanOrEqual(90);
  });
});
