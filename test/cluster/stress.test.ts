// stress on the real node: CPU workers at an exact load and memory beyond the pod's limit, in a
// stress agent of their own, on a pod that already has an ephemeral container. What is claimed is
// checked where it happens: the pod's cgroup read on the host (usage, throttling, and that no
// stressor outlives its run), the OOM killer's choice. Its shares of a CPU are measured to ±15%:
// `npm test` runs this file when nothing else uses the machine (scripts/test-labs.mjs).
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, makeNamespace, run, waitFor, waitReady } from "../support/lab.js";
import { container, debugged, podManifest } from "../support/pods.js";

const ns = "stress";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];

// ---- the pod's cgroup, read on the host (cgroup v1 here): what the kernel says, not the agent

function cgroupDir(uid: string, controller: string): string {
  const root = ["/sys/fs/cgroup", controller].join("/");
  const name = `pod${uid}`;
  const walk = (dir: string, depth: number): string | undefined => {
    if (depth > 3) return undefined;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === name || e.name.includes(name.replace(/-/g, "_"))) return join(dir, e.name);
      const found = walk(join(dir, e.name), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const dir = walk(root, 0);
  if (dir === undefined) throw new Error(`no cgroup of pod ${uid} under ${root}`);
  return dir;
}

/** Every process in the pod's cgroups, with its command line (as the host sees it). */
function podProcesses(uid: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  const visit = (dir: string): void => {
    for (const line of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) {
      const pid = Number(line);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      try {
        out.push({ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim() });
      } catch {
        // gone meanwhile
      }
    }
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) visit(join(dir, e.name));
  };
  visit(cgroupDir(uid, "pids"));
  return out;
}

/** CPU time of the whole pod, ns (cpuacct.usage of its cgroup). */
function podCpuNs(uid: string): number {
  return Number(readFileSync(join(cgroupDir(uid, "cpuacct"), "cpuacct.usage"), "utf8"));
}

/** After a stress run: no memory stressor in the pod, and the pod's CPU back to (near) idle. */
async function noStressorLeft(pod: string): Promise<void> {
  const uid = (await getPod(ns, pod))?.metadata.uid ?? "";
  expect(podProcesses(uid).filter((p) => p.cmdline.includes("stress-memory"))).toEqual([]);
  const before = podCpuNs(uid);
  await new Promise((r) => setTimeout(r, 1000));
  const used = (podCpuNs(uid) - before) / 1e6;
  expect(used, `the pod used ${used.toFixed(0)} ms of CPU in 1 s after the stress`).toBeLessThan(100);
}

beforeAll(async () => {
  await makeNamespace(ns);
  for (const m of [
    podManifest(ns, "web", [{ name: "nginx", image: "nginx", limits: { cpu: "1", memory: "256Mi" } }]),
    podManifest(ns, "small", [{ name: "nginx", image: "nginx", limits: { cpu: "500m", memory: "64Mi" } }]),
  ]) {
    const r = await run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: m });
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
  }
  for (const p of ["web", "small"]) await waitReady(ns, p, 90_000);
  for (const p of ["web", "small"]) await debugged(ns, p);
}, 300_000);

