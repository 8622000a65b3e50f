// Every broken fixture gives exactly its diagnostics, at exact places: a regression in
// locating (a caret that moves) fails here.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LineIndex, located } from "../../src/scenario/diagnostics.js";
import { readScenarioFile } from "../../src/scenario/load.js";

const DIR = "test/fixtures/invalid";

/** file → [code, line, col] of each diagnostic, in order */
const EXPECTED: Record<string, [string, number, number][]> = {
  "bad-cidr.yaml": [["bad-cidr", 18, 19]],
  "bad-duration.yaml": [["bad-duration", 18, 15]],
  "bad-enum.yaml": [["bad-enum", 17, 57]],
  "bad-expression.yaml": [["bad-expression", 22, 58]],
  "bad-percent.yaml": [["bad-percent", 17, 22]],
  "bad-rate.yaml": [["bad-rate", 17, 22]],
  "bad-stress.yaml": [
    ["out-of-range", 12, 34],
    ["bad-value", 13, 25],
    ["unit-mismatch", 16, 26],
  ],
  "bad-type.yaml": [["bad-type", 10, 53]],
  "bad-url.yaml": [["bad-url", 10, 16]],
  "blast-radius.yaml": [["blast-radius", 7, 9]],
  "duplicate-result.yaml": [["duplicate-result", 17, 11]],
  "duration-number.yaml": [["bad-duration", 17, 23]],
  "empty-netem.yaml": [["bad-length", 17, 14]],
  "fault-after-pod-delete.yaml": [["fault-after-pod-delete", 15, 12]],
  "fault-metric.yaml": [
    ["fault-metric", 13, 7],
    ["fault-metric", 18, 7],
  ],
  "fault-and-probe.yaml": [["conflicting-keys", 19, 5]],
  "http-bad-values.yaml": [
    ["missing-key", 11, 7],
    ["needs-key", 13, 9],
    ["bad-value", 14, 19],
    ["bad-value", 15, 19],
  ],
  "http-with-scope.yaml": [["conflicting-keys", 12, 7]],
  "http-without-effect.yaml": [["missing-key", 11, 7]],
  "jitter-without-delay.yaml": [["needs-key", 17, 16]],
  "kill-with-scope.yaml": [
    ["bad-enum", 11, 23],
    ["conflicting-keys", 12, 7],
  ],
  "many-problems.yaml": [
    ["bad-enum", 1, 13],
    ["bad-value", 4, 9],
    ["bad-enum", 7, 9],
    ["concurrency-above-requests", 10, 70],
    ["unknown-key", 14, 30],
    ["bad-duration", 15, 15],
    ["unknown-key", 19, 26],
  ],
  "missing-key.yaml": [["missing-key", 5, 1]],
  "missing-step-kind.yaml": [["missing-key", 15, 5]],
  "out-of-range.yaml": [["out-of-range", 18, 19]],
  "result-used-before-saved.yaml": [["result-used-before-saved", 18, 29]],
  "selector-and-pods.yaml": [["conflicting-keys", 7, 3]],
  "system-namespace.yaml": [["system-namespace", 6, 14]],
  "unit-mismatch.yaml": [["unit-mismatch", 18, 29]],
  "unknown-key.yaml": [
    ["missing-key", 15, 5],
    ["unknown-key", 18, 5],
  ],
  "unknown-metric.yaml": [["unknown-metric", 18, 7]],
  "unknown-probe.yaml": [["unknown-probe", 16, 12]],
  "unknown-result.yaml": [["unknown-result", 22, 35]],
  "unknown-template.yaml": [["unknown-template", 10, 24]],
  "yaml-alias-bomb.yaml": [["yaml-alias-limit", 1, 1]],
  "yaml-duplicate-key.yaml": [["yaml-duplicate-key", 15, 5]],
  "yaml-syntax.yaml": [["yaml-syntax", 7, 9]],
};

function diagnosticsOf(file: string) {
  const r = readScenarioFile(join(DIR, file));
  const index = new LineIndex(r.text);
  return { result: r, located: r.diagnostics.map((d) => located(d, index)) };
}

describe("invalid fixtures", () => {
  it("has an expectation for every fixture file and a file for every expectation", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file}: ${expected.map(([c]) => c).join(", ")}`, () => {
      const { result, located: list } = diagnosticsOf(file);
      expect(result.scenario).toBeUndefined();
      expect(list.map((d) => [d.code, d.line, d.col])).toEqual(expected);
      for (const d of list) {
        expect(d.message.length).toBeGreaterThan(0);
        expect(d.file).toBe(join(DIR, file));
      }
    });
  }

  it("words the hints a person needs", () => {
    const hint = (file: string, code: string) => diagnosticsOf(file).located.find((d) => d.code === code)?.hint;
    expect(hint("unknown-key.yaml", "unknown-key")).toContain("did you mean `duration`?");
    expect(hint("bad-duration.yaml", "bad-duration")).toContain("durations need a unit: 30s");
    expect(hint("duration-number.yaml", "bad-duration")).toContain("100ms");
    expect(hint("bad-enum.yaml", "bad-enum")).toBe("did you mean `normal`? allowed: uniform, normal, pareto, paretonormal");
    expect(diagnosticsOf("bad-type.yaml").located[0]?.message).toBe("expected a whole number, got the string `ten`");
    expect(hint("unknown-probe.yaml", "unknown-probe")).toContain("did you mean `web`?");
    expect(hint("unknown-result.yaml", "unknown-result")).toContain("did you mean `baseline`?");
    expect(hint("unit-mismatch.yaml", "unit-mismatch")).toBe("give it a unit: 50ms");
    expect(hint("many-problems.yaml", "bad-enum")).toBeDefined();
    expect(hint("fault-metric.yaml", "fault-metric")).toContain("measure their effect with a probe under `during:`");
    expect(diagnosticsOf("fault-metric.yaml").located.map((d) => d.hint)[1]).toBe("did you mean `recovery.time`? kill metrics: restarts, exitCode, recovery.time");
    expect(diagnosticsOf("kill-with-scope.yaml").located[1]?.message).toBe("`to` cannot be used together with `kill`");
    expect(diagnosticsOf("bad-stress.yaml").located[1]?.message).toBe("`64MB` is not a size in bytes (a whole number, optionally with Ki, Mi, Gi, Ti, k, M, G or T)");
    expect(hint("fault-after-pod-delete.yaml", "fault-after-pod-delete")).toContain("probe and wait steps may follow it");
  });

  it("puts the caret on the misspelt key, not its value", () => {
    const d = diagnosticsOf("unknown-key.yaml").located.find((x) => x.code === "unknown-key");
    expect(d).toMatchObject({ line: 18, col: 5, endLine: 18, endCol: 12, path: "/steps/1/duraton" });
  });
});
