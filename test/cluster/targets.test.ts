// Targets as xk6-disruptor's users named them (issue 24), against the lab's API server: a
// Deployment `web` (2 pods, app=web,tier=front, nginx on a container port named http), a pod
// `canary` (app=web,track=canary) beside it, and a Service `web` (app=web; port 8080 → targetPort
// http). A fault by Service reaches exactly the Service's pods, on the port they serve 8080 on
// (80, a delay measured there), also when a scenario names it (`port: web`); by workload, exactly
// the Deployment's; matchExpressions leave the canary out; a missing Service is refused (exit 3)
// with no pod touched.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { kubeconfig, kubectlOk, makeNamespace, waitFor } from "../support/lab.js";

const ns = "targets-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const dir = mkdtempSync(join(tmpdir(), "chaos-run-targets-"));

const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${ns} }
spec:
  replicas: 2
  selector: { matchLabels: { app: web, tier: front } }
  template:
    metadata: { labels: { app: web, tier: front } }
    spec:
      containers:
        - { name: nginx, image: nginx, ports: [{ name: http, containerPort: 80 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: canary, namespace: ${ns}, labels: { app: web, track: canary } }
spec:
  containers:
    - { name: nginx, image: nginx, ports: [{ name: http, containerPort: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${ns} }
spec:
  selector: { app: web }
  ports: [{ name: web, port: 8080, targetPort: http }]
`;

interface PodItem {
  metadata: { name: string; labels?: Record<string, string> };
  status: { podIP?: string };
  spec: { ephemeralContainers?: { name: string }[] };
}

async function pods(): Promise<PodItem[]> {
  return (JSON.parse(await kubectlOk(["get", "pods", "-n", ns, "-o", "json"])) as { items: PodItem[] }).items;
}

/** The pods a run's fault took effect in, as its agents confirmed them (an agent of an earlier run may be reused: no container of its own). */
function podsFaulted(output: string): string[] {
  return [...output.matchAll(new RegExp(`in effect in pod ${ns}/([a-z0-9-]+)`, "g"))].map((m) => m[1] ?? "").sort();
}

function webPods(all: readonly PodItem[]): string[] {
  return all.filter((p) => p.metadata.labels?.["tier"] === "front").map((p) => p.metadata.name);
}

/** One GET to ip:80 from this host (the lab's pods are on its bridge): how long it took. */
function timedGet(ip: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port: 80, path: "/", agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timed out")));
  });
}

/** Runs a scenario of one 1 s HTTP delay of 1 ms on `port`, with this target; its output, once it exited 0. */
async function runScenario(name: string, target: string, port: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const steps = `steps:\n  - name: slow\n    fault: { http: { ${port}, delay: 1ms } }\n    duration: 1s\n`;
  writeFileSync(file, `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: ${name} }\n${target}\n${steps}`);
  const r = await chaosRun([file, ...asAdmin, "--report-dir", dir], {});
  const out = r.stderr + r.stdout;
  expect(r.code, out).toBe(0);
  return out;
}

beforeAll(async () => {
  await makeNamespace(ns);
  const file = join(dir, "manifests.yaml");
  writeFileSync(file, MANIFESTS);
  await kubectlOk(["apply", "-f", file]);
  await kubectlOk(["wait", "-n", ns, "--for=condition=Ready", "pod", "--all", "--timeout=60s"]);
  await waitFor("3 Ready pods", async () => ((await pods()).length === 3 ? true : undefined), 30_000);
}, 90_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("targets by Service, workload and matchExpressions", () => {
  it("--service web: the Service's 3 pods, its port 8080 mapped to targetPort http (80), where the delay is measured", async () => {
    const running = startChaosRun(["http", "--service", "web", "--port", "8080", "--delay", "400", "-r", "5", ...asAdmin]);
    await running.waitFor(/held in 3 pods/, 60_000);
    const canary = (await pods()).find((p) => p.metadata.name === "canary")?.status.podIP ?? "";
    const slow = await timedGet(canary);
    const r = await running.done;
    const out = r.stderr + r.stdout;
    expect(r.code, out).toBe(0);
    expect(out).toContain("service/web → selector app=web → 3 running pods");
    expect(out).toContain("port 8080 (web) → targetPort http → 80");
    expect(slow).toBeGreaterThanOrEqual(400);
    expect(podsFaulted(out)).toEqual([...webPods(await pods()), "canary"].sort());
  }, 60_000);

  it("--workload deployment/web: the Deployment's 2 pods, the canary untouched", async () => {
    const r = await chaosRun(["http", "--workload", "deployment/web", "--port", "80", "--delay", "1", "-r", "1", ...asAdmin], {});
    const out = r.stderr + r.stdout;
    expect(r.code, out).toBe(0);
    expect(out).toContain("deployment/web → selector app=web,tier=front → 2 running pods");
    expect(podsFaulted(out)).toEqual(webPods(await pods()).sort());
  }, 60_000);

  it("matchExpressions beside selector: the canary they exclude is not a target", async () => {
    const out = await runScenario("expressions", "target:\n  selector: { app: web }\n  matchExpressions: [{ key: track, operator: NotIn, values: [canary] }]\n  mode: all", "port: 80");
    expect(podsFaulted(out)).toEqual(webPods(await pods()).sort());
  }, 60_000);

  it("a scenario's port by the Service's name: mapped the same", async () => {
    const out = await runScenario("by-name", "target: { service: web, mode: all }", "port: web");
    expect(out).toContain("port web (8080) → targetPort http → 80");
    expect(podsFaulted(out)).toEqual([...webPods(await pods()), "canary"].sort());
  }, 60_000);

  it("a missing Service: exit 3, said, nothing touched", async () => {
    const before = JSON.stringify((await pods()).map((p) => p.spec.ephemeralContainers ?? []));
    const r = await chaosRun(["http", "--service", "nope", "--port", "80", "--delay", "1", "-r", "1", ...asAdmin], {});
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`service nope not found in namespace ${ns} (nothing was touched)`);
    expect(JSON.stringify((await pods()).map((p) => p.spec.ephemeralContainers ?? []))).toBe(before);
  }, 30_000);
});
