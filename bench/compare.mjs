// The compare section: compare's own time on two journals of 10,000 samples each (bar: ≤ 200 ms,
// issue 23), beside the time to load them (read, parse, schema check). The journals are the demo
// run's (test/fixtures/report/demo) with its probes replaced by 10,000 samples of its http probe
// — most from the steady state's continuous probe through the run, the rest during the fault —
// with seeded latencies, the new run's 10% slower under the fault. Each measurement is made in a
// fresh process (this file, run with --compare-bench-child): its first call is the one a user
// waits for, nothing of compare compiled yet by the JIT, and is held to the bar; the calls after
// it show the steady cost. CPU time is printed beside: on a busy machine the wall time is not
// compare's alone. And the whole command as a user runs it, `chaos-run compare BASE NEW --format
// json` from node's start to its exit (the journals' validator is precompiled: scripts/gen-validator.mjs).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SAMPLES = 10_000;
const DURING_SHARE = 0.3;
const BAR_MS = 200;
const REPEAT = 10;

/** An http probe's metrics for three requests of about `center` ms. */
function httpMetrics(random, center) {
  const times = [0, 1, 2].map(() => Math.round(center * (0.7 + 0.6 * random()) * 1000) / 1000).sort((a, b) => a - b);
  const errors = random() < 0.01 ? 1 : 0;
  return {
    requests: 3,
    responses: 3 - errors,
    errors,
    errorRatio: errors / 3,
    timeouts: 0,
    refused: errors,
    "status.1xx": 0,
    "status.2xx": 3 - errors,
    "status.3xx": 0,
    "status.4xx": 0,
    "status.5xx": 0,
    "status.200": 3 - errors,
    "latency.min": times[0],
    "latency.mean": (times[0] + times[1] + times[2]) / 3,
    "latency.p50": times[1],
    "latency.p90": times[2],
    "latency.p95": times[2],
    "latency.p99": times[2],
    "latency.max": times[2],
  };
}

function sample(template, id, phase, at, metrics, series) {
  const iso = new Date(at).toISOString();
  return { ...template, id, phase, at: iso, startedAt: iso, metrics, ...series };
}

/** The demo journal with SAMPLES samples; `slower` multiplies the latency under the fault. */
function journal(demo, mulberry32, seed, slower) {
  const random = mulberry32(seed);
  const j = structuredClone(demo);
  const start = Date.parse(j.startedAt);
  const end = Date.parse(j.endedAt);
  const [from, to] = [Date.parse(j.faults[0].appliedAt), Date.parse(j.faults[0].revertedAt)];
  const monitor = demo.probes.find((p) => p.phase === "monitor");
  const during = demo.probes.find((p) => p.phase === "during");
  const probes = demo.probes.filter((p) => p.phase === "before" || p.phase === "step" || p.phase === "after");
  const inFault = Math.round(SAMPLES * DURING_SHARE);
  for (let i = 0; i < SAMPLES - inFault; i++) {
    const at = start + ((end - start) * (i + 0.5)) / (SAMPLES - inFault);
    const faulted = at >= from && at <= to;
    probes.push(sample(monitor, 0, "monitor", at, httpMetrics(random, faulted ? 100 * slower : 1.5), { series: monitor.series, sample: i, everyMs: 4 }));
  }
  for (let i = 0; i < inFault; i++) {
    const at = from + ((to - from) * (i + 0.5)) / inFault;
    probes.push(sample(during, 0, "during", at, httpMetrics(random, 100 * slower), { series: during.series, sample: i, everyMs: 3 }));
  }
  probes.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  j.probes = probes.map((p, i) => ({ ...p, id: i + 1 }));
  return j;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One measurement in this (fresh) process: load both journals, then compare them REPEAT + 1 times. */
async function measure(root, basePath, newPath) {
  const { compareRuns } = await import(pathToFileURL(join(root, "dist/compare/compare.js")).href);
  const { loadJournal } = await import(pathToFileURL(join(root, "dist/compare/load.js")).href);
  const t0 = performance.now();
  const [base, next] = [basePath, newPath].map((p) => loadJournal(p).journal);
  const loadMs = performance.now() - t0;
  const times = [];
  let cpuMs = 0;
  let c;
  for (let i = 0; i <= REPEAT; i++) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    c = compareRuns(base, next);
    times.push(performance.now() - t);
    if (i === 0) cpuMs = ((u) => (u.user + u.system) / 1000)(process.cpuUsage(cpu));
  }
  return { loadMs, firstMs: times[0], firstCpuMs: cpuMs, warmMs: median(times.slice(1)), rows: c.rows.length, counts: c.counts };
}

const CHILD = "--compare-bench-child";
if (process.argv[2] === CHILD) {
  const [root, basePath, newPath] = process.argv.slice(3);
  process.stdout.write(JSON.stringify(await measure(root, basePath, newPath)));
}

const PROCESSES = Number(process.env.BENCH_RUNS ?? 5);
const ms = (v) => `${v.toFixed(1).padStart(7)} ms`;

export default async function compare({ root, log }) {
  const demo = JSON.parse(readFileSync(join(root, "test/fixtures/report/demo/journal.json"), "utf8"));
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-bench-compare-"));
  try {
    const { mulberry32 } = await import(pathToFileURL(join(root, "dist/plan/prng.js")).href);
    const paths = [journal(demo, mulberry32, 1, 1), journal(demo, mulberry32, 2, 1.1)].map((j, i) => {
      const path = join(dir, `${i === 0 ? "base" : "new"}.json`);
      writeFileSync(path, JSON.stringify(j));
      return path;
    });
    // each in a fresh process: the first call is the one a user waits for, nothing of compare compiled yet
    const runs = [];
    for (let i = 0; i < PROCESSES; i++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), CHILD, root, ...paths], { encoding: "utf8" });
      if (r.status !== 0) {
        log(`the measuring process exited ${r.status}: ${r.stderr.trim()}`);
        return false;
      }
      runs.push(JSON.parse(r.stdout));
    }
    const cli = [];
    for (let i = 0; i < PROCESSES; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, [join(root, "dist/cli/main.js"), "compare", ...paths, "--format", "json"], { encoding: "utf8", maxBuffer: 64 << 20 });
      cli.push(performance.now() - t);
      if (r.status !== 0 && r.status !== 1) {
        log(`chaos-run compare exited ${r.status}: ${r.stderr.trim()}`);
        return false;
      }
    }
    const { rows, counts } = runs[0];
    const first = median(runs.map((r) => r.firstMs));
    const ok = first <= BAR_MS;
    log(`two journals of ${SAMPLES.toLocaleString("en")} samples each, ${rows} rows (${counts.regressed} regressed, ${counts["within noise"]} within noise); medians of ${PROCESSES} fresh processes:`);
    log(`  load both (read, JSON.parse, schema check)   ${ms(median(runs.map((r) => r.loadMs)))}`);
    log(`  compare, first call                          ${ms(first)}  ${ok ? `ok (≤ ${BAR_MS} ms)` : `OVER the ${BAR_MS} ms bar`}  (CPU ${ms(median(runs.map((r) => r.firstCpuMs))).trim()})`);
    log(`  compare, median of ${REPEAT} calls after it         ${ms(median(runs.map((r) => r.warmMs)))}`);
    log(`  chaos-run compare BASE NEW, start to exit        ${ms(median(cli))}`);
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
