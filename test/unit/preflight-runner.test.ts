// The preflight of a run inside the cluster: the runner's own pod is never a target — refused
// when the target would match it, whatever the mode chooses, before anything is touched — and
// every right the run uses is checked first, so that a Role derived from those checks
// (`chaos-run job`) is all the run needs: the pod watch the targets are followed on included.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { needsOf, runAccess } from "../../src/engine/preflight.js";
import { planOffline } from "../../src/plan/plan.js";
import { fakeClock, finish, ONE_FAULT, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

describe("the runner's own pod", () => {
  it("matched by the selector: exit 3 naming it, nothing touched", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-runner")]);
    const run = start(cluster, scenarioOf(ONE_FAULT), { runnerPod: { namespace: "default", name: "web-runner" } });
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe("the target selector run=web matches this run's own pod default/web-runner: a run never targets itself (nothing was touched)");
    expect(cluster.calls.filter((c) => c.op === "add-agent" || c.op === "exec" || c.op === "can-i")).toEqual([]);
  });

  it("a candidate the mode did not choose is refused all the same: the next run's choice could be it", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b"), pod("web-runner")]);
    const one = ONE_FAULT.replace("mode: all", "mode: one");
    const run = start(cluster, scenarioOf(one), { runnerPod: { namespace: "default", name: "web-runner" } });
    expect(run.plan.target.pods.map((p) => p.name)).not.toContain("web-runner");
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
  });

  it("in another namespace, or not matched: the run goes on, and the preflight says whose pod it is", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(ONE_FAULT), { runnerPod: { namespace: "chaos", name: "web-a" } });
    const result = await finish(run);
    expect(result.exitCode).toBe(0);
    const check = run.events.find((e) => e.type === "preflight" && e.check === "runner");
    expect(check?.type === "preflight" ? check.detail : "").toBe("this run's own pod is chaos/web-a");
  });
});

describe("the rights a run checks", () => {
  it("the pod watch always (targets followed, added containers awaited), an exec's get (a websocket); a list only for a selector or a deletion; the agents' logs when the first fault travels with them", async () => {
    const byName = planOffline(scenarioOf(ONE_FAULT.replace("selector: { run: web }", "pods: [web-a]")), { namespace: "default" });
    const rights = (plan: typeof byName): string[] => runAccess(needsOf(plan), "default").map((c) => `${c.verb} ${c.resource}${c.subresource === undefined ? "" : `/${c.subresource}`}`);
    expect(rights(byName)).toEqual(["get pods", "watch pods", "create pods/exec", "get pods/exec", "patch pods/ephemeralcontainers", "get pods/log", "create pods/attach", "get pods/attach"]);
    // the first step waits: the fault goes by exec, no log is read
    const waitFirst = planOffline(scenarioOf(ONE_FAULT.replace("selector: { run: web }", "pods: [web-a]").replace("steps:\n", "steps:\n  - name: first\n    wait: 2s\n")), { namespace: "default" });
    expect(rights(waitFirst)).not.toContain("get pods/log");
    const bySelector = planOffline(scenarioOf(ONE_FAULT), { namespace: "default" });
    expect(runAccess(needsOf(bySelector), "default").map((c) => c.verb)).toContain("list");
    // a run denied the watch, or the websocket's get of an exec, stops at the preflight, before any agent is added
    for (const denied of ["watch pods", "get pods/exec"]) {
      const cluster = new RecordingCluster([pod("web-a")]);
      cluster.denied = [denied];
      const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
      expect(result.exitCode).toBe(3);
      expect(result.message).toContain(`may not ${denied} in namespace default (nothing was touched)`);
      expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
    }
    // without get pods/log the run goes on, saying so: the travelling fault is confirmed by exec
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.denied = ["get pods/log"];
    cluster.agentLogs = "denied";
    const run = start(cluster, scenarioOf(ONE_FAULT), { firstFaultWithAgent: true });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(run.events.some((e) => e.type === "warning" && e.message.includes("may not get pods/log") && e.message.includes("confirmed by exec instead"))).toBe(true);
    expect(run.events.find((e) => e.type === "fault:applied")).toMatchObject({ withAgent: true, confirmedFrom: "renewal" });
  });

  it("without pods/attach the run goes on, saying once that the applies, renewals and reverts go by exec", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.denied = ["create pods/attach", "get pods/attach"];
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    const said = run.events.flatMap((e) => (e.type === "warning" && e.message.includes("pods/attach") ? [e.message] : []));
    expect(said).toEqual([
      "tester may not create pods/attach, get pods/attach in namespace default: the agents' applies, renewals and reverts go by exec instead, an exec each, where a line held to each agent would carry them (deploy/rbac.yaml grants it)",
    ]);
    expect(cluster.requests((r) => r.op === "revert")).toHaveLength(1);
  });
});
