import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PlanError, choose, formatPlan, modeCount, planOffline, planRun, planToJson } from "../../src/plan/index.js";
import { validateSource } from "../../src/scenario/load.js";
import type { Scenario } from "../../src/scenario/types.js";

function scenario(file: string, edit: (text: string) => string = (t) => t): Scenario {
  const r = validateSource(file, edit(readFileSync(file, "utf8")));
  if (r.scenario === undefined) throw new Error(JSON.stringify(r.diagnostics));
  return r.scenario;
}

const pods = (...names: string[]) => names.map((name) => ({ name }));

describe("target modes", () => {
  const half = scenario("scenarios/half-the-fleet.yaml");
  it("percent rounds up and chooses with the seed, independent of list order", () => {
    const a = planRun(half, pods("e", "c", "a", "d", "b"));
    const b = planRun(half, pods("a", "b", "c", "d", "e"));
    expect(a.target.pods.map((p) => p.name)).toHaveLength(3);
    expect(a.target.pods).toEqual(b.target.pods);
    expect(a.target.candidates).toEqual(["a", "b", "c", "d", "e"]);
    expect(a.target.pods.map((p) => p.name)).toEqual([...a.target.pods.map((p) => p.name)].sort());
  });
  it("another seed, maybe another choice; same seed, same choice", () => {
    const choices = new Set<string>();
    for (let seed = 0; seed < 20; seed++)
      choices.add(
        planRun(half, pods("a", "b", "c", "d"), { seed })
          .target.pods.map((p) => p.name)
          .join(),
      );
    expect(choices.size).toBeGreaterThan(1);
    expect(planRun(half, pods("a", "b", "c", "d"), { seed: 5 })).toEqual(planRun(half, pods("d", "c", "b", "a"), { seed: 5 }));
  });
  it("refuses instead of clamping", () => {
    const db = scenario("scenarios/db-partition.yaml", (t) => t.replace("mode: { count: 1 }", "mode: { count: 3 }").replace("maxPods: 1", "maxPods: 5"));
    expect(() => planRun(db, pods("a", "b"))).toThrow(PlanError);
    try {
      planRun(db, pods("a", "b"));
    } catch (e) {
      expect(e).toMatchObject({ code: "not-enough-pods", path: "/target/mode", exitCode: 3 });
    }
    // all 6 pods with maxPods 5
    const all = scenario("scenarios/nginx-latency.yaml", (t) => t.replace("maxPods: 10", "maxPods: 5"));
    expect(() => planRun(all, pods("a", "b", "c", "d", "e", "f"))).toThrow(/above maxPods 5/);
    expect(() => planRun(all, [])).toThrow(/no pods matching run=nginx/);
  });
  it("mode counts", () => {
    expect(modeCount({ kind: "percent", percent: 50 }, 5)).toBe(3);
    expect(modeCount({ kind: "percent", percent: 50 }, 4)).toBe(2);
    expect(modeCount({ kind: "percent", percent: 1 }, 4)).toBe(1);
    expect(modeCount({ kind: "percent", percent: 100 }, 7)).toBe(7);
    expect(modeCount({ kind: "one" }, 7)).toBe(1);
    expect(choose(["a", "b", "c"], 5, 1)).toHaveLength(3);
  });
});

