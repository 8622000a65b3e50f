// The report views are pure functions of the journal: a journal recorded from a scripted run of
// scenarios/nginx-latency.yaml (real plan, real expectations, ab metrics as measured in the
// kernel lab) renders to the golden table, JUnit, Markdown and HTML in test/fixtures/report/, and
// validates against schemas/journal.schema.json; the demo's journal (a real run in the lab)
// renders to its golden HTML. UPDATE_GOLDEN=1 rewrites the golden files.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import type { EngineEvent, ProbeWhere } from "../../src/engine/events.js";
import { evaluateExpectation } from "../../src/expect/expectation.js";
import { metricsOf } from "../../src/expect/metrics.js";
import { planToJson } from "../../src/plan/format.js";
import { planRun } from "../../src/plan/plan.js";
import type { PlannedProbeRun } from "../../src/plan/types.js";
import type { ProbeOutcome } from "../../src/probes/run.js";
import { renderHtml } from "../../src/report/html.js";
import { newJournal, recordEvent, type Journal } from "../../src/report/journal.js";
import { effectLine, faultEffects, renderJUnit, renderMarkdown, renderTable } from "../../src/report/views.js";
import { readScenarioFile } from "../../src/scenario/load.js";

const root = join(import.meta.dirname, "../..");
const golden = join(root, "test/fixtures/report");

function outcome(p50: number, p95: number, mean: number, failed = 0): ProbeOutcome {
  return {
    probe: "web",
    kind: "ab",
    pod: "nginx",
    aggregate: false,
    argv: ["ab", "-r", "-k", "-n", "50", "-c", "1", "-s", "10", "-e", "/dev/stderr", "http://198.18.0.2/"],
    exitCode: 0,
    stdout: "Complete requests:      50\n",
    stderr: "",
    durationMs: mean * 50,
    metrics: { "latency.p50": p50, "latency.p95": p95, "latency.mean": mean, failedRequests: failed, completeRequests: 50, non2xxResponses: 0 },
    failures: { connect: 0, receive: 0, length: 0, exceptions: 0, timeout: 0 },
    keepAlive: true,
    stoppedEarly: undefined,
  };
}

/** A journal of a scripted run: the engine's events, with expectations evaluated for real. */
function scriptedJournal(opts: { recoveryP95: number }): Journal {
  const v = readScenarioFile(join(root, "scenarios/nginx-latency.yaml"));
  if (v.scenario === undefined) throw new Error("the catalog's nginx-latency.yaml must be valid");
  const plan = planRun(v.scenario, [{ name: "nginx", ip: "198.18.0.2" }], { runId: "r1", namespace: "default" });
  let t = Date.parse("2026-11-24T12:00:00.000Z");
  const at = (ms = 100): number => (t += ms);
  const j = newJournal({ runId: "r1", version: "0.1.0", node: "v20.20.2", platform: "linux x64", file: "scenarios/nginx-latency.yaml", sha256: "0".repeat(64), startedAt: t });
  const saved: Record<string, Record<string, number>> = {};
  const events: EngineEvent[] = [];
  const probe = (run: PlannedProbeRun, where: ProbeWhere, o: ProbeOutcome): void => {
    events.push({ type: "probe:start", at: at(), where, probe: run.probe });
    events.push({ type: "probe:result", at: at(5000), where, outcome: o, save: run.save });
    run.expect.forEach((exp, i) => {
      const dimension = metricsOf("ab")[exp.metric]?.dimension ?? "number";
      const r = evaluateExpectation(exp, o.metrics[exp.metric], { dimension, saved });
      events.push({ type: "expect:result", at: at(1), where, probe: run.probe, pod: o.pod, expected: run.expectText[i] ?? "", outcome: r });
    });
    if (run.save !== undefined) saved[run.save] = Object.fromEntries(Object.entries(o.metrics).filter((e): e is [string, number] => e[1] !== undefined));
  };
  const cluster = { context: "lab", server: "https://127.0.0.1:16443", user: "lab-admin", namespace: "default" };
  events.push({ type: "run:start", at: at(0), runId: "r1", plan, cluster });
  events.push({ type: "preflight", at: at(), check: "rbac", ok: true, detail: "allowed" });
  events.push({ type: "tools:ready", at: at(), pod: { namespace: "default", name: "chaos-tools" }, image: "chaos-tools:latest", created: false, durationMs: 60 });
  const [ss] = plan.steadyState;
  if (ss === undefined) throw new Error("nginx-latency has a steady state");
  probe(ss, { phase: "before", index: undefined, stepName: "steady state (before)" }, outcome(0.48, 1.18, 0.6));
  events.push({ type: "agent:ready", at: at(1300), pod: { namespace: "default", name: "nginx" }, container: "chaos-agent-r1", reused: false, durationMs: 1300 });
  for (const step of plan.steps) {
    events.push({ type: "step:start", at: at(), index: step.index, name: step.name, kind: step.kind, durationMs: step.durationMs });
    if (step.kind === "probe") probe(step.run, { phase: "step", index: step.index, stepName: step.name }, step.name === "recovery" ? outcome(0.51, opts.recoveryP95, 0.7) : outcome(0.48, 0.71, 0.6));
    if (step.kind === "fault") {
      events.push({
        type: "fault:applied",
        at: at(3000),
        index: step.index,
        faultId: step.fault.id,
        pod: { namespace: "default", name: "nginx" },
        iface: "eth0",
        families: [4, 6],
        detail: "prio c000: → netem c001: delay 100ms jitter 5ms on eth0 (port 80)",
        commands: [
          { argv: ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "prio", "bands", "4"], exitCode: 0, durationMs: 2.1 },
          { argv: ["iptables-restore", "--noflush"], stdin: "*filter\nCOMMIT\n", exitCode: 0, durationMs: 3 },
        ],
        durationMs: 3000,
      });
      for (const d of step.during) probe(d, { phase: "during", index: step.index, stepName: step.name }, outcome(100.99, 106.2, 102.94));
      events.push({
        type: "fault:reverted",
        at: at(25000),
        index: step.index,
        faultId: step.fault.id,
        pod: { namespace: "default", name: "nginx" },
        confirmed: true,
        detail: "",
        attempts: 2,
        commands: [{ argv: ["tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"], exitCode: 0, stderr: "", durationMs: 1.5 }],
        durationMs: 800,
      });
    }
    events.push({ type: "step:end", at: at(), index: step.index, ok: true, detail: undefined });
  }
  probe(ss, { phase: "after", index: undefined, stepName: "steady state (after)" }, outcome(0.5, 1.9, 0.7));
  const failed = events.filter((e) => e.type === "expect:result" && e.outcome.verdict !== "pass").length;
  events.push({
    type: "run:end",
    at: at(),
    status: failed === 0 ? "passed" : "failed",
    exitCode: failed === 0 ? 0 : 1,
    message: failed === 0 ? undefined : `${failed} expectation did not hold`,
    hint: undefined,
  });
  for (const e of events) recordEvent(j, e, () => planToJson(plan, "scenarios/nginx-latency.yaml"));
  return j;
}

