// Time to fault with a warm agent: from the start of a fault step to the fault verified in
// effect (the agent's apply returns what the kernel now holds, and the runner has checked it),
// read from the run's journal. Bar (issue: injection): p95 ≤ 150 ms on the host lab.
// The host kernel has no sch_netem, so each step is a partition of an unused port (iptables);
// the runner's path is the same as for a delay: one exec into the agent, one kernel read-back.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { ensureLab, kubectl, labPaths, makePods, percentile, median } from "./lib/lab.mjs";

const STEPS = 30;

export default async function timeToFault({ root, log }) {
  const down = ensureLab(root, log);
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-ttf-"));
  const { kubeconfig, cli } = labPaths(root);
  try {
    await makePods(root, "bench-ttf", "ttf", 1, "ttf");
    const steps = Array.from({ length: STEPS }, (_, i) => `  - name: drop port 9, take ${i + 1}\n    fault: { partition: {}, to: { port: 9, protocol: tcp } }\n    duration: 100ms\n`).join("");
    writeFileSync(join(dir, "ttf.yaml"), `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: bench-ttf }\ntarget: { selector: { app: ttf }, mode: all }\nsteps:\n${steps}`);
    const r = spawnSync(process.execPath, [cli, join(dir, "ttf.yaml"), "--kubeconfig", kubeconfig, "-n", "bench-ttf", "--report-dir", join(dir, "r")], { cwd: root, env: { ...process.env, CI: "true" }, encoding: "utf8" });
    if (r.status !== 0) {
      log(`chaos-run exited ${r.status}: ${r.stderr.slice(-800)}`);
      return false;
    }
    const runDir = readdirSync(join(dir, "r")).find((d) => d.startsWith("bench-ttf-"));
    const journal = JSON.parse(readFileSync(join(dir, "r", runDir, "journal.json"), "utf8"));
    const times = [];
    let start;
    for (const e of journal.timeline) {
      if (e.type === "step:start") start = Date.parse(e.at);
      if (e.type === "fault:applied" && start !== undefined) times.push(Date.parse(e.at) - start);
    }
    const p95 = percentile(times, 95);
    log(`time to fault, warm agent, ${times.length} steps: median ${median(times).toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, max ${Math.max(...times)} ms`);
    log(`  p95 / 150 ms bar = ${(p95 / 150).toFixed(2)}  ${p95 <= 150 ? "ok" : "OVER the bar"}`);
    return p95 <= 150;
  } finally {
    await kubectl(root, ["delete", "namespace", "bench-ttf", "--wait=false"]);
    rmSync(dir, { recursive: true, force: true });
    down();
  }
}