describe("stress", () => {
  const scenarioDir = mkdtempSync(join(tmpdir(), "chaos-run-stress-"));
  /** A one-step stress scenario; with `web`, ab measures nginx during it (its latency, and CPU the pod's limit must share). */
  async function stressRun(name: string, pod: string, fault: string, expect_: string, seconds: number, web = false): Promise<{ code: number | null; journal: Journal; output: string }> {
    const file = join(scenarioDir, `${name}.yaml`);
    const probes = web ? `probes:\n  web:\n    ab: { url: "http://{{ target.ip }}/", requests: 2000, concurrency: 4, timeout: 5s }\n` : "";
    const during = web ? `    during:\n      - probe: web\n        expect: { failedRequests: 0 }\n` : "";
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: ${name} }\ntarget: { pods: [${pod}], mode: all }\n${probes}steps:\n  - name: burn\n    fault: { stress: ${fault} }\n    duration: ${seconds}s\n${during}    expect: ${expect_}\n`,
    );
    const reports = join(scenarioDir, `${name}-report`);
    const r = await chaosRun([file, ...asAdmin, "--report-dir", reports]);
    const dir = readdirSync(reports).find((d) => d.startsWith(name)) ?? "";
    const journal = JSON.parse(readFileSync(join(reports, dir, "journal.json"), "utf8")) as Journal;
    return { code: r.code, journal, output: r.stderr + r.stdout };
  }

  const observed = (j: Journal) => j.faults[0]?.observed;

  it("one worker at 50% under a pod CPU limit of 1 CPU: it gets what it asked, ±15%", async () => {
    const r = await stressRun("cpu-50", "web", `{ cpu: { workers: 1, load: "50%" } }`, `{ cpu.load: { within: [42.5%, 57.5%] }, cpu.usage: { within: [0.42, 0.65] } }`, 10);
    expect(r.code, r.output).toBe(0);
    const m = observed(r.journal)?.metrics;
    console.log(
      `stress 1 x 50% under 1 CPU: cpu.load ${(100 * (m?.["cpu.load"] ?? 0)).toFixed(1)}%, cpu.usage ${m?.["cpu.usage"]?.toFixed(3)}, waited ${(100 * (m?.["cpu.wait"] ?? 0)).toFixed(1)}%, throttled ${m?.["cpu.throttledTime"]} ms`,
    );
    expect(observed(r.journal)?.detail).toContain("outside container nginx's own");
    // the stress travelled with its agent, confirmed by the reply in the agent's log: no exec applied it
    expect(r.journal.faults[0]).toMatchObject({ withAgent: true, confirmedFrom: "log" });
    await noStressorLeft("web");
  }, 120_000);

  it("one worker at 100% under 1 CPU while nginx serves ab: the whole CPU, ±15% (what it did not run it waited for), and the pod's limit throttles it", async () => {
    const r = await stressRun("cpu-100", "web", `{ cpu: { workers: 1, load: "100%" } }`, `{ cpu.throttledTime: { above: 0ms } }`, 10, true);
    expect(r.code, r.output).toBe(0);
    const m = observed(r.journal)?.metrics ?? {};
    const load = m["cpu.load"] ?? 0;
    const wait = m["cpu.wait"] ?? 0;
    const latency = r.journal.probes.find((p) => p.phase === "during")?.metrics["latency.p95"];
    console.log(
      `stress 1 x 100% under 1 CPU: cpu.load ${(100 * load).toFixed(1)}%, waited ${(100 * wait).toFixed(1)}% for a CPU, throttled ${m["cpu.throttledTime"]?.toFixed(0)} ms; nginx p95 ${latency} ms`,
    );
    // a worker at 100% runs, or waits for a CPU (a busy node, the limit), the whole time: never idles
    expect(load + wait).toBeGreaterThanOrEqual(0.85);
    expect(load + wait).toBeLessThanOrEqual(1.15);
    await noStressorLeft("web");
  }, 120_000);

  it("100% under a 500m limit: the pod gets its limit, ±15%, and the throttling is what the pod's own cgroup counts", async () => {
    const uid = (await getPod(ns, "small"))?.metadata.uid ?? "";
    const stat = (): Record<string, number> =>
      Object.fromEntries(
        readFileSync(join(cgroupDir(uid, "cpu"), "cpu.stat"), "utf8")
          .trim()
          .split("\n")
          .map((l) => [l.split(" ")[0] ?? "", Number(l.split(" ")[1])]),
      );
    const before = stat();
    const r = await stressRun("cpu-limit", "small", `{ cpu: { workers: 1, load: "100%", allowBeyondLimit: true } }`, `{ cpu.usage: { within: [0.425, 0.575] }, cpu.throttled: { above: 5% } }`, 10);
    const after = stat();
    expect(r.code, r.output).toBe(0);
    const m = observed(r.journal)?.metrics;
    const podThrottledMs = ((after["throttled_time"] ?? 0) - (before["throttled_time"] ?? 0)) / 1e6;
    const periods = (after["nr_periods"] ?? 0) - (before["nr_periods"] ?? 0);
    const throttled = (after["nr_throttled"] ?? 0) - (before["nr_throttled"] ?? 0);
    console.log(
      `stress 1 x 100% under 500m: cpu.usage ${m?.["cpu.usage"]?.toFixed(3)}, agent throttled ${m?.["cpu.throttledTime"]} ms; the pod's cgroup: ${throttled} of ${periods} periods throttled, ${podThrottledMs.toFixed(0)} ms`,
    );
    expect(throttled / periods).toBeGreaterThan(0.5);
    // what the agent read in its own cgroup is the pod's throttling, as the pod's cgroup counts it
    expect(m?.["cpu.throttledTime"] ?? 0).toBeGreaterThan(podThrottledMs * 0.85);
    expect(m?.["cpu.throttledTime"] ?? 0).toBeLessThan(podThrottledMs * 1.15);
    expect(observed(r.journal)?.detail).toMatch(/the pod's CPU limit \(500m\) throttled the agent \d+% of the time/);
    await noStressorLeft("small");
  }, 120_000);

  it("memory beyond the pod's limit: the OOM killer takes the stressor, not nginx; the run still stops it and ends", async () => {
    const before = container(await getPod(ns, "small"), "nginx");
    const r = await stressRun("oom", "small", `{ memory: { size: 200Mi, allowBeyondLimit: true } }`, `{ memory.oomKilled: 1, oomKilled: 0, restarts: 0 }`, 8);
    expect(r.code, r.output).toBe(0);
    expect(r.journal.status).toBe("passed");
    expect(observed(r.journal)?.detail).toMatch(/memory: [\d.]+Mi of 200Mi allocated under the pod's limit of 64Mi; the OOM killer took the memory stressor \(pid \d+ in the agent\), not the app/);
    expect(r.journal.faults[0]?.revertConfirmed).toBe(true);
    expect(container(await getPod(ns, "small"), "nginx")?.restartCount).toBe(before?.restartCount);
    await noStressorLeft("small");
  }, 120_000);

  it("the seed verb, Ctrl-C: every stressor stops at once, exit 130", async () => {
    const run = startChaosRun(["stress", "-p", "web", "--cpu", "2", "--memory", "32Mi", "-r", "60", "--allow-beyond-limit", ...asAdmin]);
    await run.waitFor(/in effect in pod stress\/web/, 90_000);
    await new Promise((r) => setTimeout(r, 1500));
    const uid = (await getPod(ns, "web"))?.metadata.uid ?? "";
    expect(podProcesses(uid).some((p) => p.cmdline.includes("stress-memory"))).toBe(true);
    const sent = performance.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.endedAt - sent).toBeLessThan(3000);
    expect(done.stdout).toMatch(/stress\/web: 2 CPU workers: asked 100% of a CPU each, achieved [\d.]+%/);
    await noStressorLeft("web");
  }, 120_000);
});

