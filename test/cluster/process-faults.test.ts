// kill, stress, pod deletion and disconnection on the real node (kubelet, containerd, runc, the
// agent image): every seed-style command on a pod that already has an ephemeral container (the
// seed's bug must never return), and the catalog's examples end to end. What is claimed is
// checked where it happens: restart counts and exit codes from the API, the pod's cgroup read on
// the host (throttling, and that no stressor outlives its run), the OOM killer's choice.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, kubectl, kubectlOk, limitedKubeconfig, makeNamespace, repoRoot, run, waitFor, waitReady, type PodJson } from "../support/lab.js";

const ns = "process-faults";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const asRunner = ["--kubeconfig", limitedKubeconfig, "-n", ns];

/**
 * Requests stay small whatever the limits: without them they default to the limits, and the
 * lab's one node has 2 CPUs for everyone's pods. The limits are what is tested (the pod's cgroup).
 */
const SMALL_REQUESTS = { cpu: "10m", memory: "16Mi" };

interface Resources {
  cpu?: string;
  memory?: string;
}

function podManifest(
  name: string,
  containers: { name: string; image: string; command?: string[]; limits?: Resources }[],
  extra: Record<string, unknown> = {},
  labels: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { ...labels, test: "process-faults" } },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: containers.map((c) => ({
        name: c.name,
        image: c.image,
        ...(c.command === undefined ? {} : { command: c.command }),
        ...(c.limits === undefined ? {} : { resources: { limits: c.limits, requests: SMALL_REQUESTS } }),
      })),
      ...extra,
    },
  });
}

function deployment(name: string, labels: Record<string, string>, replicas: number, limits?: Resources, readinessDelayS?: number): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: "nginx",
              image: "nginx",
              ...(limits === undefined ? {} : { resources: { limits, requests: SMALL_REQUESTS } }),
              ...(readinessDelayS === undefined ? {} : { readinessProbe: { httpGet: { path: "/", port: 80 }, initialDelaySeconds: readinessDelayS, periodSeconds: 1 } }),
            },
          ],
        },
      },
    },
  });
}

/** A debug container, as `kubectl debug` adds one: the pod then has ephemeral containers before chaos-run comes. */
async function debugged(pod: string): Promise<void> {
  await kubectlOk(["debug", "-n", ns, pod, "--image", "chaos-tools", "-c", "dbg", "--profile", "general", "--", "sleep", "3600"]);
  await waitFor(
    `the debug container of ${pod}`,
    async () => ((await getPod(ns, pod))?.status.ephemeralContainerStatuses?.find((s) => s.name === "dbg")?.state.running !== undefined ? true : undefined),
    60_000,
  );
}

function container(pod: PodJson | undefined, name: string) {
  return pod?.status.containerStatuses?.find((c) => c.name === name);
}

async function waitAllReady(selector: string, count: number): Promise<void> {
  await waitFor(
    `${count} Ready pods ${selector}`,
    async () => {
      const out = await kubectlOk([
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        selector,
        "-o",
        'jsonpath={range .items[*]}{.metadata.deletionTimestamp}/{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      return out.split("\n").filter((l) => l === "/True").length >= count ? true : undefined;
    },
    120_000,
    250,
  );
}

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
  const manifests = [
    podManifest("web", [{ name: "nginx", image: "nginx", limits: { cpu: "1", memory: "256Mi" } }]),
    podManifest("small", [{ name: "nginx", image: "nginx", limits: { cpu: "500m", memory: "64Mi" } }]),
    podManifest("sleeper", [{ name: "main", image: "chaos-tools", command: ["sleep", "infinity"] }]),
    podManifest(
      "shared",
      [
        { name: "nginx", image: "nginx" },
        { name: "side", image: "chaos-tools", command: ["sleep", "infinity"] },
      ],
      { shareProcessNamespace: true },
    ),
    podManifest("bare", [{ name: "nginx", image: "nginx" }]),
    podManifest("replica", [{ name: "nginx", image: "nginx" }], {}, { role: "replica" }),
    deployment("dep", { app: "dep" }, 2),
    deployment("slow", { app: "slow" }, 1, undefined, 40),
    deployment("web", { app: "web" }, 2, { cpu: "500m", memory: "128Mi" }),
  ];
  for (const m of manifests) {
    const r = await run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: m });
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
  }
  for (const p of ["web", "small", "sleeper", "shared", "bare", "replica"]) await waitReady(ns, p, 90_000);
  for (const p of ["web", "small", "sleeper", "shared"]) await debugged(p);
  await waitAllReady("app=dep", 2);
  await waitAllReady("app=web", 2);
}, 300_000);

