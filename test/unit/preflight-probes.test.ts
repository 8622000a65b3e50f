// The preflight checks what the k8s probes will read, before anything is touched: each kind
// resolved through discovery (a kind the API server does not serve is refused), each read an
// access check of the caller's own (SelfSubjectAccessReview) in the namespace it reads.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { fakeClock, finish, scenarioOf, start } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

/** A netem fault whose only probe, a k8s one, runs during it: without the preflight the fault would be applied before the probe's read is refused. */
const withProbe = (probe: string): string => `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-test }
target: { namespace: default, selector: { run: web }, mode: all }
probes:
  ${probe}
steps:
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 5s
    during:
      - probe: r
        expect: { objects: 1 }
`;

describe("preflight of the k8s probes' reads", () => {
  it("a read the caller may not do: exit 3 naming it, the role to grant, and nothing touched", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.denied = ["get deployments.apps"];
    const result = await finish(start(cluster, scenarioOf(withProbe("r: { k8s: { kind: Deployment, name: web } }"))));
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe('tester may not get deployments.apps "web" in namespace default (nothing was touched)');
    expect(result.hint).toBe(
      "the k8s probes read with your own permissions: kubectl create clusterrole chaos-run-probe-reads --verb get,list --resource deployments.apps && kubectl create rolebinding chaos-run-probe-reads --clusterrole chaos-run-probe-reads --user tester -n default",
    );
    expect(cluster.calls.filter((c) => c.op === "add-agent" || c.op === "exec" || c.op === "get-objects")).toEqual([]);
  });

  it("a list by selector in another namespace, and a cluster-scoped kind: each said where", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.denied = ["list services", "list nodes"];
    const yaml = withProbe("r: { k8s: { kind: Service, namespace: shop, selector: { app: web } } }\n  n: { k8s: { kind: Node, selector: { kubernetes.io/os: linux } } }").replace(
      "      - probe: r\n",
      "      - probe: n\n        expect: { objects: 1 }\n      - probe: r\n",
    );
    const result = await finish(start(cluster, scenarioOf(yaml)));
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe("tester may not list nodes cluster-wide, list services in namespace shop (nothing was touched)");
    expect(result.hint).toContain(
      "--resource nodes,services && kubectl create clusterrolebinding chaos-run-probe-reads --clusterrole chaos-run-probe-reads --user tester && kubectl create rolebinding chaos-run-probe-reads --clusterrole chaos-run-probe-reads --user tester -n shop",
    );
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
  });

  it("a kind the API server does not serve: refused before anything is touched", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const result = await finish(start(cluster, scenarioOf(withProbe("r: { k8s: { kind: Rollout, apiVersion: argoproj.io/v1alpha1, name: web } }"))));
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe("probe r: the API server has no kind Rollout in argoproj.io/v1alpha1 (nothing was touched)");
    expect(result.hint).toContain("kubectl api-resources");
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
  });

  it("allowed: the reads are listed with the run's other permissions, and the run goes on", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.objects = () => [{ kind: "Deployment", metadata: { name: "web" } }];
    const run = start(cluster, scenarioOf(withProbe("r: { k8s: { kind: Deployment, name: web } }")));
    const result = await finish(run);
    expect(result.message).toBeUndefined();
    expect(result.exitCode).toBe(0);
    const rbac = run.events.find((e) => e.type === "preflight" && e.check === "rbac");
    expect(rbac?.type === "preflight" ? rbac.detail : "").toMatch(/^allowed: .*, get deployments\.apps "web"$/);
  });

  it("a read by name is checked for that name: a Role limited to it (resourceNames) lets the run go on, another name is refused", async () => {
    const limited = new RecordingCluster([pod("web-a")]);
    limited.denied = ['get deployments.apps "other"'];
    limited.objects = () => [{ kind: "Deployment", metadata: { name: "web" } }];
    const ok = await finish(start(limited, scenarioOf(withProbe("r: { k8s: { kind: Deployment, name: web } }"))));
    expect(ok.exitCode).toBe(0);
    expect(limited.accessChecks).toContain('get deployments.apps "web"');
    const other = new RecordingCluster([pod("web-a")]);
    other.denied = ['get deployments.apps "other"'];
    const refused = await finish(start(other, scenarioOf(withProbe("r: { k8s: { kind: Deployment, name: other } }"))));
    expect(refused.exitCode).toBe(3);
    expect(refused.message).toBe('tester may not get deployments.apps "other" in namespace default (nothing was touched)');
  });

  it("a name filled in from the target pod is checked for each pod's; one that cannot be filled in before the run, for the whole resource", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.denied = ['get pods "web-b"'];
    const refused = await finish(start(cluster, scenarioOf(withProbe('r: { k8s: { kind: Pod, name: "{{ target.name }}" } }'))));
    expect(refused.exitCode).toBe(3);
    expect(cluster.accessChecks).toEqual(expect.arrayContaining(['get pods "web-a"', 'get pods "web-b"']));
    expect(refused.message).toBe('tester may not get pods "web-b" in namespace default (nothing was touched)');
    const unset = new RecordingCluster([pod("web-a")]);
    unset.denied = ["get services"];
    const whole = await finish(start(unset, scenarioOf(withProbe('r: { k8s: { kind: Service, name: "{{ env.CHAOS_RUN_TEST_UNSET }}" } }'))));
    expect(whole.exitCode).toBe(3);
    expect(whole.message).toBe("tester may not get services in namespace default (nothing was touched)");
  });
});
