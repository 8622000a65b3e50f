// Every scenario of the catalog validates, names the schema for editors, and plans offline.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatPlan, planOffline } from "../../src/plan/index.js";
import { readScenarioFile } from "../../src/scenario/load.js";

const files = readdirSync("scenarios")
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("scenarios/", () => {
  it("has the seed experiment, the failing demo and at least six others", () => {
    expect(files).toContain("nginx-latency.yaml");
    expect(files).toContain("nginx-latency-fails.yaml");
    expect(files.length).toBeGreaterThanOrEqual(8);
  });
  for (const f of files) {
    it(`${f} validates and plans`, () => {
      const file = join("scenarios", f);
      expect(readFileSync(file, "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=../schemas/scenario.schema.json");
      const r = readScenarioFile(file);
      expect(r.diagnostics).toEqual([]);
      if (r.scenario === undefined) throw new Error("no scenario");
      const text = formatPlan(planOffline(r.scenario), file);
      expect(formatPlan(planOffline(r.scenario), file)).toBe(text);
    });
  }
  it("covers the fault kinds and modes the issue asks for", () => {
    const all = files.map((f) => readFileSync(join("scenarios", f), "utf8")).join("\n");
    for (const needle of ["loss:", "jitter:", "correlation:", "partition:", "rate:", "percent: 50", "seed:", "port:", "http:", "errorRate:"]) expect(all).toContain(needle);
  });
  it("has an example of each fault that acts on processes and pods, and the disconnection proven by a probe", () => {
    const text = (f: string): string => readFileSync(join("scenarios", f), "utf8");
    expect(text("kill-container.yaml")).toContain("kill: { container: nginx, signal: SIGKILL }");
    expect(text("cpu-hog.yaml")).toContain('cpu: { workers: 1, load: "100%", allowBeyondLimit: true }');
    expect(text("memory-hog.yaml")).toContain("memory: { size: 256Mi, allowBeyondLimit: true }");
    expect(text("pod-delete.yaml")).toContain("podDelete: { gracePeriod: 0s }");
    // the reconnection is checked after the partition, not assumed
    const disconnect = readScenarioFile(join("scenarios", "replica-disconnect.yaml")).scenario;
    expect(disconnect?.steps.map((s) => s.kind)).toEqual(["fault", "probe"]);
    expect(disconnect?.steadyState.map((r) => r.expect.map((e) => e.metric))).toEqual([["failedRequests"]]);
  });
});