describe("kill", () => {
  it("SIGKILL to nginx, PID 1 of its namespace: delivered through ptrace, restartCount +1, exit 137, Ready again, measured; the kill agent is gone", async () => {
    const before = container(await getPod(ns, "web"), "nginx");
    const r = await chaosRun(["kill", "-p", "web", ...asRunner]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      /^process-faults\/web: SIGKILL to PID 1 \(nginx: master process[^)]*\) of container nginx through ptrace .*; it exited 137 \([A-Za-z]+\); restarts 1; Ready again [\d.]+m?s after the signal$/m,
    );
    expect(r.stderr).toMatch(/ok {3}restarts 1 ≥ 1 \(web\)/);
    const after = container(await getPod(ns, "web"), "nginx");
    expect(after?.restartCount).toBe((before?.restartCount ?? 0) + 1);
    expect(after?.lastState?.terminated?.exitCode).toBe(137);
    // the debug container is still there, beside the kill agent, which died with nginx
    const pod = await getPod(ns, "web");
    const names = (pod?.spec.ephemeralContainers ?? []).map((c) => c.name);
    expect(names).toContain("dbg");
    // the kill agent is done: it exited after its kill, or died with nginx's namespace first
    const killAgent = pod?.status.ephemeralContainerStatuses?.find((s) => s.name.startsWith("chaos-kill-"));
    expect([0, 137]).toContain(killAgent?.state.terminated?.exitCode);
  }, 120_000);

  it("SIGTERM to nginx, which handles it: delivered with kill(2), nginx exits 0 and is restarted", async () => {
    await waitReady(ns, "web", 60_000);
    const before = container(await getPod(ns, "web"), "nginx");
    const r = await chaosRun(["kill", "-p", "web", "-s", "TERM", "-w", "90", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/SIGTERM to PID 1 \(nginx: master process[^)]*\) of container nginx with kill\(2\).*it handles SIGTERM itself.*; it exited 0 \(Completed\); restarts 1; Ready again/);
    const after = container(await getPod(ns, "web"), "nginx");
    expect(after?.restartCount).toBe((before?.restartCount ?? 0) + 1);
    expect(after?.lastState?.terminated?.exitCode).toBe(0);
  }, 150_000);

  it("a signal the init does not handle is refused before any pod is touched — in every pod of the run", async () => {
    await waitReady(ns, "web", 60_000);
    const web = container(await getPod(ns, "web"), "nginx");
    const sleeper = container(await getPod(ns, "sleeper"), "main");
    const r = await chaosRun(["kill", "-p", "web,sleeper", "-s", "SIGTERM", ...asAdmin]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("pod process-faults/sleeper: refused SIGTERM to container main: PID 1 (sleep infinity) of container main is its PID namespace's init and does not handle SIGTERM");
    expect(r.stderr).toContain("no pod was signalled");
    // neither pod was touched: nginx handles SIGTERM and could have had it, but the run refused as a whole
    expect(container(await getPod(ns, "web"), "nginx")?.restartCount).toBe(web?.restartCount);
    expect(container(await getPod(ns, "sleeper"), "main")).toMatchObject({ restartCount: sleeper?.restartCount, containerID: sleeper?.containerID });
  }, 120_000);

  it("shareProcessNamespace: the container's own process (not PID 1) gets the signal; the other container is untouched", async () => {
    const before = await getPod(ns, "shared");
    const r = await chaosRun(["kill", "-p", "shared", "-c", "side", "-s", "SIGTERM", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/SIGTERM to PID \d+ \(sleep infinity\) of container side with kill\(2\); it exited 143 \(Error\); restarts 1; Ready again/);
    expect(r.stdout).not.toMatch(/PID 1 /);
    const after = await getPod(ns, "shared");
    expect(container(after, "side")?.restartCount).toBe((container(before, "side")?.restartCount ?? 0) + 1);
    expect(container(after, "nginx")?.restartCount).toBe(container(before, "nginx")?.restartCount);
    // and SIGKILL there needs no ptrace
    const k = await chaosRun(["kill", "-p", "shared", "-c", "nginx", ...asAdmin]);
    expect(k.code, k.stderr + k.stdout).toBe(0);
    expect(k.stdout).toMatch(/SIGKILL to PID \d+ \(nginx: master process[^)]*\) of container nginx with kill\(2\); it exited 137/);
  }, 150_000);
});

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
    const r = await stressRun("cpu-limit", "small", `{ cpu: { workers: 1, load: "100%" } }`, `{ cpu.usage: { within: [0.425, 0.575] }, cpu.throttled: { above: 5% } }`, 10);
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
    const r = await stressRun("oom", "small", `{ memory: { size: 200Mi } }`, `{ memory.oomKilled: 1, oomKilled: 0, restarts: 0 }`, 8);
    expect(r.code, r.output).toBe(0);
    expect(r.journal.status).toBe("passed");
    expect(observed(r.journal)?.detail).toMatch(/memory: [\d.]+Mi of 200Mi allocated under the pod's limit of 64Mi; the OOM killer took the memory stressor \(pid \d+ in the agent\), not the app/);
    expect(r.journal.faults[0]?.revertConfirmed).toBe(true);
    expect(container(await getPod(ns, "small"), "nginx")?.restartCount).toBe(before?.restartCount);
    await noStressorLeft("small");
  }, 120_000);

  it("the seed verb, Ctrl-C: every stressor stops at once, exit 130", async () => {
    const run = startChaosRun(["stress", "-p", "web", "--cpu", "2", "--memory", "32Mi", "-r", "60", ...asAdmin]);
    await run.waitFor(/in effect in pod process-faults\/web/, 90_000);
    await new Promise((r) => setTimeout(r, 1500));
    const uid = (await getPod(ns, "web"))?.metadata.uid ?? "";
    expect(podProcesses(uid).some((p) => p.cmdline.includes("stress-memory"))).toBe(true);
    const sent = performance.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.endedAt - sent).toBeLessThan(3000);
    expect(done.stdout).toMatch(/process-faults\/web: 2 CPU workers: asked 100% of a CPU each, achieved [\d.]+%/);
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
    await run.waitFor(/in effect in pod process-faults\/web/, 90_000);
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
    expect(r.stdout).toContain("stressors running; the agent stops them in 120s by itself. To stop them now: chaos-run sweep -n process-faults");
    const uid = (await getPod(ns, "web"))?.metadata.uid ?? "";
    await waitFor("the memory stressor", async () => (podProcesses(uid).some((p) => p.cmdline.includes("stress-memory")) ? true : undefined), 10_000);
    const swept = await chaosRun(["sweep", ...asAdmin]);
    expect(swept.code, swept.stderr + swept.stdout).toBe(0);
    expect(swept.stdout).toMatch(/process-faults\/web chaos-stress-\w+-s1: reverted 1 fault/);
    await noStressorLeft("web");
  }, 120_000);
});