describe("the plan", () => {
  const nginx = scenario("scenarios/nginx-latency.yaml");
  it("offsets count faults and waits", () => {
    const plan = planOffline(scenario("scenarios/web-loss.yaml"));
    expect(plan.steps.map((s) => [s.name, s.startMs, s.durationMs])).toEqual([
      ["baseline", 0, undefined],
      ["lose packets", 0, 45_000],
      ["settle", 45_000, 10_000],
      ["recovered", 55_000, undefined],
    ]);
    expect(plan.timelineMs).toBe(55_000);
  });
  it("has the fault's exact requests to the agent", () => {
    const plan = planRun(nginx, pods("nginx-1"), { runId: "r1a2b3" });
    const step = plan.steps[1];
    if (step?.kind !== "fault" || step.fault.delivery !== "agent") throw new Error("step 2 is the agent's fault");
    expect(step.fault.id).toBe("r1a2b3-s2");
    expect(step.fault.interface).toBeUndefined();
    expect(step.fault.apply).toEqual({
      protocol: 1,
      op: "apply",
      runId: "r1a2b3",
      fault: { id: "r1a2b3-s2", leaseMs: 15_000, spec: { kind: "netem", scope: { port: 80 }, netem: { delayMs: 100, jitterMs: 5 } } },
    });
    expect(step.fault.revert).toEqual({ protocol: 1, op: "revert", runId: "r1a2b3", faultId: "r1a2b3-s2" });
    expect(step.during[0]?.argv).toEqual(["ab", "-r", "-k", "-n", "50", "-c", "1", "-s", "10", "-e", "/dev/stderr", "http://{{ target.ip }}/"]);
    expect(step.during[0]?.expectText).toEqual(["failedRequests equals 0", "latency.mean within [95ms, 130ms]", "latency.p50 atLeast baseline.latency.p50 + 90ms"]);
  });
  it("asks for an explicit agent container: the pull policy, and exactly the capabilities the faults need", () => {
    expect(planRun(nginx, pods("a")).agent).toEqual({ image: "chaos-agent:latest", ttlMs: 600_000, leaseMs: 15_000, pullPolicy: "IfNotPresent", capabilities: ["NET_ADMIN"] });
    expect(planRun(nginx, pods("a"), { pullPolicy: "Never", agentImage: "reg/agent:2" }).agent).toMatchObject({ image: "reg/agent:2", pullPolicy: "Never" });
    const pulled = scenario("scenarios/nginx-latency.yaml", (t) => t.replace("  ttl: 10m", "  ttl: 10m\n  pullPolicy: Always"));
    expect(pulled.agent.pullPolicy).toBe("Always");
    expect(planRun(pulled, pods("a")).agent.pullPolicy).toBe("Always");
    expect(planRun(pulled, pods("a"), { pullPolicy: "IfNotPresent" }).agent.pullPolicy).toBe("IfNotPresent");
  });
  it("offline placeholders by mode", () => {
    expect(planOffline(nginx).target.pods).toEqual([{ name: "<every pod matching run=nginx>", ip: undefined, placeholder: true }]);
    const db = planOffline(scenario("scenarios/db-partition.yaml"));
    expect(db.target.pods.map((p) => p.name)).toEqual(["<pod matching app=api,tier=backend #1>"]);
    const named = planOffline(scenario("scenarios/jitter-correlation.yaml"));
    expect(named.target.pods.map((p) => [p.name, p.placeholder])).toEqual([
      ["checkout-0", false],
      ["checkout-1", false],
    ]);
    expect(planOffline(nginx, { pods: ["b", "a"] }).target.pods.map((p) => p.name)).toEqual(["a", "b"]);
  });
  it("same scenario and seed: the same bytes", () => {
    const a = planOffline(nginx, { seed: 9, pods: ["x", "y"] });
    const b = planOffline(nginx, { seed: 9, pods: ["y", "x"] });
    expect(formatPlan(a, "f.yaml")).toBe(formatPlan(b, "f.yaml"));
    expect(JSON.stringify(planToJson(a, "f.yaml"))).toBe(JSON.stringify(planToJson(b, "f.yaml")));
    expect(formatPlan(a, "f.yaml")).toContain(
      "The exact tc and nft commands (iptables where the node's kernel has no nf_tables) depend on each pod —\nits interface, the tc handles free there, its address families — so the agent decides them; its reply\nlists every command it ran, in those terms, and the journal records them.",
    );
  });
  it("prefixes fault ids with the run id, within 22 characters; offline the run id is `offline`", () => {
    const plan = planRun(nginx, pods("a"), { runId: "r1a2b3" });
    const step = plan.steps[1];
    expect(step?.kind === "fault" ? step.fault.id : "").toBe("r1a2b3-s2");
    expect(() => planRun(nginx, pods("a"), { runId: "muchtoolongrunid0" })).toThrow(PlanError);
    const offline = planOffline(nginx).steps[1];
    expect(offline?.kind === "fault" && offline.fault.delivery === "agent" ? [offline.fault.id, offline.fault.apply.runId] : []).toEqual(["offline-s2", "offline"]);
  });
});

