// The lab itself. Bars (issue: the lab): `npm run lab:up` on a warm cache ≤ 20 s to a Ready
// node; inside the kernel lab, a 100 ms netem delay measured by ab at 1.00 ± 0.05 of the
// configured delay (the median request, before and with the delay).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { labIsUp } from "./lib/lab.mjs";

export default async function lab({ root, log }) {
  let ok = true;
  const wasUp = labIsUp(root);
  spawnSync(join(root, "test/lab/down"), ["--quiet"], { stdio: "inherit" });
  const t0 = performance.now();
  const up = spawnSync(join(root, "test/lab/up"), { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const upMs = performance.now() - t0;
  if (up.status !== 0) {
    log(`lab up failed: ${up.stderr}`);
    return false;
  }
  const upOk = upMs <= 20_000;
  ok &&= upOk;
  log(`lab:up (warm cache) to a Ready node: ${(upMs / 1000).toFixed(1)} s = ${(upMs / 20_000).toFixed(2)}× the 20 s bar  ${upOk ? "ok" : "OVER the bar"}`);
  if (!wasUp) spawnSync(join(root, "test/lab/down"), ["--quiet"], { stdio: "inherit" });

  log("kernel lab: booting UML, bringing the lab up inside, measuring netem (about 2 minutes)");
  const k = spawnSync(join(root, "test/lab/kernel"), ["node", join(root, "bench/inside/netem.mjs")], { encoding: "utf8", maxBuffer: 16 << 20 });
  const line = /^netem-ratio (\S+) (\S+) (\S+)$/m.exec(k.stdout ?? "");
  if (k.status !== 0 || line === null) {
    log(`kernel lab measurement failed (exit ${k.status}): ${(k.stdout ?? "").slice(-800)}${(k.stderr ?? "").slice(-800)}`);
    return false;
  }
  const [, base, delayed, ratio] = line;
  const r = Number(ratio);
  const netemOk = Math.abs(r - 1) <= 0.05;
  ok &&= netemOk;
  log(`kernel lab, netem delay 100ms, ab -k median: ${base} ms → ${delayed} ms; measured/configured = ${r.toFixed(3)}  ${netemOk ? "ok (1.00 ± 0.05)" : "OUTSIDE 1.00 ± 0.05"}`);
  return ok;
}
