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
    for (let seed = 0; seed < 20; seed++) choices.add(planRun(half, pods("a", "b", "c", "d"), { seed }).target.pods.map((p) => p.name).join());
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
  it("has the fault's exact agent argv", () => {
    const plan = planRun(nginx, pods("nginx-1"));
    const step = plan.steps[1];
    if (step?.kind !== "fault") throw new Error("step 2 is the fault");
    expect(step.fault.id).toBe("s2");
    expect(step.fault.interface).toBe("$IFACE");
    expect(step.fault.agentRevert).toEqual(["chaos-agent", "revert", "--id", "s2"]);
    expect(step.fault.agentApply.slice(0, 9)).toEqual(["chaos-agent", "apply", "--id", "s2", "--iface", "$IFACE", "--lease", "15s", "--revert"]);
    expect(step.during[0]?.argv).toEqual(["ab", "-r", "-k", "-n", "50", "-c", "1", "-s", "10", "-e", "/dev/stderr", "http://{{ target.ip }}/"]);
    expect(step.during[0]?.expectText).toEqual(["failedRequests equals 0", "latency.mean within [95ms, 130ms]", "latency.p50 atLeast baseline.latency.p50 + 90ms"]);
  });
  it("offline placeholders by mode", () => {
    expect(planOffline(nginx).target.pods).toEqual([{ name: "<every pod matching run=nginx>", ip: undefined, placeholder: true }]);
    const db = planOffline(scenario("scenarios/db-partition.yaml"));
    expect(db.target.pods.map((p) => p.name)).toEqual(["<pod matching app=api,tier=backend #1>"]);
    const named = planOffline(scenario("scenarios/jitter-correlation.yaml"));
    expect(named.target.pods.map((p) => [p.name, p.placeholder])).toEqual([["checkout-0", false], ["checkout-1", false]]);
    expect(planOffline(nginx, { pods: ["b", "a"] }).target.pods.map((p) => p.name)).toEqual(["a", "b"]);
  });
  it("same scenario and seed: the same bytes", () => {
    const a = planOffline(nginx, { seed: 9, pods: ["x", "y"] });
    const b = planOffline(nginx, { seed: 9, pods: ["y", "x"] });
    expect(formatPlan(a, "f.yaml")).toBe(formatPlan(b, "f.yaml"));
    expect(JSON.stringify(planToJson(a, "f.yaml"))).toBe(JSON.stringify(planToJson(b, "f.yaml")));
    expect(formatPlan(a, "f.yaml")).toContain("$IFACE = each pod's default-route interface, resolved by the agent at run time");
  });
  it("prefixes fault ids for a run, within 22 characters", () => {
    const plan = planRun(nginx, pods("a"), { faultIdPrefix: "r1a2b3" });
    const step = plan.steps[1];
    expect(step?.kind === "fault" ? step.fault.id : "").toBe("r1a2b3-s2");
    expect(() => planRun(nginx, pods("a"), { faultIdPrefix: "a-much-too-long-prefix-x" })).toThrow(PlanError);
  });
});