describe("refused before any harm", () => {
  // the namespace comes from -n (or the kubeconfig), not from the file
  const nginx = scenario("scenarios/nginx-latency.yaml", (t) => t.replace(/^ {2}namespace: default\n/m, ""));
  it("a hostNetwork pod among the candidates, whatever the mode would choose", () => {
    const run = () => planRun(nginx, [{ name: "web-1" }, { name: "node-exporter", hostNetwork: true }]);
    expect(run).toThrow(PlanError);
    expect(run).toThrow(/pod node-exporter uses the node's network \(hostNetwork: true\).*nothing was touched/);
    try {
      run();
    } catch (e) {
      expect(e).toMatchObject({ code: "host-network", path: "/target/selector", exitCode: 3 });
    }
    const one = scenario("scenarios/db-partition.yaml");
    expect(() => planRun(one, [{ name: "a" }, { name: "b", hostNetwork: true }], { seed: 1 })).toThrow(/hostNetwork/);
  });
  it("kube-system, kube-public, kube-node-lease without target.allowSystemNamespaces", () => {
    for (const ns of ["kube-system", "kube-public", "kube-node-lease"]) {
      expect(() => planRun(nginx, pods("a"), { namespace: ns })).toThrow(PlanError);
      expect(() => planOffline(nginx, { namespace: ns })).toThrow(new RegExp(`namespace ${ns} holds the cluster's own components`));
    }
    try {
      planRun(nginx, pods("a"), { namespace: "kube-system" });
    } catch (e) {
      expect(e).toMatchObject({ code: "system-namespace", path: "/target", namespace: "kube-system", exitCode: 3 });
    }
    expect(planRun(nginx, pods("a"), { namespace: "kube-systems" }).namespace).toBe("kube-systems");
  });
  it("with the opt-in: planned, and the plan shows the opt-in (in red on a terminal)", () => {
    const opted = scenario("scenarios/nginx-latency.yaml", (t) => t.replace("  maxPods: 10", "  maxPods: 10\n  allowSystemNamespaces: true"));
    const plan = planRun(opted, pods("coredns-1"), { namespace: "kube-system" });
    expect(plan.target.allowSystemNamespaces).toBe(true);
    const line = "  target.allowSystemNamespaces: true — pods in kube-system, kube-public and kube-node-lease may be hit";
    expect(formatPlan(plan, "f.yaml").split("\n")).toContain(line);
    expect(formatPlan(plan, "f.yaml", { color: true }).split("\n")).toContain(`\u001b[1;31m${line}\u001b[0m`);
    expect(formatPlan(planRun(nginx, pods("a")), "f.yaml", { color: true })).not.toContain("allowSystemNamespaces");
  });
  it("static and DaemonSet pods are named as such", () => {
    const plan = planRun(nginx, [{ name: "kube-proxy-x", role: "daemonset" }, { name: "etcd-node1", role: "static" }, { name: "web" }]);
    expect(plan.target.pods.map((p) => [p.name, p.role])).toEqual([
      ["etcd-node1", "static"],
      ["kube-proxy-x", "daemonset"],
      ["web", undefined],
    ]);
    const text = formatPlan(plan, "f.yaml");
    expect(text).toContain("  pod etcd-node1: a static pod: its node's kubelet runs it from a file, and the API only mirrors it\n");
    expect(text).toContain("  pod kube-proxy-x: a DaemonSet's pod: one of a set, one per node\n");
    expect(text).toContain("  pod web\n");
  });
});

describe("an http fault in the plan", () => {
  it("summarises what the proxy does and sends the agent every parameter, the error code filled in", () => {
    const s = scenario("test/fixtures/valid/everything-http.yaml", (t) => t.replace("        errorCode: 503\n", "").replace(/ {8}errorBody: .*\n/, ""));
    const plan = planOffline(s);
    const step = plan.steps[0];
    if (step?.kind !== "fault" || step.fault.delivery !== "agent") throw new Error("no fault step the pod's agent holds");
    expect(step.fault.summary).toBe("http on port 8080: delay 50ms ± 5ms, 500 to 20% of requests; except /healthz, /static/; only GET, POST");
    expect(step.fault.apply.fault.spec).toEqual({
      kind: "http",
      interface: "eth0",
      http: { port: 8080, delayMs: 50, jitterMs: 5, errorRate: 20, errorCode: 500, exclude: ["/healthz", "/static/"], methods: ["GET", "POST"] },
    });
    expect(plan.agent.capabilities).toEqual(["NET_ADMIN", "NET_RAW"]);
    expect(formatPlan(plan, "everything-http.yaml")).toContain("http on port 8080: delay 50ms ± 5ms, 500 to 20% of requests");
  });
  it("says it expires in the kernel where the node has nf_tables (its redirect is a table whose lease set element times out), as a partition does", () => {
    const step = planOffline(scenario("test/fixtures/valid/everything-http.yaml")).steps[0];
    if (step?.kind !== "fault") throw new Error("no fault step");
    expect(step.fault.ends).toBe("kernel");
    expect(formatPlan(planOffline(scenario("test/fixtures/valid/everything-http.yaml")), "everything-http.yaml")).toContain(
      "ends: expires in the kernel: its nftables rules match only while the interface is in a set whose element times out at the lease + 1 s",
    );
  });
  it("a delay alone", () => {
    const s = scenario("test/fixtures/valid/everything-http.yaml", (t) => t.replace(/ {8}(errorRate|errorCode|errorBody|exclude|methods|jitter): .*\n/g, ""));
    const step = planOffline(s).steps[0];
    if (step?.kind !== "fault" || step.fault.delivery !== "agent") throw new Error("no fault step the pod's agent holds");
    expect(step.fault.summary).toBe("http on port 8080: delay 50ms");
    expect(step.fault.apply.fault.spec).toEqual({ kind: "http", interface: "eth0", http: { port: 8080, delayMs: 50 } });
  });
});
