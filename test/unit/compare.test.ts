// compareRuns on real journals: the demo run (test/fixtures/report/demo) against itself, against
// itself with every latency measured under the fault doubled (test/fixtures/compare/latency-x2,
// loaded as a run directory), with another fault, another scenario, renamed pods, a redefined
// probe, and with the fault turned into a kill, an HTTP fault or a stress that measured
// themselves.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareRuns } from "../../src/compare/compare.js";
import { loadJournal } from "../../src/compare/load.js";
import type { Comparison, ComparisonRow } from "../../src/compare/types.js";
import { isChaosRunError } from "../../src/errors.js";
import { settingsText } from "../../src/report/compare/words.js";
import type { Journal, JournalFault } from "../../src/report/journal.js";
import { LATENCY_X2, demo, killRun, latencyTimes, planSteps, renamePod, withFault } from "./compare-journals.js";

const rowsOf = (c: Comparison, verdict: ComparisonRow["verdict"]) => c.rows.filter((r) => r.verdict === verdict);
const find = (c: Comparison, section: string, origin: ComparisonRow["origin"], metric: string): ComparisonRow => {
  const r = c.rows.find((x) => x.section === section && x.origin === origin && x.metric === metric);
  if (r === undefined) throw new Error(`no row ${section} ${origin} ${metric}`);
  return r;
};
const LATENCY = ["latency.min", "latency.mean", "latency.p50", "latency.p90", "latency.p95", "latency.p99", "latency.max"];

describe("the demo run against itself", () => {
  const c = compareRuns(demo(), demo());

  it("compares every figure of every section and finds each within noise", () => {
    expect(c.regressed).toBe(false);
    expect(c.unmatched).toEqual([]);
    expect(c.notes).toEqual([]);
    expect(c.counts).toEqual({ regressed: 0, improved: 0, changed: 0, "within noise": c.rows.length });
    expect([...new Set(c.rows.map((r) => r.section))]).toEqual([
      "steady state (before)",
      "steady state (through the run)",
      "step 1 baseline",
      "step 2 add latency",
      "step 3 recovery",
      "steady state (after)",
    ]);
    // 19 metrics of the http probe: before, after, the baseline step, and the continuous samples of each part
    expect(c.rows.filter((r) => r.section === "step 2 add latency" && r.origin === "during")).toHaveLength(19);
  });

  it("measures the latency the fault added against the undisturbed latency, beside the 100 ms configured", () => {
    const added = find(c, "step 2 add latency", "derived", "latency.p50 added");
    // median p50 during the fault (126.847, 108.113, 103.972) less the undisturbed median
    // (before 1.154, the monitor's first two samples 23.636 and 11.151, the baseline step 0.979, after 1.461)
    expect(added.base.value).toBeCloseTo(108.113 - 1.461, 9);
    expect(added.configured).toBe(100);
    expect(added.better).toBe("lower");
    expect(added.dimension).toBe("duration");
  });

  it("the latency an http, a grpc or a dns fault's delay adds is measured as a netem delay's, beside what was configured", () => {
    for (const spec of [
      { kind: "http", http: { port: 80, delayMs: 150 } },
      { kind: "grpc", grpc: { port: 80, delayMs: 150, faultHealth: false } },
      { kind: "dns", dns: { names: ["*.svc.cluster.local"], delayMs: 150 } },
    ]) {
      const run = withFault(demo(), `${spec.kind} delay 150ms on port 80`, spec);
      expect(find(compareRuns(run, run), "step 2 add latency", "derived", "latency.p50 added").configured, spec.kind).toBe(150);
    }
  });

  it("is plain JSON: what --format json prints reads back the same", () => {
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });
});

