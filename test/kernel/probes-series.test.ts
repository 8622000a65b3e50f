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
import { onceMore } from "../support/flaky-reporter.js";
import { inKernelLab, kubeconfig, kubectl, kubectlOk, repoRoot, waitReady } from "../support/lab.js";

const reports = join(repoRoot, ".lab/test-reports/probes-series");
let demo: Finished;
let journal: Journal;
let dir: string;

beforeAll(async () => {
  expect(inKernelLab, "the kernel tier runs inside UML: test/lab/kernel node_modules/.bin/vitest run --project kernel …").toBe(true);
  if ((await kubectl(["get", "pod", "nginx", "-n", "default"])).code !== 0) await kubectlOk(["run", "nginx", "-n", "default", "--image", "nginx"]);
  await waitReady("default", "nginx", 120_000);
  // the run once more (into fresh reports) if a stall failed one of its expectations
  demo = await onceMore(
    "test/kernel/probes-series.test.ts > beforeAll (the timeline demo)",
    async () => {
      rmSync(reports, { recursive: true, force: true });
      mkdirSync(reports, { recursive: true });
      return chaosRun([join(repoRoot, "scenarios/nginx-latency-timeline.yaml"), "--kubeconfig", kubeconfig, "--report-dir", reports]);
    },
    (r) =>
      r.code === 0
        ? undefined
        : `exit ${r.code}: ${
            r.stdout
              .split("\n")
              .filter((l) => /^\S*\s*(FAIL|ERR) /.test(l))
              .join("; ") || r.stderr.trim().split("\n").at(-1)
          }`,
  );
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
    // the fault began between its apply's sending and its reply, and ended between its revert's
    // sending and its reply: each an exec's round trip, seconds on a loaded UML node
    const applyStarted = Date.parse(fault?.applyStartedAt ?? "");
    const applied = Date.parse(fault?.appliedAt ?? "");
    const revertStarted = Date.parse(fault?.revertStartedAt ?? "");
    const reverted = Date.parse(fault?.revertedAt ?? "");
    const samples = journal.probes.filter((p) => p.probe === "pulse" && p.phase === "monitor" && !p.aggregate).sort((a, b) => start(a) - start(b));
    const every = samples[0]?.everyMs ?? 0;
    expect(every).toBe(4000);
    const p50 = (p: JournalProbe): number => p.metrics["latency.p50"] ?? Number.NaN;
    const rows = samples.map((p) => `+${start(p) - applied}ms..+${end(p) - applied}ms p50 ${p50(p).toFixed(1)}ms`);
    console.log(
      `pulse samples around the fault (times from its apply's reply; sent at ${applyStarted - applied}ms; revert sent at +${revertStarted - applied}ms, confirmed at +${reverted - applied}ms):\n${rows.join("\n")}`,
    );
    const table = rows.join("\n");
    // A sample is delayed when its p50 is at least 90 ms: the fault adds 100 ms ± 5 ms to every
    // request, and the UML kernel's stalls, which come and go, do not lift half a sample's
    // requests that far (samples read 31 and 53 ms before a fault here, 235 ms once, 9 s after
    // one). Only the samples next to the fault's edges are judged at the edges (one that straddles
    // an edge is half one thing, half the other, and is not judged).
    // the delay begins: the last sample that ended before the apply was clean; the first one that
    // started after it was delayed, and it started less than one interval after the apply
    const before = samples.filter((s) => end(s) < applyStarted).at(-1);
    const first = samples.find((s) => start(s) > applied);
    if (first === undefined) throw new Error(`no sample after the apply:\n${table}`);
    const delayed = 90;
    if (before !== undefined) expect(p50(before), table).toBeLessThan(delayed);
    expect(p50(first), table).toBeGreaterThanOrEqual(delayed);
    expect(start(first) - applied, table).toBeLessThan(every);
    // every sample wholly inside the window (from the apply's reply to the revert's sending) was delayed
    const inside = samples.filter((s) => start(s) > applied && end(s) < revertStarted);
    expect(inside.length, table).toBeGreaterThanOrEqual(5);
    for (const p of inside) expect(p50(p), table).toBeGreaterThanOrEqual(delayed);
    // and ends: the first sample that started after the revert is clean, and it started less than
    // one interval after the revert
    const next = samples.find((s) => start(s) > reverted);
    if (next === undefined) throw new Error(`no sample after the revert:\n${table}`);
    expect(p50(next), table).toBeLessThan(delayed);
    expect(start(next) - reverted, table).toBeLessThan(every);
  });
});
