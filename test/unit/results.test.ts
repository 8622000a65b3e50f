// What a run leaves in the cluster, as pure functions of its journal: the result ConfigMap (its
// labels, its name, its journal compressed within the API's 1 MiB and what is dropped when it
// would not fit), which results pruning deletes, the Events each engine event makes, the
// Pushgateway's metrics (golden: test/fixtures/results/; UPDATE_GOLDEN=1 rewrites them) and the
// history table. The demo's real journal (the kernel lab's nginx-latency-timeline run) throughout.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import type { StoredConfigMap } from "../../src/kube/types.js";
import type { Journal, JournalProbe } from "../../src/report/journal.js";
import { podEventsOf } from "../../src/results/events.js";
import { keyFigures } from "../../src/results/figures.js";
import { historyTable } from "../../src/results/history.js";
import { pushUrl, renderMetrics } from "../../src/results/metrics.js";
import { dropOutput, thinSamples } from "../../src/results/trim.js";
import { beyondKept, decodeJournal, encodeJournal, JOURNAL_BUDGET_BYTES, resultConfigMap, storedRunRef, type StoredRunRef } from "../../src/results/stored.js";

const root = join(import.meta.dirname, "../..");
const demo = (): Journal => JSON.parse(readFileSync(join(root, "test/fixtures/report/demo/journal.json"), "utf8")) as Journal;

