// Kill, pod deletion and stress on the host lab (brought up only if it is not running; never
// restarted). Prints what a user waits for and how exact the stress is, as figures and ratios:
//   kill: from the command's start to the signal (the kill agent added, a dry run, the kill),
//         and the container's time back to Ready, as the command measured it (the kubelet's
//         restart back-off grows with each restart: 10 s, 20 s, 40 s…);
//   kill-pod: a Deployment's replacement Ready time;
//   stress: achieved / asked load of one worker at 50% under a 1-CPU pod limit, and how long
//         stopping every stressor took (the revert's round trip).
// No bars: these depend on the node (image pulls, restart back-off, a busy CPU); the ratio of
// the stress should stay within 0.85–1.15, as the lab tests check.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { ensureLab, kubectl, kubectlOk, labPaths, median } from "./lib/lab.mjs";

const NS = "bench-process-faults";
const RUNS = 3;

async function waitReady(root, selector, count) {
  for (let i = 0; i < 600; i++) {
    const out = (
      await kubectl(root, ["get", "pods", "-n", NS, "-l", selector, "-o", 'jsonpath={range .items[*]}{.metadata.deletionTimestamp}/{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'])
    ).stdout;
    if (out.split("\n").filter((l) => l === "/True").length >= count) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`pods ${selector} not Ready`);
}

/** Runs chaos-run; the ms from spawn until a stderr line matches `re`, and its output. */
function timed(cli, root, args, re) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, CI: "true", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let ms;
    child.stdout.on("data", (d) => (stdout += d.toString()));
    child.stderr.on("data", (d) => {
      stderr += d.toString();
      if (ms === undefined && re.test(stderr)) ms = performance.now() - started;
    });
    child.on("close", (code) => resolve({ code, ms, stdout, stderr }));
  });
}

const seconds = (text) => {
  const m = /([\d.]+)(ms|s)\b/.exec(text);
  return m === null ? undefined : Number(m[1]) / (m[2] === "ms" ? 1000 : 1);
};

/** The bench's namespace: a pod of nginx with a 1-CPU limit (kill, stress) and a Deployment of two (kill-pod), all Ready. */
async function setUpWorkloads(root) {
  await kubectl(root, ["delete", "namespace", NS, "--wait=true", "--ignore-not-found", "--timeout=120s"]);
  await kubectlOk(root, ["create", "namespace", NS]);
  await kubectlOk(root, ["label", "namespace", NS, "pod-security.kubernetes.io/enforce=privileged"]);
  for (let i = 0; i < 100 && (await kubectl(root, ["get", "sa", "default", "-n", NS])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const small = { cpu: "10m", memory: "16Mi" };
  const web = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: NS, labels: { bench: "web" } },
    spec: { terminationGracePeriodSeconds: 2, containers: [{ name: "nginx", image: "nginx", resources: { limits: { cpu: "1", memory: "256Mi" }, requests: small } }] },
  };
  const dep = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "dep", namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "dep" } },
      template: { metadata: { labels: { app: "dep" } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: "nginx", image: "nginx", resources: { requests: small } }] } },
    },
  };
  await kubectlOk(root, ["apply", "-f", "-"], { input: `${JSON.stringify(web)}\n${JSON.stringify(dep)}` });
  await waitReady(root, "bench=web", 1);
  await waitReady(root, "app=dep", 2);
}

/** kill: the seed verb, as a user runs it; it waits until nginx is Ready again and says when. */
async function benchKill({ root, cli, asAdmin, log }) {
  const toSignal = [];
  const toReady = [];
  for (let i = 0; i < RUNS; i++) {
    await waitReady(root, "bench=web", 1);
    const r = await timed(cli, root, ["kill", "-p", "web", ...asAdmin, "-w", "180"], /fault \S+: in effect in pod/);
    const ready = seconds(/Ready again ([\d.]+m?s) after the signal/.exec(r.stdout)?.[1] ?? "");
    if (r.code !== 0 || r.ms === undefined || ready === undefined) {
      log(`kill exited ${r.code}: ${r.stderr.slice(-400)}`);
      return false;
    }
    toSignal.push(r.ms);
    toReady.push(ready);
  }
  log(
    `kill -p web (SIGKILL through ptrace), ${RUNS} runs: command start → signal median ${median(toSignal).toFixed(0)} ms (max ${Math.max(...toSignal).toFixed(0)}): preflight, kill agent added and running, dry run, kill`,
  );
  log(`  nginx Ready again after the signal: ${toReady.map((x) => x.toFixed(2)).join(", ")} s (each restart waits out the kubelet's growing back-off)`);
  return true;
}