describe("pod delete", () => {
  it("kill-pod of a Deployment's pod (least-privilege role): the replacement's Ready time, measured and expected", async () => {
    const pods = (await kubectlOk(["get", "pods", "-n", ns, "-l", "app=dep", "-o", "jsonpath={.items[*].metadata.name}"])).split(" ");
    const victim = pods[0] ?? "";
    const r = await chaosRun(["kill-pod", "-p", victim, "--grace", "0", ...asRunner]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`process-faults/${victim}: deleted; its ReplicaSet dep-\\w+ had dep-\\S+ Ready [\\d.]+m?s later`));
    expect(r.stderr).toMatch(/ok {3}recovery\.time [\d.]+m?s ≤ 2m/);
    expect((await kubectl(["get", "pod", victim, "-n", ns])).code).not.toBe(0);
  }, 120_000);

  it("a pod without a controller: said before, deleted, not expected back", async () => {
    const r = await chaosRun(["kill-pod", "-p", "bare", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain("pod process-faults/bare has no controller: once deleted, it will not come back");
    expect(r.stdout).toContain("process-faults/bare: deleted; it has no controller, so it does not come back");
  }, 60_000);

  it("Ctrl-C while the controller replaces it: ends at once and cleanly (exit 130), nothing to revert", async () => {
    await waitAllReady("app=slow", 1);
    const victim = (await kubectlOk(["get", "pods", "-n", ns, "-l", "app=slow", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
    const run = startChaosRun(["kill-pod", "-p", victim, "--grace", "0", ...asAdmin]);
    await run.waitFor(/recovery watched until/, 60_000);
    const sent = performance.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.endedAt - sent).toBeLessThan(2000);
    expect(done.stdout).toContain(`process-faults/${victim}: deleted; its ReplicaSet`);
    expect(done.stdout).toContain("had no replacement Ready within");
  }, 120_000);
});

describe("disconnect", () => {
  it("takes the pod off the network and proves the reconnection with traffic", async () => {
    const r = await chaosRun(["disconnect", "-p", "replica", "-r", "4", "--url", "http://{{ target.ip }}/", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toBe("disconnected for 4s and reconnected: http://{{ target.ip }}/ answered before, not during, and again after.\n");
    expect(r.stderr).toMatch(/ok {3}failedRequests 5 = 5 \(replica\)/);
  }, 120_000);

  it("works on a pod that already has ephemeral containers", async () => {
    const r = await chaosRun(["disconnect", "-p", "sleeper", "-r", "2", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("disconnected for 2s and reconnected");
    expect((await getPod(ns, "sleeper"))?.spec.ephemeralContainers?.map((c) => c.name)).toContain("dbg");
  }, 120_000);
});

describe("the catalog, in the lab", () => {
  it("kill-container, cpu-hog, memory-hog, replica-disconnect and pod-delete pass", async () => {
    const reports = mkdtempSync(join(tmpdir(), "chaos-run-catalog-"));
    const files = ["kill-container", "cpu-hog", "memory-hog", "replica-disconnect", "pod-delete"].map((f) => join(repoRoot, "scenarios", `${f}.yaml`));
    const r = await chaosRun([...files, ...asAdmin, "--report-dir", reports]);
    const index = JSON.parse(readFileSync(join(reports, "index.json"), "utf8")) as { runs: { scenario: string; status: string; exitCode: number; journal: string }[] };
    expect(
      index.runs.map((x) => [x.scenario, x.status, x.exitCode]),
      r.stderr + r.stdout,
    ).toEqual([
      ["kill-container", "passed", 0],
      ["cpu-hog", "passed", 0],
      ["memory-hog", "passed", 0],
      ["replica-disconnect", "passed", 0],
      ["pod-delete", "passed", 0],
    ]);
    expect(r.code).toBe(0);
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    const validate = ajv.compile(JSON.parse(readFileSync(join(repoRoot, "schemas/journal.schema.json"), "utf8")) as object);
    for (const run of index.runs) {
      expect(existsSync(run.journal)).toBe(true);
      const j = JSON.parse(readFileSync(run.journal, "utf8")) as Journal;
      // what the faults measured, and the expectations on it, are in the journal as its schema says
      validate(j);
      expect(validate.errors ?? [], run.scenario).toEqual([]);
      if (run.scenario !== "replica-disconnect")
        expect(
          j.faults.every((f) => f.observed !== undefined && f.observed !== null),
          run.scenario,
        ).toBe(true);
      expect(j.expectations.some((e) => e.source === "fault") || run.scenario === "replica-disconnect", run.scenario).toBe(true);
      for (const f of j.faults) console.log(`${run.scenario}: ${f.observed?.detail ?? f.verified ?? ""}`);
    }
  }, 600_000);
});