function matchesGolden(name: string, actual: string): void {
  const path = join(root, "test/fixtures/results", name);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

/** The ConfigMap as the API server would hand it back. */
function stored(j: Journal, budget?: number): StoredConfigMap {
  const spec = resultConfigMap(j, { instance: "chaos-run-demo" }, budget === undefined ? undefined : encodeJournal(j, budget));
  return { namespace: "chaos", name: spec.name, labels: spec.labels, annotations: spec.annotations, createdAt: 0, data: {}, binaryData: spec.binaryData ?? {} };
}

/** The demo's journal with 600 samples in its fault's series, each measuring something else, and each probe's output grown to 1 KiB of noise (noise does not compress). */
function heavy(): Journal {
  const j = demo();
  const sample = j.probes.find((p) => p.series === "s2-0-pulse" && !p.aggregate) as JournalProbe;
  const samples = Array.from(
    { length: 600 },
    (_, i): JournalProbe => ({ ...sample, id: 1000 + i, sample: i, metrics: { ...sample.metrics, "latency.p50": ((i * 7919) % 1000) / 7, "latency.p95": ((i * 104729) % 3001) / 11 } }),
  );
  const noisy = [...j.probes.filter((p) => p.series !== "s2-0-pulse" || p.aggregate), ...samples].map((p) => ({ ...p, stdout: randomBytes(512).toString("hex") }));
  return { ...j, probes: noisy };
}

describe("the result ConfigMap", () => {
  it("labelled by scenario, verdict and exit code; named by time; its journal whole when it fits", () => {
    const cm = stored(demo());
    expect(cm.name).toBe("chaos-run-nginx-latency-timeline-20261201-053434-k28jj9uo");
    expect(cm.labels).toEqual({
      "app.kubernetes.io/name": "chaos-run",
      "app.kubernetes.io/component": "result",
      "app.kubernetes.io/managed-by": "chaos-run",
      "app.kubernetes.io/instance": "chaos-run-demo",
      "chaos-run.dev/scenario": "nginx-latency-timeline",
      "chaos-run.dev/verdict": "passed",
      "chaos-run.dev/exit-code": "0",
      "chaos-run.dev/run": "k28jj9uo",
    });
    expect(cm.annotations["chaos-run.dev/trimmed"]).toBeUndefined();
    expect(decodeJournal(cm)).toEqual(demo());
    const ref = storedRunRef(cm);
    expect(ref).toMatchObject({ scenario: "nginx-latency-timeline", verdict: "passed", exitCode: 0, startedAt: demo().startedAt, durationMs: demo().durationMs });
    expect(ref.summary?.expectations).toEqual({ held: 6, total: 6 });
  });

  it("over the budget: the output goes first, then samples are thinned until it fits, and the object says so", () => {
    const j = heavy();
    const whole = encodeJournal(j);
    expect(whole.trimmed).toEqual([]);
    const size = whole.gzip?.byteLength ?? 0;
    // just under the whole: dropping the output is enough
    const quiet = encodeJournal(j, size - 1);
    expect(quiet.trimmed).toEqual(["commands' and probes' output dropped"]);
    // well under what is left without output: the samples are thinned as far as needed, no further
    const quietSize = quiet.gzip?.byteLength ?? 0;
    const budget = Math.floor(quietSize * 0.4);
    const small = encodeJournal(j, budget);
    expect(small.gzip?.byteLength).toBeLessThanOrEqual(budget);
    expect(small.trimmed).toHaveLength(2);
    expect(small.trimmed[0]).toBe("commands' and probes' output dropped");
    const k = Number(/^continuous probes' samples thinned to 1 in (\d+)$/.exec(small.trimmed[1] ?? "")?.[1]);
    expect(k).toBeGreaterThanOrEqual(2);
    // no further than needed: at half the thinning it would not have fitted
    expect(gzipSync(JSON.stringify(thinSamples(dropOutput(j), k / 2))).byteLength).toBeGreaterThan(budget);
    const cm = stored(j, budget);
    expect(cm.annotations["chaos-run.dev/trimmed"]).toBe(small.trimmed.join("; "));
    const back = decodeJournal(cm);
    expect(back.probes.every((p) => p.stdout === "")).toBe(true);
    expect(back.expectations).toEqual(j.expectations);
    const kept = back.probes.filter((p) => p.series === "s2-0-pulse" && !p.aggregate).map((p) => p.sample ?? -1);
    expect(kept.every((s) => s % k === 0 || s === 599)).toBe(true);
    expect(kept).toContain(599);
    // the steady state's series is thinned the same way; every probe run once is kept
    expect(back.probes.filter((p) => p.series === undefined)).toHaveLength(j.probes.filter((p) => p.series === undefined).length);
  });

  it("when not even the smallest form fits: no journal, the object says why, report --from-cluster says it again", () => {
    const cm = stored(heavy(), 200);
    expect(cm.binaryData["journal.json.gz"]).toBeUndefined();
    expect(cm.annotations["chaos-run.dev/trimmed"]).toMatch(/the journal itself dropped: \d+ bytes compressed even so, over the 200 the object can hold$/);
    expect(() => decodeJournal(cm)).toThrow(/holds no journal: commands' and probes' output dropped; .*the journal itself dropped/);
    expect(JOURNAL_BUDGET_BYTES).toBeLessThan(1_048_576);
  });

  it("a stored object that is not a journal of this version is a usage error, not a crash", () => {
    const cm = stored(demo());
    expect(() => decodeJournal({ ...cm, binaryData: { "journal.json.gz": new Uint8Array([1, 2, 3]) } })).toThrow(/does not decompress to JSON/);
  });
});

describe("pruning", () => {
  const ref = (scenario: string, i: number, ns = "chaos"): StoredRunRef => ({
    namespace: ns,
    name: `chaos-run-${scenario}-${i}`,
    scenario,
    runId: String(i),
    verdict: "passed",
    exitCode: 0,
    startedAt: new Date(Date.UTC(2026, 11, 1, 0, i)).toISOString(),
    durationMs: 1,
    summary: undefined,
    trimmed: undefined,
  });

  it("keeps the newest N of each scenario, whatever order the list came in", () => {
    const runs = [...Array.from({ length: 25 }, (_, i) => ref("a", i)), ...Array.from({ length: 3 }, (_, i) => ref("b", i)), ref("a", 99, "other")].reverse();
    expect(
      beyondKept(runs, 20)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["chaos-run-a-0", "chaos-run-a-1", "chaos-run-a-2", "chaos-run-a-3", "chaos-run-a-4"]);
    expect(beyondKept(runs, 1).filter((r) => r.scenario === "b")).toHaveLength(2);
  });
});

describe("the figures and metrics a run is remembered by", () => {
  it("the latency the fault added, and the requests that failed under it", () => {
    expect(keyFigures(demo()).map((f) => ({ ...f, value: Math.round(f.value * 1e6) / 1e6 }))).toMatchInlineSnapshot(`
      [
        {
          "name": "added_latency_seconds",
          "pod": "nginx",
          "probe": "pulse",
          "step": 2,
          "stepName": "add latency",
          "value": 0.107134,
        },
        {
          "name": "error_ratio",
          "pod": "nginx",
          "probe": "pulse",
          "step": 2,
          "stepName": "add latency",
          "value": 0,
        },
      ]
    `);
  });

  it("renders chaos_run_* in the text format (golden), pushed under job, scenario and namespace", () => {
    matchesGolden("demo.metrics.txt", renderMetrics(demo()));
    expect(pushUrl("http://pushgateway:9091/", demo())).toBe("http://pushgateway:9091/metrics/job/chaos-run/scenario/nginx-latency-timeline/namespace/default");
  });
});

describe("Events on the target pods", () => {
  it("a fault applied, reverted or not confirmed, and the verdict on each target pod; nothing for the rest", () => {
    const j = demo();
    const start = { type: "run:start", at: 0, runId: "r1", plan: undefined, cluster: { context: "", server: "", user: "", namespace: "default" } } as unknown as EngineEvent;
    expect(podEventsOf(start, undefined, "r1")).toEqual([]);
    const pod = { namespace: "default", name: "nginx" };
    const applied = podEventsOf({ type: "fault:applied", at: 1, index: 1, faultId: "r1-s2", pod, iface: "eth0", families: [4], detail: "", commands: [], durationMs: 5 }, undefined, "r1");
    expect(applied).toEqual([{ pod, type: "Normal", reason: "FaultApplied", action: "Apply", message: "step 2 applied on eth0 (chaos-run  run r1)", at: 1 }]);
    const unconfirmed = podEventsOf(
      { type: "fault:reverted", at: 2, index: 1, faultId: "r1-s2", pod, confirmed: false, detail: "exec timed out", attempts: 3, commands: [], durationMs: 30_000 },
      undefined,
      "r1",
    );
    expect(unconfirmed[0]).toMatchObject({ type: "Warning", reason: "FaultRevertUnconfirmed" });
    expect(unconfirmed[0]?.message).toContain("chaos-run sweep -n default");
    expect(j.status).toBe("passed");
  });
});

describe("history", () => {
  it("a line per run, newest first as given; a cell's control characters escaped (a ConfigMap is anyone's to edit)", () => {
    const a = storedRunRef({ ...stored(demo()), namespace: "chaos" });
    const forged = { ...a, name: "chaos-run-x", scenario: "x\u001b[31mred", summary: undefined, verdict: "failed", exitCode: 1 };
    expect(historyTable([a, forged], false)).toBe(
      [
        "STARTED                SCENARIO                 VERDICT        EXIT   DURATION   FIGURES                     RESULT",
        "2026-12-01T05:34:34Z   nginx-latency-timeline   passed (6/6)   0      1m12.6s    s2 +107.1ms, s2 errors 0%   chaos-run-nginx-latency-timeline-20261201-053434-k28jj9uo",
        "2026-12-01T05:34:34Z   x\\x1b[31mred             failed         1      1m12.6s    -                           chaos-run-x",
        "",
      ].join("\n"),
    );
  });
});