function checkGolden(name: string, actual: string): void {
  const path = join(golden, name);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("report views of a passing run", () => {
  const j = scriptedJournal({ recoveryP95: 2.3 });

  it("the journal validates against schemas/journal.schema.json", () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    const validate = ajv.compile(JSON.parse(readFileSync(join(root, "schemas/journal.schema.json"), "utf8")) as object);
    const ok = validate(JSON.parse(JSON.stringify(j)));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("records the commands each agent reply listed, the families it covered and the revert attempts", () => {
    expect(j.journalVersion).toBe(2);
    expect(j.faults).toEqual([
      {
        step: 1,
        stepName: "add latency",
        faultId: "r1-s2",
        namespace: "default",
        pod: "nginx",
        summary: "netem delay 100ms, jitter 5ms; only port 80 (source or destination)",
        iface: "eth0",
        families: [4, 6],
        appliedAt: "2026-11-24T12:00:15.002Z",
        // the apply was sent its 3 s before: the fault began between the two
        applyStartedAt: "2026-11-24T12:00:12.002Z",
        verified: "prio c000: → netem c001: delay 100ms jitter 5ms on eth0 (port 80)",
        applyCommands: [
          { argv: ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "prio", "bands", "4"], stdin: null, exitCode: 0, stderr: null, durationMs: 2.1 },
          { argv: ["iptables-restore", "--noflush"], stdin: "*filter\nCOMMIT\n", exitCode: 0, stderr: null, durationMs: 3 },
        ],
        heldUntil: null,
        lost: null,
        revertedAt: expect.stringMatching(/^2026-11-24T12:00:/) as unknown as string,
        revertStartedAt: expect.stringMatching(/^2026-11-24T12:00:/) as unknown as string,
        revertConfirmed: true,
        revertDetail: null,
        revertAttempts: 2,
        revertCommands: [{ argv: ["tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"], stdin: null, exitCode: 0, stderr: "", durationMs: 1.5 }],
      },
    ]);
    // its revert was first sent the 800 ms its attempts took before it was confirmed
    const f = j.faults[0];
    expect(Date.parse(f?.revertedAt ?? "") - Date.parse(f?.revertStartedAt ?? "")).toBe(800);
  });

  it("the table: every expectation with its resolved threshold, the fault's measured effect, the verdict", () => {
    const table = renderTable(j, { color: false });
    expect(table).toContain("latency.p50    │ ≥ baseline.latency.p50 (0.48ms) + 90ms = 90.48ms");
    expect(table).toContain("measured/configured 1.005");
    expect(table).toMatch(/PASS nginx-latency: 9 of 9 expectations held \(exit 0\)\n$/);
    expect(table).not.toContain("\u001b[");
    checkGolden("pass.table.txt", table);
  });

  it("JUnit: one testcase per expectation, no failures", () => {
    const xml = renderJUnit([j]);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(xml) as { testsuites: { testsuite: { "@_tests": string; "@_failures": string; testcase: unknown[] } } };
    expect(doc.testsuites.testsuite["@_tests"]).toBe("9");
    expect(doc.testsuites.testsuite["@_failures"]).toBe("0");
    expect(doc.testsuites.testsuite.testcase).toHaveLength(9);
    checkGolden("pass.junit.xml", xml);
  });

  it("Markdown for $GITHUB_STEP_SUMMARY", () => {
    const md = renderMarkdown(j);
    expect(md).toMatch(/^### ✅ PASS nginx-latency: 9 of 9 expectations held \(exit 0\)/);
    checkGolden("pass.summary.md", md);
  });

  it("the HTML report: each ab run drawn as the interval it measured, none joined to the next by a line", () => {
    const html = renderHtml(j);
    const [latency] = html.match(/<svg class="chart"[\s\S]*?<\/svg>/g) ?? [];
    // p50 and p95 of five runs: before, baseline, during the fault, recovery, after
    expect(latency?.match(/<path class="run[^"]*"/g)).toHaveLength(10);
    expect(latency).not.toContain("<polyline");
    // the fault's window: solid from the apply's reply to the revert's sending, lighter at each
    // edge, where the fault began or ended in the kernel at a time the runner cannot tell closer
    const window = latency?.match(/<g class="fault-window"[\s\S]*?<\/g>/)?.[0] ?? "";
    expect(window.match(/class="fault-edge"/g)).toHaveLength(2);
    expect(window).toContain("apply sent at +12.002s, confirmed at +15.002s: the fault began in the kernel between the two");
    expect(window).toContain("revert sent at +44.305s, confirmed at +45.105s: the fault ended in the kernel between the two");
    checkGolden("pass.report.html", html);
  });

  it("measures the fault's effect: median during minus median before, against the configured delay", () => {
    const [effect] = faultEffects(j);
    expect(effect?.addedMs).toBeCloseTo(100.99 - 0.48, 6);
    expect(effect?.configuredDelayMs).toBe(100);
  });

  it("an http or a grpc fault's delay is the configured one too", () => {
    for (const spec of [
      { kind: "http", http: { port: 80, delayMs: 100, errorRate: 10, errorCode: 503 } },
      { kind: "grpc", grpc: { port: 50051, delayMs: 100, errorRate: 10, status: 14 } },
    ]) {
      const plan = JSON.parse(JSON.stringify(j.plan)) as { steps: { kind: string; fault?: { spec: unknown } }[] };
      for (const step of plan.steps) if (step.fault !== undefined) step.fault.spec = spec;
      const [effect] = faultEffects({ ...j, plan });
      expect(effect?.configuredDelayMs).toBe(100);
      expect(effectLine(effect ?? { step: 0, stepName: "", pod: null, probe: "", addedMs: 0, configuredDelayMs: undefined })).toContain("configured delay 100ms: measured/configured 1.005");
    }
  });
});

describe("report views of a failing run", () => {
  const j = scriptedJournal({ recoveryP95: 40 });

  it("the table names the failing row and the verdict is FAIL, exit 1", () => {
    const table = renderTable(j, { color: false });
    expect(table).toMatch(/3\. recovery\s+│ nginx\s+│ latency\.p95\s+│ < baseline\.latency\.p95 \(0\.71ms\) × 2 \+ 20ms = 21\.42ms\s+│ 40ms\s+│ FAIL/);
    expect(table).toMatch(/FAIL nginx-latency: 8 of 9 expectations held \(exit 1\)\n$/);
    checkGolden("fail.table.txt", table);
  });

  it("JUnit: the failure carries the measured and the expected value", () => {
    const xml = renderJUnit([j]);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(xml) as {
      testsuites: { testsuite: { "@_failures": string; testcase: { failure?: { "@_message": string } }[] } };
    };
    expect(doc.testsuites.testsuite["@_failures"]).toBe("1");
    const failures = doc.testsuites.testsuite.testcase.filter((c) => c.failure !== undefined);
    expect(failures.map((c) => c.failure?.["@_message"])).toEqual(["measured 40ms, expected < baseline.latency.p95 (0.71ms) × 2 + 20ms = 21.42ms"]);
    checkGolden("fail.junit.xml", xml);
  });
});

describe("the HTML report of the demo's run", () => {
  it("renders to its golden file", () => {
    const demo = JSON.parse(readFileSync(join(golden, "demo/journal.json"), "utf8")) as Journal;
    checkGolden("demo/report.html", renderHtml(demo));
  });
});
