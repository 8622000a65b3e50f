// The views of a run with continuous probes, from a journal the engine wrote on the fake clock
// (recording Cluster port): it validates against the journal schema; the HTML report draws the
// fault window where the fault was held, the saved baseline as a band, each expectation as a
// line, and refers to nothing outside itself; the table carries each series as a sparkline.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { newJournal, recordEvent, type Journal } from "../../src/report/journal.js";
import { renderHtml } from "../../src/report/html.js";
import { renderJUnit, renderMarkdown, renderTable } from "../../src/report/views.js";
import { planToJson } from "../../src/plan/format.js";
import { runCli } from "../../src/cli/cli.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fakeClock, finish, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

const root = join(import.meta.dirname, "../..");

const YAML = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: html-test, description: the report draws what was measured }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
probes:
  web: { http: { url: "http://{{ target.ip }}/", requests: 4 } }
steadyState:
  - probe: web
    every: 1s
    expect: { latency.p95: { below: 50ms } }
steps:
  - name: baseline
    probe: web
    save: baseline
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 10s
    during:
      - probe: web
        every: 2s
        expect:
          latency.p50: { atLeast: baseline.latency.p50 + 90ms }
          latency.p95.max: { below: 150ms }
  - name: recover
    wait: 3s
`;

let journal: Journal;

beforeAll(async () => {
  fakeClock();
  const cluster = new RecordingCluster([pod("web-0")]);
  cluster.programs = (argv) => {
    if (argv[0] !== "curl") return undefined;
    const held = [...cluster.agents.values()].some((a) => a.held.size > 0);
    const line = held ? "200 0.101000 0 " : "200 0.001200 0 ";
    return { kind: "raw", exitCode: 0, stdout: `${Array(4).fill(line).join("\n")}\n`, stderr: "" };
  };
  const run = start(cluster, scenarioOf(YAML));
  const result = await finish(run);
  expect(result.exitCode, result.message).toBe(0);
  journal = newJournal({ runId: "r1", version: "0.1.0", node: "v20", platform: "linux x64", file: "html-test.yaml", sha256: "0".repeat(64), startedAt: run.t0 });
  for (const e of run.events) recordEvent(journal, e, () => planToJson(run.plan, "html-test.yaml"));
  vi.useRealTimers();
});
afterEach(() => vi.useRealTimers());

describe("a kill, in the HTML report", () => {
  it("says what the fault did in the pod, as the table and the Markdown do", async () => {
    fakeClock();
    const cluster = new RecordingCluster([pod("web-0")]);
    const run = start(
      cluster,
      scenarioOf(`apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: kill-test }
target: { namespace: default, selector: { run: web }, mode: all }
steps:
  - name: kill
    fault: { kill: {} }
    duration: 10s
    expect: { restarts: 1 }
`),
    );
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    const j = newJournal({ runId: "r1", version: "0.1.0", node: "v20", platform: "linux x64", file: "kill-test.yaml", sha256: "0".repeat(64), startedAt: run.t0 });
    for (const e of run.events) recordEvent(j, e, () => planToJson(run.plan, "kill-test.yaml"));
    const detail = j.faults[0]?.observed?.detail ?? "";
    expect(detail).toMatch(/restart/);
    const line = `step 1 (kill) in pod web-0: ${detail}`;
    expect(renderMarkdown(j)).toContain(line.replace(/[*_`]/g, (c) => `\\${c}`));
    const html = renderHtml(j);
    expect(html).toContain(`<h3>What the faults did</h3><ul class="observed"><li>${line.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")}</li></ul>`);
  });
});

describe("a run with continuous probes, in its views", () => {
  it("validates against schemas/journal.schema.json, samples and all", () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    const validate = ajv.compile(JSON.parse(readFileSync(join(root, "schemas/journal.schema.json"), "utf8")) as object);
    validate(journal);
    expect(validate.errors ?? []).toEqual([]);
    expect(journal.probes.filter((p) => p.phase === "during").map((p) => [p.series, p.sample, p.kind])).toEqual([0, 1, 2, 3, 4].map((i) => ["s2-0-web", i, "http"]));
    expect(journal.expectations.find((e) => e.metric === "latency.p95.max")).toMatchObject({ series: "s2-0-web", limit: 150, samples: { total: 5, passed: null } });
  });

  it("draws the fault window where the fault was held, the baseline band, each expectation, and nothing from outside", () => {
    const html = renderHtml(journal);
    const t0 = Date.parse(journal.startedAt);
    const runMs = Date.parse(journal.endedAt ?? "") - t0;
    const applied = Date.parse(journal.faults[0]?.appliedAt ?? "") - t0;
    const reverted = Date.parse(journal.faults[0]?.revertedAt ?? "") - t0;
    const windows = [...html.matchAll(/<g class="fault-window" data-step="2"><rect x="([\d.]+)" y="\d+" width="([\d.]+)"/g)];
    // one chart (latency; the errors chart only when there were errors), one window on it
    expect(windows.length).toBe(1);
    const x = Number(windows[0]?.[1]);
    const w = Number(windows[0]?.[2]);
    const plotW = 960 - 72 - 16;
    expect(x).toBeCloseTo(72 + (applied / runMs) * plotW, 0);
    expect(w).toBeCloseTo(((reverted - applied) / runMs) * plotW, 0);
    expect(html).toMatch(/<g class="baseline"><rect [^>]*class="band"><title>saved as baseline: 1\.2ms – 1\.2ms<\/title>/);
    expect(html).toMatch(/<g class="expectation" data-verdict="pass">.*latency\.p95\.max &lt; 150ms/);
    expect(html).toMatch(/<text [^>]*class="fault-label"[^>]*>2\. slow: netem delay 100ms; all traffic<\/text>/);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=/i);
  });

  it("carries each series as a sparkline in the table and the Markdown summary, and its samples in JUnit", () => {
    const table = renderTable(journal, { color: false });
    expect(table).toMatch(/latency\.p50\s+│ ≥ baseline\.latency\.p50 \(1\.2ms\) \+ 90ms = 91\.2ms │ 5 of 5 samples, worst 101ms/);
    expect(table).toMatch(/series web \(steady state, through the run\): latency\.p95 [▁█]+ 1\.2ms … 101ms, \d+ samples/);
    expect(table).toMatch(/series web \(2\. slow \(during\)\): latency\.p95 ▁▁▁▁▁ 101ms … 101ms, 5 samples/);
    expect(table).not.toMatch(/keep-alive/);
    expect(renderMarkdown(journal)).toMatch(/\| 5 of 5 samples, worst 101ms ▁▁▁▁▁ \| ✅ PASS \|/);
    expect(renderJUnit([journal])).toMatch(/name="2\. slow \(during\): latency\.p95\.max &lt; 150ms \[web-0\]"/);
  });
});

describe("chaos-run report --format html", () => {
  it("writes the HTML report of a journal alone, and exits with the run's own code", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "chaos-run-report-")), "journal.json");
    writeFileSync(file, JSON.stringify(journal));
    let stdout = "";
    const code = await runCli(["report", file, "--format", "html"], {
      stdout: {
        write: (s) => {
          stdout += s;
        },
      },
      stderr: { write: () => undefined },
      stdoutIsTTY: false,
      stderrIsTTY: false,
      env: {},
      cwd: root,
    });
    expect(code).toBe(0);
    expect(stdout.startsWith("<!doctype html>")).toBe(true);
    expect(stdout).toBe(renderHtml(journal));
  });
});
