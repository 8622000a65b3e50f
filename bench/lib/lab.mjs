// Shared by the lab benchmarks: the lab's paths, kubectl, spawning chaos-run and timing it.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function labPaths(root) {
  const dir = process.env.CHAOS_RUN_LAB_DIR ?? join(root, ".lab");
  return { dir, kubeconfig: join(dir, "kubeconfig"), cli: join(root, "dist/cli/main.js") };
}

export function labIsUp(root) {
  const pid = join(labPaths(root).dir, "run", "apiserver.pid");
  if (!existsSync(pid)) return false;
  try {
    process.kill(Number(readFileSync(pid, "utf8")), 0);
    return true;
  } catch {
    return false;
  }
}

/** Brings the host lab up unless it runs; returns a function that takes down only what it brought up. */
export function ensureLab(root, log) {
  if (labIsUp(root)) return () => undefined;
  log("bringing the host lab up");
  const r = spawnSync(join(root, "test/lab/up"), { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error("the lab did not come up");
  return () => spawnSync(join(root, "test/lab/down"), ["--quiet"], { stdio: "inherit" });
}

export function kubectl(root, args, { timeoutMs = 120_000, input } = {}) {
  return new Promise((resolve) => {
    const child = execFile("kubectl", ["--kubeconfig", labPaths(root).kubeconfig, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

export async function kubectlOk(root, args, options) {
  const r = await kubectl(root, args, options);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

export async function waitAllReady(root, namespace, selector, count, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await kubectl(root, ["get", "pods", "-n", namespace, "-l", selector, "-o", 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
    const ready = out.stdout.split("\n").filter((l) => l === "True").length;
    if (ready >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${count} pods ready in ${namespace}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A namespace of pods (chaos-tools image: a process that sleeps), name-00…, all labelled app=LABEL. */
export async function makePods(root, namespace, prefix, count, label) {
  await kubectl(root, ["delete", "namespace", namespace, "--wait=true", "--ignore-not-found", "--timeout=120s"]);
  await kubectlOk(root, ["create", "namespace", namespace]);
  await kubectlOk(root, ["label", "namespace", namespace, "pod-security.kubernetes.io/enforce=privileged"]);
  for (let i = 0; i < 100; i++) {
    if ((await kubectl(root, ["get", "sa", "default", "-n", namespace])).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const docs = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(2, "0")}`;
    docs.push(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, labels: { app: label } },
        spec: { containers: [{ name: "main", image: "chaos-tools", command: ["sleep", "infinity"] }], terminationGracePeriodSeconds: 1 },
      }),
    );
  }
  await kubectlOk(root, ["apply", "-f", "-"], { input: docs.join("\n") });
  await waitAllReady(root, namespace, `app=${label}`, count);
}

/**
 * Starts chaos-run; resolves with the ms from spawn until `count` lines match `re` on stderr, and the exit.
 * `cli` is the built CLI to run (another build's, to compare). With CHAOS_RUN_BENCH_CPU_PROF=DIR,
 * node writes a CPU profile of the run there (node --cpu-prof).
 */
export function timeUntil(root, args, re, count, cli = labPaths(root).cli) {
  const profDir = process.env.CHAOS_RUN_BENCH_CPU_PROF;
  const nodeArgs = profDir === undefined || profDir === "" ? [] : ["--cpu-prof", "--cpu-prof-dir", profDir];
  const labCpuBefore = labCpuMs(root);
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, cli, ...args], { cwd: root, env: { ...process.env, CI: "true", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  const last = [];
  let seen = 0;
  let reachedAt;
  let cpuAtReach;
  child.stdout.resume();
  child.stderr.on("data", (d) => {
    err += d.toString();
    const lines = err.split("\n");
    err = lines.pop() ?? "";
    for (const l of lines) {
      // the last lines, to say why a run failed
      last.push(l);
      if (last.length > 30) last.shift();
      if (re.test(l)) seen++;
      if (seen >= count && reachedAt === undefined) {
        reachedAt = performance.now();
        cpuAtReach = { self: processCpuMs(child.pid, false), lab: labCpuMs(root) };
      }
    }
  });
  return new Promise((resolve) =>
    child.on("close", (code) => resolve({ ms: reachedAt === undefined ? undefined : reachedAt - started, code, tail: [...last, err].join("\n"), cpu: cpuAtReach, labCpuBefore })),
  );
}

/**
 * The API server's count so far of the requests a fan-out is made of: execs into pods (each a
 * websocket of its own, CONNECT), attaches (the line held to each agent, a websocket too), ephemeral containers added (PATCH) and logs read (a fresh agent's
 * first reply, a GET on the kept-alive connection). Read from its /metrics:
 * exact however loaded the machine is, where CPU and wall times are not. Undefined if unreadable.
 */
export async function apiRequestCounts(root) {
  const r = await kubectl(root, ["get", "--raw", "/metrics"]);
  if (r.code !== 0) return undefined;
  const counts = { exec: 0, attach: 0, ephemeral: 0, log: 0 };
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const n = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.includes('subresource="exec"')) counts.exec += n;
    else if (line.includes('subresource="attach"')) counts.attach += n;
    else if (line.includes('subresource="ephemeralcontainers"') && line.includes('verb="PATCH"')) counts.ephemeral += n;
    else if (line.includes('subresource="log"')) counts.log += n;
  }
  return counts;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system, ms) a process has used so far; with `children`, also its reaped children's. */
export function processCpuMs(pid, children) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14-17 of stat(5): utime stime cutime cstime; f[0] is field 3
    const own = Number(f[11]) + Number(f[12]);
    return (children ? own + Number(f[13]) + Number(f[14]) : own) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** The lab's own long-running processes, by their pid files. */
export const LAB_PROCESSES = ["apiserver", "etcd", "kubelet", "containerd", "controller-manager", "scheduler"];

/** CPU used so far by each lab process. */
export function labCpuMs(root) {
  const out = {};
  for (const name of LAB_PROCESSES) {
    const pidFile = join(labPaths(root).dir, "run", `${name}.pid`);
    if (!existsSync(pidFile)) continue;
    out[name] = processCpuMs(Number(readFileSync(pidFile, "utf8")), false);
  }
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
