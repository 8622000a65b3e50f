// kill, pod deletion and disconnection on the real node (kubelet, containerd, runc, the agent
// image): every seed-style command on a pod that already has an ephemeral container (the seed's
// bug must never return), and the catalog's examples end to end. What is claimed is checked where
// it happens: restart counts and exit codes from the API, the replacement's Ready time. Stress,
// which measures CPU shares, is in stress.test.ts: it runs when nothing else uses the machine.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, kubectl, kubectlOk, limitedKubeconfig, makeNamespace, repoRoot, run, waitFor, waitReady } from "../support/lab.js";
import { container, debugged, podManifest, SMALL_REQUESTS, type Resources } from "../support/pods.js";

const ns = "process-faults";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const asRunner = ["--kubeconfig", limitedKubeconfig, "-n", ns];

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

beforeAll(async () => {
  await makeNamespace(ns);
  const manifests = [
    podManifest(ns, "web", [{ name: "nginx", image: "nginx", limits: { cpu: "1", memory: "256Mi" } }]),
    podManifest(ns, "sleeper", [{ name: "main", image: "chaos-tools", command: ["sleep", "infinity"] }]),
    podManifest(
      ns,
      "shared",
      [
        { name: "nginx", image: "nginx" },
        { name: "side", image: "chaos-tools", command: ["sleep", "infinity"] },
      ],
      { shareProcessNamespace: true },
    ),
    podManifest(ns, "bare", [{ name: "nginx", image: "nginx" }]),
    podManifest(ns, "replica", [{ name: "nginx", image: "nginx" }], {}, { role: "replica" }),
    deployment("dep", { app: "dep" }, 2),
    deployment("slow", { app: "slow" }, 1, undefined, 40),
    deployment("web", { app: "web" }, 2, { cpu: "500m", memory: "128Mi" }),
  ];
  for (const m of manifests) {
    const r = await run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: m });
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
  }
  for (const p of ["web", "sleeper", "shared", "bare", "replica"]) await waitReady(ns, p, 90_000);
  for (const p of ["web", "sleeper", "shared"]) await debugged(ns, p);
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
    // the kill agents readied in both pods were told the kill is off: they end now (exit 0), not at their TTL
    for (const name of ["web", "sleeper"]) {
      await waitFor(
        `the kill agents of ${name} to end`,
        async () => {
          const kills = ((await getPod(ns, name))?.status.ephemeralContainerStatuses ?? []).filter((st) => st.name.startsWith("chaos-kill-"));
          return kills.length > 0 && kills.every((st) => st.state.terminated !== undefined) ? kills : undefined;
        },
        15_000,
        250,
      );
    }
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
    // The catalog's files as they are, but for their watch windows: the lab's node restarts and
    // replaces a pod in a few seconds, so 30 s and 60 s windows would only add waiting to CI.
    const windows: Record<string, string> = { "kill-container": "12s", "cpu-hog": "8s", "replica-disconnect": "8s", "pod-delete": "15s" };
    const files = ["kill-container", "cpu-hog", "memory-hog", "replica-disconnect", "pod-delete"].map((f) => {
      const text = readFileSync(join(repoRoot, "scenarios", `${f}.yaml`), "utf8");
      const window = windows[f];
      if (window === undefined) return join(repoRoot, "scenarios", `${f}.yaml`);
      const shorter = text.replace(/^(\s+duration: )\d+s\b/m, `$1${window}`);
      expect(shorter, `${f}.yaml has a step duration`).not.toBe(text);
      const file = join(reports, `${f}.yaml`);
      writeFileSync(file, shorter);
      return file;
    });
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