describe("latency × 2 while the fault was held", () => {
  const want = `${JSON.stringify(latencyTimes(demo(), 2), null, 2)}\n`;
  if (process.env["UPDATE_GOLDEN"] === "1") {
    mkdirSync(LATENCY_X2, { recursive: true });
    writeFileSync(join(LATENCY_X2, "journal.json"), want);
  }
  const fixture = loadJournal(LATENCY_X2);
  const c = compareRuns(demo(), fixture.journal);

  it("the fixture is the demo with every latency measured under the fault doubled", () => {
    expect(readFileSync(fixture.file, "utf8")).toBe(want);
    expect(fixture.file).toBe(join(LATENCY_X2, "journal.json"));
  });

  it("regressed: the step's latencies and the latency it added, and nothing else", () => {
    expect(c.regressed).toBe(true);
    const regressed = rowsOf(c, "regressed").map((r) => `${r.section} | ${r.origin} | ${r.metric}`);
    expect(regressed.sort()).toEqual(
      [
        ...LATENCY.map((m) => `step 2 add latency | during | ${m}`),
        ...LATENCY.map((m) => `step 2 add latency | monitor | ${m}`),
        "step 2 add latency | derived | latency.p50 added",
        "step 2 add latency | derived | latency.p50 added (through the run)",
      ].sort(),
    );
    expect(c.counts).toMatchObject({ regressed: 16, improved: 0, changed: 0 });
  });

  it("the 8 + 8 continuous samples are judged by the rank test; the 3 + 3 during the fault as medians", () => {
    const monitor = find(c, "step 2 add latency", "monitor", "latency.p50");
    expect(monitor.rule).toMatchObject({ kind: "rank-test", method: "exact", u: 0, cliffsDelta: 1, significant: true, practical: true });
    if (monitor.rule.kind === "rank-test") expect(monitor.rule.p).toBeCloseTo(2 / 12870, 12);
    expect(monitor.base.n).toBe(8);
    expect(monitor.rule.text).toMatch(/^Mann–Whitney U = 0 \(exact, 8 \+ 8 samples\), p = 0\.00016 < α = 0\.01; Cliff's δ = \+1\.00/);
    const during = find(c, "step 2 add latency", "during", "latency.p50");
    expect(during).toMatchObject({ base: { value: 108.113, n: 3 }, new: { value: 216.226, n: 3 }, verdict: "regressed" });
    // 108 ms is no value the probe took undisturbed (its 5 + 5 lie far below): the band is linear, z·√2·s, which binds here
    expect(during.rule).toMatchObject({ kind: "noise-threshold", bound: "noise" });
    expect(during.rule.text).toContain("(its base value is outside the undisturbed values: their factor is not its)");
    expect(during.rule.text).toContain("3 + 3 samples: the rank test cannot reach p < 0.01");
    expect(find(c, "step 2 add latency", "derived", "latency.p50 added")).toMatchObject({ configured: 100, verdict: "regressed" });
  });

  it("the steady state and the recovery step stay within noise", () => {
    for (const r of c.rows.filter((x) => x.section !== "step 2 add latency")) expect(r.verdict).toBe("within noise");
  });

  it("the other way round, the same rows improved", () => {
    const back = compareRuns(fixture.journal, demo());
    expect(back.regressed).toBe(false);
    expect(back.counts).toMatchObject({ regressed: 0, improved: 16 });
  });

  it("a threshold of 150% lets a doubling pass: the option reaches both rules", () => {
    const lax = compareRuns(demo(), fixture.journal, { threshold: 1.5 });
    expect(lax.regressed).toBe(false);
    expect(lax.settings).toEqual({ alpha: 0.01, threshold: 1.5, minEffect: 0.33, minChangeMs: 0 });
  });

  it("a smallest change of 200 ms for durations (--min-change) lets the 108 ms rise pass, in both rules; figures of other dimensions are judged as before", () => {
    const floor = compareRuns(demo(), fixture.journal, { minChangeMs: 200 });
    expect(floor.settings.minChangeMs).toBe(200);
    const was = new Map(c.rows.map((r) => [`${r.section} ${r.origin} ${r.probe} ${r.pod} ${r.metric}`, r.verdict]));
    for (const r of floor.rows) {
      const before = was.get(`${r.section} ${r.origin} ${r.probe} ${r.pod} ${r.metric}`);
      if (r.dimension === "duration" && Math.abs(r.change ?? 0) < 200) expect(r.verdict, `${r.section} ${r.metric}`).toBe("within noise");
      else expect(r.verdict, `${r.section} ${r.metric}`).toBe(before);
    }
    const during = find(floor, "step 2 add latency", "during", "latency.p50");
    expect(during.rule.text).toContain("within the smallest change of a duration, 200ms (--min-change; 20% of the base value is 21.6226ms), the larger of it and the noise band");
    const monitor = find(floor, "step 2 add latency", "monitor", "latency.p50");
    expect(monitor.rule).toMatchObject({ kind: "rank-test", significant: true, practical: false, minShift: 200 });
    expect(monitor.rule.text).toContain("< the smallest change of a duration, 200ms (--min-change; 20% of the base median is");
    // said beside the threshold in every view's "judged by"
    expect(settingsText(floor)).toMatch(/^threshold 20% of the base value, and at least 200ms for a duration; /);
    expect(settingsText(c)).toMatch(/^threshold 20% of the base value; /);
  });
});

describe("runs that match only in part", () => {
  it("another fault: its step is not compared, and the comparison says why; the other steps are", () => {
    const other = withFault(demo(), "netem delay 120ms, jitter 5ms; only port 80 (source or destination)", { kind: "netem", scope: { port: 80 }, netem: { delayMs: 120, jitterMs: 5 } });
    const c = compareRuns(demo(), other);
    expect(c.unmatched).toEqual([
      {
        section: "step 2 add latency",
        what: "step",
        side: "both",
        reason: "not compared: its fault differs: base netem delay 100ms, jitter 5ms; only port 80 (source or destination); new netem delay 120ms, jitter 5ms; only port 80 (source or destination)",
      },
    ]);
    expect(c.rows.some((r) => r.section === "step 2 add latency")).toBe(false);
    expect(c.rows.some((r) => r.section === "step 3 recovery")).toBe(true);
  });

  it("another scenario, a renamed step and one more step: said in the notes and the unmatched list", () => {
    const other = demo();
    other.scenario.name = "nginx-latency-v2";
    other.scenario.sha256 = "0".repeat(64);
    const steps = planSteps(other);
    (steps[0] as { name: string }).name = "first look";
    steps.push({ index: 3, name: "rest", kind: "wait", startMs: 42000, durationMs: 5000 } as unknown as (typeof steps)[number]);
    const c = compareRuns(demo(), other);
    expect(c.notes).toEqual(['the runs are of different scenarios (base "nginx-latency-timeline", new "nginx-latency-v2"): compared only where their steps match']);
    expect(c.unmatched).toEqual([
      { section: "step 1 baseline", what: "step", side: "both", reason: 'not compared: named "baseline" in base and "first look" in new' },
      { section: "step 4 rest", what: "step", side: "new", reason: "only the new run's plan has a step 4" },
    ]);
    expect(c.rows.some((r) => r.section === "step 2 add latency")).toBe(true);
  });

  it("pods with other names (a Deployment's new pods) are matched by their place in the plan", () => {
    const c = compareRuns(demo(), renamePod(demo(), "nginx", "nginx-7d9f8-x2k4q"));
    expect(c.notes).toEqual(["the runs' pods differ: matched by their place in each plan (nginx ↔ nginx-7d9f8-x2k4q)"]);
    expect(c.unmatched).toEqual([]);
    expect(c.regressed).toBe(false);
    expect(find(c, "steady state (before)", "before", "latency.p50")).toMatchObject({ pod: "nginx", newPod: "nginx-7d9f8-x2k4q" });
  });

  it("a probe that runs something else is not compared where it runs so", () => {
    const other = demo();
    const during = planSteps(other)[1]?.during?.[0];
    if (during === undefined) throw new Error("the demo's fault step has a during probe");
    during.argv = [...during.argv.slice(0, -1), "http://{{ target.ip }}/slow#[1-3]"];
    const c = compareRuns(demo(), other);
    expect(c.unmatched).toEqual([{ section: "step 2 add latency", what: "probe pulse", side: "both", reason: "probe pulse is not the same probe in both runs (its kind, command or query differs)" }]);
    expect(c.rows.some((r) => r.section === "step 2 add latency" && r.origin === "during")).toBe(false);
    expect(c.rows.some((r) => r.section === "step 2 add latency" && r.origin === "monitor")).toBe(true);
  });

  it("a run without a plan (it ended before planning) is compared on what it has", () => {
    const early = demo();
    early.plan = null;
    early.status = "error";
    early.exitCode = 3;
    const c = compareRuns(demo(), early);
    expect(c.notes).toEqual(["the new run ended error (exit 3): its journal may hold only part of the run"]);
    expect(c.unmatched.filter((u) => u.what === "step").map((u) => u.reason)).toEqual([1, 2, 3].map((n) => `only the base run's plan has a step ${n}`));
    expect(c.rows.some((r) => r.section === "steady state (before)")).toBe(true);
  });
});

describe("what faults measured themselves", () => {
  const observed = (j: Journal, kind: string, metrics: Record<string, number | null>): Journal => {
    const out = structuredClone(j);
    (out.faults[0] as JournalFault).observed = { at: out.startedAt, kind, metrics, detail: "" };
    return out;
  };

  it("recovery after a kill: slower beyond the spread over the pods regressed; no recovery at all regressed too", () => {
    const c = compareRuns(killRun({ "web-0": 4000, "web-1": 4400 }), killRun({ "web-0": 9000, "web-1": 4300 }));
    const rows = c.rows.filter((r) => r.origin === "fault" && r.metric === "recovery.time");
    expect(rows.map((r) => [r.pod, r.verdict])).toEqual([
      ["web-0", "regressed"],
      ["web-1", "within noise"],
    ]);
    // the new run's pods differ by 4.7 s: its noise band (the central 80%) is 3.76 s, and 5 s is beyond it
    expect(rows[0]?.rule).toMatchObject({ kind: "noise-threshold", bound: "noise", thresholdValue: 800, noise: 3760 });
    expect(rows[0]?.rule.text).toBe("change +5s beyond the noise band 3.76s (the spread over the step's pods, 2 in base, 2 in new), the larger of it and 20% of the base value (800ms)");
    const never = compareRuns(killRun({ "web-0": 4000, "web-1": 4400 }), killRun({ "web-0": null, "web-1": 4300 }));
    const gone = never.rows.find((r) => r.metric === "recovery.time" && r.pod === "web-0");
    expect(gone).toMatchObject({ verdict: "regressed", rule: { kind: "missing-value" }, new: { value: null } });
  });

  it("the HTTP proxy's counts have no better direction: a change is a change, not a regression", () => {
    const c = compareRuns(
      observed(demo(), "http", { requests: 100, faulted: 100, errors: 10, "errors.rate": 0.1, relayed: 0 }),
      observed(demo(), "http", { requests: 100, faulted: 100, errors: 50, "errors.rate": 0.5, relayed: 0 }),
    );
    expect(c.rows.filter((r) => r.origin === "fault").map((r) => [r.metric, r.verdict])).toEqual([
      ["requests", "within noise"],
      ["faulted", "within noise"],
      ["errors", "changed"],
      ["errors.rate", "changed"],
      ["relayed", "within noise"],
    ]);
    expect(c.regressed).toBe(false);
  });

  it("throttling under stress: more of it regressed, with its dimension", () => {
    const c = compareRuns(observed(demo(), "stress", { "cpu.throttled": 0.1, "cpu.load": 0.5 }), observed(demo(), "stress", { "cpu.throttled": 0.4, "cpu.load": 0.5 }));
    expect(c.rows.filter((r) => r.origin === "fault").map((r) => [r.metric, r.dimension, r.verdict])).toEqual([
      ["cpu.throttled", "ratio", "regressed"],
      ["cpu.load", "ratio", "within noise"],
    ]);
  });
});

describe("counts out of a total, read from the journals", () => {
  /** The demo with the errors of its probe runs under the fault set, one value per run (of 3 requests each). */
  const withErrors = (errors: readonly number[]): Journal => {
    const j = demo();
    let i = 0;
    for (const p of j.probes) {
      if (p.phase !== "during" || p.probe !== "pulse") continue;
      const e = errors[i++] ?? 0;
      const requests = p.metrics["requests"] as number;
      p.metrics = { ...p.metrics, errors: e, errorRatio: e / requests };
    }
    return j;
  };

  it("2 of 9 requests failing where none did is chance; all 9 failing regressed; both by the proportion test against the requests beside them", () => {
    const few = compareRuns(demo(), withErrors([1, 1, 0])).rows.find((r) => r.origin === "during" && r.metric === "errors");
    expect(few).toMatchObject({ verdict: "within noise", rule: { kind: "proportion-test", baseCount: 0, baseTotal: 9, newCount: 2, newTotal: 9 } });
    const all = compareRuns(demo(), withErrors([3, 3, 3]));
    for (const metric of ["errors", "errorRatio"]) {
      const row = all.rows.find((r) => r.origin === "during" && r.metric === metric);
      expect(row).toMatchObject({ verdict: "regressed", rule: { kind: "proportion-test", baseCount: 0, newCount: 9, newTotal: 9 } });
    }
  });
});

describe("settings", () => {
  it("refuses what cannot be a level, a threshold or an effect (exit 2)", () => {
    for (const bad of [{ alpha: 0 }, { alpha: 1.5 }, { threshold: -0.1 }, { minEffect: 2 }, { threshold: Number.NaN }]) {
      let error: unknown;
      try {
        compareRuns(demo(), demo(), bad);
      } catch (e) {
        error = e;
      }
      expect(isChaosRunError(error) && error.exitCode).toBe(2);
    }
  });
});
