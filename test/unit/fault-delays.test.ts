// A fault's delay and jitter beyond what the agent takes are refused by validate, located, not at
// run time by the agent: netem, http and grpc at most 1h (dns's 60s bound is dns.test.ts's).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MAX_DELAY_MS } from "../../src/faults/types.js";
import { LineIndex, located } from "../../src/scenario/diagnostics.js";
import { validateSource } from "../../src/scenario/load.js";

const HEAD = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: delays }
target: { namespace: default, pods: [web], mode: all }
steps:
`;

/** [code, line, col, message] of a scenario whose steps' faults are these, one a line. */
function diagnostics(...faults: string[]): [string, number, number, string][] {
  const text = HEAD + faults.map((f, i) => `  - name: s${i}\n    fault: ${f}\n    duration: 1s\n`).join("");
  const index = new LineIndex(text);
  return validateSource("inline.yaml", text)
    .diagnostics.map((d) => located(d, index))
    .map((d) => [d.code, d.line, d.col, d.message]);
}

describe("fault delays beyond the agent's bound", () => {
  it("netem, http and grpc: a delay or a jitter over 1h is out of range where it is written; 1h itself is not", () => {
    expect(diagnostics("{ netem: { delay: 2h, jitter: 90m } }", "{ http: { port: 80, delay: 1s, jitter: 61m } }", "{ grpc: { port: 50051, delay: 3601s } }")).toEqual([
      ["out-of-range", 7, 30, "2h is out of range: must be at most 1h"],
      ["out-of-range", 7, 42, "90m is out of range: must be at most 1h"],
      ["out-of-range", 10, 51, "61m is out of range: must be at most 1h"],
      ["out-of-range", 13, 42, "3601s is out of range: must be at most 1h"],
    ]);
    expect(diagnostics("{ netem: { delay: 1h, jitter: 60m } }", "{ http: { port: 80, delay: 3600000ms } }", "{ grpc: { port: 50051, delay: 1h, jitter: 1h } }")).toEqual([]);
  });

  it("the bound is the agent protocol's, for each of those kinds", () => {
    const schema = JSON.parse(readFileSync(new URL("../../schemas/agent-protocol.schema.json", import.meta.url), "utf8")) as unknown;
    const maxima: number[] = [];
    const walk = (v: unknown): void => {
      if (typeof v !== "object" || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        if ((k === "delayMs" || k === "jitterMs") && typeof x === "object" && x !== null && "maximum" in x) maxima.push(Number(x.maximum));
        walk(x);
      }
    };
    walk(schema);
    // netem, http, grpc: MAX_DELAY_MS each; dns: its own 60 s
    expect(maxima.filter((m) => m === MAX_DELAY_MS)).toHaveLength(6);
    expect(maxima.filter((m) => m !== MAX_DELAY_MS)).toEqual([60_000, 60_000]);
  });
});
