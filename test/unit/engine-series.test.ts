// Continuous probes in the engine, through the recording Cluster port on a fake clock: samples
// at their slots through a fault's window (whatever the fault: the step only hands its window's
// end to `during`), the steady state's monitor through the whole run, a sample that cannot
// measure recorded while the series goes on, a series where none could (exit 3), an overrun
// that skips slots, and a prometheus probe through the runner's HTTP port.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import type { HttpGet } from "../../src/probes/fetch.js";
import { fakeClock, finish, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, pod, type Outcome } from "./recording-cluster.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const SCENARIO = (every: string, extra = ""): string => `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: series-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
probes:
  web: { http: { url: "http://{{ target.ip }}/", requests: 4 } }
${extra}
steadyState:
  - probe: web
    every: 1s
    expect: { errorRatio: 0 }
steps:
  - name: settle
    wait: 3s
  - name: cut
    fault: { partition: {} }
    duration: 10s
    during:
      - probe: web
        every: ${every}
        expect:
          errorRatio.min: { equals: 100% }
          errorRatio: { equals: 1, samples: 80% }
  - name: recover
    wait: 3s
`;

/** curl's lines: every request answered while no fault is held, every one refused while one is. */
function curlByFault(cluster: RecordingCluster, delayMs = 0): (argv: readonly string[], ...rest: unknown[]) => Outcome | undefined {
  return (argv) => {
    if (argv[0] !== "curl") return undefined;
    const held = [...cluster.agents.values()].some((a) => a.held.size > 0);
    const line = held ? "000 0.000200 7 Failed to connect: Connection refused" : "200 0.001000 0 ";
    return { kind: "raw", exitCode: held ? 7 : 0, stdout: `${Array(4).fill(line).join("\n")}\n`, stderr: "", afterMs: delayMs };
  };
}

const results = (events: readonly EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: "probe:result" }> => e.type === "probe:result");
const expects = (events: readonly EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: "expect:result" }> => e.type === "expect:result");

describe("continuous probes", () => {
  it("sample a fault's window at their slots, and judge the series once, when it ends", async () => {
    const cluster = new RecordingCluster([pod("web-0")]);
    cluster.programs = curlByFault(cluster);
    const run = start(cluster, scenarioOf(SCENARIO("2s")));
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    const holding = run.events.find((e) => e.type === "fault:holding");
    const during = results(run.events).filter((e) => e.where.phase === "during");
    expect(during.map((e) => (e.outcome.startedAt ?? 0) - (holding?.at ?? 0))).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(during.map((e) => e.series?.index)).toEqual([0, 1, 2, 3, 4]);
    expect(during.every((e) => e.outcome.metrics["errorRatio"] === 1)).toBe(true);
    const judged = expects(run.events).filter((e) => e.where.phase === "during");
    expect(judged.map((e) => [e.outcome.metric, e.outcome.verdict, e.series?.samples])).toEqual([
      ["errorRatio.min", "pass", 5],
      ["errorRatio", "pass", 5],
    ]);
    expect(judged[1]?.outcome.description).toBe("errorRatio = 100% in 5 of 5 samples (100%), worst 100% (needs 80%)");
  });

  it("monitor the steady state through the whole run: answered outside the fault, refused inside, checked before and after", async () => {
    const cluster = new RecordingCluster([pod("web-0")]);
    cluster.programs = curlByFault(cluster);
    const run = start(cluster, scenarioOf(SCENARIO("2s")));
    await finish(run);
    const monitor = results(run.events).filter((e) => e.where.phase === "monitor");
    const applied = run.events.find((e) => e.type === "fault:applied")?.at ?? 0;
    const reverted = run.events.find((e) => e.type === "fault:reverted")?.at ?? 0;
    const end = run.events.find((e) => e.type === "run:end")?.at ?? 0;
    // ≈ 3 s settle + 10 s fault + 3 s recovery, one sample a second
    expect(monitor.length).toBeGreaterThanOrEqual(15);
    expect(monitor.length).toBeLessThanOrEqual(17);
    for (const m of monitor) {
      const t = m.outcome.startedAt ?? 0;
      expect(m.outcome.metrics["errorRatio"], `sample at +${t - run.t0} ms`).toBe(t >= applied && t < reverted ? 1 : 0);
      expect(m.at).toBeLessThanOrEqual(end);
    }
    expect(
      expects(run.events)
        .filter((e) => e.where.phase === "before" || e.where.phase === "after")
        .map((e) => [e.where.phase, e.outcome.verdict]),
    ).toEqual([
      ["before", "pass"],
      ["after", "pass"],
    ]);
    expect(expects(run.events).some((e) => e.where.phase === "monitor")).toBe(false);
  });

  it("query Prometheus through the runner's HTTP port, each sample at its slot", async () => {
    const cluster = new RecordingCluster([pod("web-0")]);
    cluster.programs = curlByFault(cluster);
    const asked: string[] = [];
    const httpGet: HttpGet = async (url) => {
      asked.push(url);
      const held = [...cluster.agents.values()].some((a) => a.held.size > 0);
      return { status: 200, body: JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, held ? "0.9" : "0"] }] } }) };
    };
    const yaml = SCENARIO("2s", `  errors: { prometheus: { url: "http://127.0.0.1:29090", query: 'sum(rate(x[1m]))', unit: ratio } }`).replace(
      "          errorRatio: { equals: 1, samples: 80% }",
      "          errorRatio: { equals: 1, samples: 80% }\n      - probe: errors\n        every: 5s\n        expect: { value.max: { above: 50% } }",
    );
    const run = start(cluster, scenarioOf(yaml), { httpGet });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(asked).toEqual(["http://127.0.0.1:29090/api/v1/query?query=sum(rate(x%5B1m%5D))", "http://127.0.0.1:29090/api/v1/query?query=sum(rate(x%5B1m%5D))"]);
    const e = expects(run.events).find((x) => x.probe === "errors");
    expect(e?.outcome.description).toBe("value.max 90% > 50% (max of 2 samples)");
  });
});

describe("continuous probes: samples that fail or overrun", () => {
  it("record a sample that cannot measure, and go on", async () => {
    const cluster = new RecordingCluster([pod("web-0")]);
    const byFault = curlByFault(cluster);
    let n = 0;
    cluster.programs = (argv, where, now) => {
      const held = [...cluster.agents.values()].some((a) => a.held.size > 0);
      if (argv[0] === "curl" && held && ++n === 2) return { kind: "raw", exitCode: 127, stdout: "", stderr: "" };
      return byFault(argv, where, now);
    };
    // no monitor here: every curl while the fault is held is the during series'
    const run = start(cluster, scenarioOf(SCENARIO("2s").replace("    every: 1s\n    expect: { errorRatio: 0 }", "    expect: { errorRatio: 0 }")));
    const result = await finish(run);
    const during = results(run.events).filter((e) => e.where.phase === "during");
    expect(results(run.events).some((e) => e.where.phase === "monitor")).toBe(false);
    expect(during.map((e) => e.outcome.error)).toEqual([undefined, expect.stringMatching(/curl is not installed in the tools image/), undefined, undefined, undefined]);
    // 4 of 5 samples refused: the share (80%) holds; the minimum is taken over the samples that measured
    expect(result.exitCode, result.message).toBe(0);
  });

  it("stop the run (exit 3) when not one sample of a series could measure", async () => {
    const cluster = new RecordingCluster([pod("web-0")]);
    const byFault = curlByFault(cluster);
    cluster.programs = (argv, where, now) =>
      [...cluster.agents.values()].some((a) => a.held.size > 0) && argv[0] === "curl" ? { kind: "raw", exitCode: 127, stdout: "", stderr: "" } : byFault(argv, where, now);
    const run = start(cluster, scenarioOf(SCENARIO("2s")));
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toMatch(/^probe web could not measure during cut: every one of its 5 samples failed: probe web could not run in pod default\/chaos-tools-r1: curl is not installed/);
    expect(run.events.filter((e) => e.type === "fault:reverted").map((e) => e.type === "fault:reverted" && e.confirmed)).toEqual([true]);
  });

  it("skip the slots a slow sample overran: samples never overlap", async () => {
    const cluster = new RecordingCluster([pod("web-0")]);
    cluster.programs = curlByFault(cluster, 2500);
    const run = start(cluster, scenarioOf(SCENARIO("1s")));
    await finish(run);
    const holding = run.events.find((e) => e.type === "fault:holding")?.at ?? 0;
    const during = results(run.events).filter((e) => e.where.phase === "during");
    expect(during.map((e) => (e.outcome.startedAt ?? 0) - holding)).toEqual([0, 3000, 6000, 9000]);
  });
});
