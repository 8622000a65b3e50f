// Every scenario of the catalog validates, names the schema for editors, and plans offline.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatPlan, planOffline } from "../../src/plan/index.js";
import { readScenarioFile } from "../../src/scenario/load.js";

const files = readdirSync("scenarios").filter((f) => f.endsWith(".yaml")).sort();

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
});
