// The scenario section: cold start of the CLI against `node -e 0`, and validating 1,000
// files in one process. Bars (docs/benchmarks.md): --help and validate of one file
// ≤ 1.5× node -e 0 (medians of interleaved runs), validate DIR of 1,000 files ≤ 1 s.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function timeRun(argv, cwd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, status: r.status, stderr: String(r.stderr) };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export default async function scenario({ root, log }) {
  const cli = join(root, "dist/cli/main.js");
  const one = join(root, "scenarios/nginx-latency.yaml");
  const runs = Number(process.env.BENCH_RUNS ?? 21);
  const commands = {
    "node -e 0": ["-e", "0"],
    "chaos-run --help": [cli, "--help"],
    "chaos-run validate one-file": [cli, "validate", one],
  };
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  // warm the file cache, then interleave so drift hits all commands alike
  for (const argv of Object.values(commands)) timeRun(argv, root);
  for (let i = 0; i < runs; i++) {
    for (const [name, argv] of Object.entries(commands)) {
      const r = timeRun(argv, root);
      if (name !== "node -e 0" && r.status !== 0) {
        log(`${name} exited ${r.status}: ${r.stderr.trim()}`);
        return false;
      }
      times[name].push(r.ms);
    }
  }
  const base = median(times["node -e 0"]);
  let ok = true;
  log(`cold start, median of ${runs} interleaved runs each:`);
  for (const name of Object.keys(commands)) {
    const m = median(times[name]);
    const ratio = m / base;
    const bar = name === "node -e 0" ? "" : ratio <= 1.5 ? "  ok (≤ 1.5×)" : "  OVER the 1.5× bar";
    if (name !== "node -e 0" && ratio > 1.5) ok = false;
    log(`  ${name.padEnd(28)} ${m.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2)}× node -e 0${bar}`);
  }

  // 1,000 scenario files (the catalog's valid files, varied) in one directory, one process
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-bench-"));
  try {
    const catalog = readdirSync(join(root, "scenarios"))
      .filter((f) => f.endsWith(".yaml"))
      .sort()
      .map((f) => readFileSync(join(root, "scenarios", f), "utf8"));
    for (let i = 0; i < 1000; i++) {
      const text = catalog[i % catalog.length].replace(/^( {2}name: )([a-z0-9-]+)$/m, `$1$2-${i}`);
      writeFileSync(join(dir, `s${String(i).padStart(4, "0")}.yaml`), text);
    }
    const dirRuns = [];
    for (let i = 0; i < 5; i++) {
      const r = timeRun([cli, "validate", dir], root);
      if (r.status !== 0) {
        log(`validate DIR exited ${r.status}: ${r.stderr.slice(0, 500)}`);
        return false;
      }
      dirRuns.push(r.ms);
    }
    const m = median(dirRuns);
    const dirOk = m <= 1000;
    if (!dirOk) ok = false;
    log(`validate DIR of 1,000 files, median of 5: ${m.toFixed(0)} ms = ${(m / 1000).toFixed(2)}× the 1 s bar${dirOk ? "  ok" : "  OVER the bar"}`);
    log(`  per file beyond start-up: ${((m - median(times["chaos-run validate one-file"])) / 999).toFixed(3)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}