/** kill-pod of one of the Deployment's pods: how long until its replacement is Ready. */
async function benchKillPod({ root, cli, asAdmin, log }) {
  const replaced = [];
  for (let i = 0; i < RUNS; i++) {
    await waitReady(root, "app=dep", 2);
    const victim = (await kubectlOk(root, ["get", "pods", "-n", NS, "-l", "app=dep", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
    const r = spawnSync(process.execPath, [cli, "kill-pod", "-p", victim, "--grace", "0", ...asAdmin], { cwd: root, env: { ...process.env, CI: "true" }, encoding: "utf8" });
    const s = seconds(/Ready ([\d.]+m?s) later/.exec(r.stdout)?.[1] ?? "");
    if (r.status !== 0 || s === undefined) {
      log(`kill-pod exited ${r.status}: ${r.stderr.slice(-400)}`);
      return false;
    }
    replaced.push(s);
  }
  log(`kill-pod of a Deployment's pod (grace 0), ${RUNS} runs: replacement Ready after median ${median(replaced).toFixed(2)} s (${replaced.map((x) => x.toFixed(2)).join(", ")} s)`);
  return true;
}

/** stress: exactness and stop time; whether the achieved load is within 0.85–1.15 of the asked. */
async function benchStress({ root, cli, asAdmin, log }, dir) {
  const stressFile = join(dir, "stress.yaml");
  writeFileSync(
    stressFile,
    `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: bench-stress }\ntarget: { pods: [web], mode: all }\nsteps:\n  - name: half a CPU\n    fault: { stress: { cpu: { workers: 1, load: "50%" } } }\n    duration: 10s\n`,
  );
  await waitReady(root, "bench=web", 1);
  const st = spawnSync(process.execPath, [cli, stressFile, ...asAdmin, "--report-dir", join(dir, "s")], { cwd: root, env: { ...process.env, CI: "true" }, encoding: "utf8" });
  const sdir = readdirSync(join(dir, "s")).find((d) => d.startsWith("bench-stress")) ?? "";
  const sj = JSON.parse(readFileSync(join(dir, "s", sdir, "journal.json"), "utf8"));
  const m = sj.faults[0]?.observed?.metrics ?? {};
  const stopMs = sj.timeline.filter((e) => e.type === "fault:reverted").length > 0 ? Date.parse(sj.faults[0]?.revertedAt) - (Date.parse(sj.faults[0]?.appliedAt) + 10_000) : undefined;
  if (st.status !== 0 || m["cpu.load"] == null) {
    log(`stress exited ${st.status}: ${st.stderr.slice(-400)}`);
    return false;
  }
  const ratio = m["cpu.load"] / 0.5;
  log(
    `stress 1 worker × 50% under a 1-CPU pod limit, 10 s: achieved ${(100 * m["cpu.load"]).toFixed(2)}% = ${ratio.toFixed(3)} × asked${ratio >= 0.85 && ratio <= 1.15 ? "" : "  (outside 0.85–1.15)"}; waited ${(100 * (m["cpu.wait"] ?? 0)).toFixed(1)}% for a CPU; cgroup usage ${(m["cpu.usage"] ?? 0).toFixed(3)} CPU`,
  );
  if (stopMs !== undefined) log(`  from the end of the step to every stressor stopped and confirmed: ${stopMs} ms`);
  return ratio >= 0.85 && ratio <= 1.15;
}

export default async function processFaults({ root, log }) {
  const down = ensureLab(root, log);
  const { kubeconfig, cli } = labPaths(root);
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-bench-pf-"));
  const bench = { root, cli, asAdmin: ["--kubeconfig", kubeconfig, "-n", NS], log };
  try {
    await setUpWorkloads(root);
    // each section stops the bench when its command fails, as the one before it did
    return (await benchKill(bench)) && (await benchKillPod(bench)) && (await benchStress(bench, dir));
  } finally {
    await kubectl(root, ["delete", "namespace", NS, "--wait=false"]);
    rmSync(dir, { recursive: true, force: true });
    down();
  }
}