describe("stress, the runner SIGKILLed", () => {
  it("the stress agent's lease lapses and every stressor stops by itself", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "chaos-run-lapse-")), "lapse.yaml");
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: lapse }\ntarget: { pods: [web], mode: all }\nagent: { lease: 3s }\nsteps:\n  - name: burn\n    fault: { stress: { cpu: { workers: 1 }, memory: { size: 16Mi } } }\n    duration: 60s\n`,
    );
    const run = startChaosRun([file, ...asAdmin]);
    await run.waitFor(/in effect in pod stress\/web/, 90_000);
    const uid = (await getPod(ns, "web"))?.metadata.uid ?? "";
    await waitFor("the memory stressor", async () => (podProcesses(uid).some((p) => p.cmdline.includes("stress-memory")) ? true : undefined), 10_000);
    run.child.kill("SIGKILL");
    await run.done;
    // nobody renews: within the lease (3 s) and a tick the agent stops them
    await waitFor("the stressors to stop", async () => (podProcesses(uid).some((p) => p.cmdline.includes("stress-memory")) ? undefined : true), 10_000, 200);
    await noStressorLeft("web");
  }, 120_000);
});

describe("stress --detach", () => {
  it("leaves the stressors to the stress agent's lease; sweep stops them at once", async () => {
    const r = await chaosRun(["stress", "-p", "web", "--cpu", "1", "--memory", "16Mi", "-r", "120", "--detach", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("stressors running; the agent stops them in 120s by itself. To stop them now: chaos-run sweep -n stress");
    const uid = (await getPod(ns, "web"))?.metadata.uid ?? "";
    await waitFor("the memory stressor", async () => (podProcesses(uid).some((p) => p.cmdline.includes("stress-memory")) ? true : undefined), 10_000);
    const swept = await chaosRun(["sweep", ...asAdmin]);
    expect(swept.code, swept.stderr + swept.stdout).toBe(0);
    expect(swept.stdout).toMatch(/stress\/web chaos-stress-\w+-s1: reverted 1 fault/);
    await noStressorLeft("web");
  }, 120_000);
});
