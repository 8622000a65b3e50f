// The grpc fault on the runner's side: the scenario's `fault: grpc` (located errors, the status by
// name in any case or by number), its plan in words (golden), the verb's flags → the scenario it
// runs, and the agent's counts at the revert → observed, warned about, judged and reported. What
// the proxy does to real calls is the lab's (test/cluster/grpc.test.ts) and the agent's to prove.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LineIndex, located } from "../../src/scenario/diagnostics.js";
import { validateSource } from "../../src/scenario/load.js";
import { formatPlan, planOffline } from "../../src/plan/index.js";
import { newJournal, recordEvent } from "../../src/report/journal.js";
import { renderHtml } from "../../src/report/html.js";
import { renderJUnit, renderMarkdown, renderTable } from "../../src/report/views.js";
import { cli } from "./compare-io.js";
import { fakeClock, finish, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { resolveTargets } from "../../src/cli/targets.js";
import type { ObjectQuery } from "../../src/kube/types.js";

const HEAD = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: grpc-faults }
target: { pods: [greeter-0], mode: all }
steps:
  - name: greeter fails
    fault:
      grpc:
`;

/** The diagnostics of a scenario whose grpc fault has these lines (each indented under `grpc:`), as [code, line, col, hint]. */
function diagnostics(grpc: string, tail = "    duration: 10s\n", head = HEAD): [string, number, number, string | null][] {
  const text = `${head}${grpc.replace(/^/gm, "        ")}\n${tail}`;
  const r = validateSource("inline.yaml", text);
  const index = new LineIndex(text);
  return r.diagnostics.map((d) => located(d, index)).map((d) => [d.code, d.line, d.col, d.hint]);
}

describe("fault: grpc in a scenario", () => {
  it("takes the status by name in any case, or by number; defaults to UNAVAILABLE with an error rate", () => {
    const status = (s: string) => {
      const sc = scenarioOf(`${HEAD}        port: 50051\n        errorRate: "10%"\n${s}    duration: 10s\n`);
      const step = sc.steps[0];
      return step?.kind === "fault" && step.fault.kind === "grpc" ? step.fault.grpc.status : "not a grpc fault";
    };
    expect(status("        status: deadline_exceeded\n")).toBe(4);
    expect(status("        status: Unavailable\n")).toBe(14);
    expect(status("        status: 16\n")).toBe(16);
    expect(status("")).toBe(14);
  });

  it("OK is refused where it is written, with why; a misspelt name gets the closest", () => {
    const ok = diagnostics(`port: 50051\nerrorRate: "10%"\nstatus: ok`);
    expect(ok).toEqual([["bad-enum", 11, 17, expect.stringContaining("OK is not a fault")]]);
    const typo = diagnostics(`port: 50051\nerrorRate: "10%"\nstatus: UNAVAILBLE`);
    expect(typo).toEqual([["bad-enum", 11, 17, expect.stringContaining("did you mean `UNAVAILABLE`?")]]);
    expect(diagnostics(`port: 50051\nerrorRate: "10%"\nstatus: 17`)).toEqual([["out-of-range", 11, 17, expect.stringContaining("OK is not a fault")]]);
    expect(diagnostics(`port: 50051\nerrorRate: "10%"\nstatus: 0`)).toEqual([["out-of-range", 11, 17, expect.stringContaining("OK is not a fault")]]);
  });

  it("refuses what the agent would refuse, each at its place", () => {
    // no effect at all: at the grpc key
    expect(diagnostics("port: 50051\nexclude: [helloworld.Greeter]").map(([c, l, col]) => [c, l, col])).toEqual([["missing-key", 8, 7]]);
    // a status or message without the error rate they shape; a jitter without a delay
    expect(diagnostics(`port: 50051\ndelay: 10ms\nstatus: INTERNAL\nmessage: "x"`).map(([c, l]) => [c, l])).toEqual([
      ["needs-key", 11],
      ["needs-key", 12],
    ]);
    expect(diagnostics(`port: 50051\nerrorRate: "1%"\njitter: 2ms`).map(([c, l]) => [c, l])).toEqual([["needs-key", 11]]);
    // an exclusion as a path (leading slash), a delay without a unit
    expect(diagnostics(`port: 50051\ndelay: 100\nexclude: [/helloworld.Greeter/SayHello]`).map(([c, l, col]) => [c, l, col])).toEqual([
      ["bad-duration", 10, 16],
      ["bad-value", 11, 19],
    ]);
    // a port by name without target.service
    expect(diagnostics(`port: grpc\ndelay: 10ms`).map(([c, l, col]) => [c, l, col])).toEqual([["needs-key", 9, 15]]);
    // grpc and http in one fault
    expect(diagnostics("port: 50051\ndelay: 10ms", "      http: { port: 80, delay: 10ms }\n    duration: 10s\n").map(([c]) => c)).toEqual(["conflicting-keys"]);
  });

  it("a port by name with target.service is left to the target's resolution", () => {
    const sc = scenarioOf(`${HEAD.replace("pods: [greeter-0]", "service: greeter")}        port: grpc\n        delay: 10ms\n    duration: 10s\n`);
    expect(sc.steps[0]).toMatchObject({ servicePort: "grpc", fault: { kind: "grpc", grpc: { port: 0 } } });
  });

  it("a port by the Service's name is mapped to the pods' targetPort at run time, and the plan says so until then", async () => {
    const cluster = new RecordingCluster([pod("greeter-a", { labels: { app: "greeter" } })]);
    cluster.objects = (q: ObjectQuery) =>
      q.kind === "Service"
        ? [{ spec: { selector: { app: "greeter" }, ports: [{ name: "grpc", port: 9000, targetPort: "grpc" }] } }]
        : [{ metadata: { name: "greeter-a" }, spec: { containers: [{ name: "greeter", ports: [{ name: "grpc", containerPort: 50051 }] }] } }];
    const sc = scenarioOf(`${HEAD.replace("pods: [greeter-0]", "service: greeter")}        port: grpc\n        delay: 10ms\n    duration: 10s\n`);
    const r = await resolveTargets(cluster, sc, "default", () => undefined);
    expect(r.scenario.steps[0]).toMatchObject({ servicePort: undefined, fault: { kind: "grpc", grpc: { port: 50051 } } });
    expect(r.scenario.target.resolved?.lines[1]).toBe("port grpc (9000) → targetPort grpc → 50051");
    expect(formatPlan(planOffline(sc), "t.yaml")).toContain("grpc on port grpc (the Service's, mapped to the pods' targetPort at run time): delay 10ms;");
  });

  it("expects only what the proxy counts", () => {
    const bad = diagnostics("port: 50051\ndelay: 10ms", "    duration: 10s\n    expect:\n      requests: 0\n");
    expect(bad).toEqual([["fault-metric", 13, 7, expect.stringContaining("grpc metrics: calls, faulted, errors, errors.rate, delayed, relayed, excluded, streamsReset, passedThrough")]]);
  });
});

/** UPDATE_GOLDEN=1 rewrites it. */
function checkGolden(name: string, actual: string): void {
  const path = join("test/fixtures/plan", name);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("a grpc fault in the plan", () => {
  const file = "test/fixtures/valid/everything-grpc.yaml";
  const planOf = (edit: (t: string) => string = (t) => t) => {
    const r = validateSource(file, edit(readFileSync(file, "utf8")));
    if (r.scenario === undefined) throw new Error(JSON.stringify(r.diagnostics));
    return planOffline(r.scenario);
  };

  it("says in words what will be done, and sends the agent every parameter, the status by number (golden)", () => {
    checkGolden("everything-grpc.txt", formatPlan(planOf(), file));
  });

  it("by default: UNAVAILABLE, the health service left alone and why; the agent is sent neither (its defaults)", () => {
    const plan = planOf((t) => t.replace(/ {8}(status|message|faultHealth|exclude|delay|jitter): .*\n/g, ""));
    const step = plan.steps[0];
    if (step?.kind !== "fault" || step.fault.delivery !== "agent") throw new Error("no fault step the pod's agent holds");
    expect(step.fault.summary).toBe("grpc on port 50051: status 14 UNAVAILABLE to 20% of calls; grpc.health.v1.Health excluded");
    expect(step.fault.apply.fault.spec).toEqual({ kind: "grpc", interface: "eth0", grpc: { port: 50051, errorRate: 20, status: 14 } });
    expect(step.fault.notes).toContainEqual(
      expect.stringMatching(/^grpc\.health\.v1\.Health passes untouched \(faultHealth: true faults it too\): the kubelet's gRPC liveness and readiness probes call it/),
    );
    expect(step.fault.notes).toContainEqual(expect.stringContaining("not reached: gRPC over TLS on the port"));
    expect(step.fault.ends).toBe("kernel");
    expect(plan.agent.capabilities).toEqual(["NET_ADMIN", "NET_RAW"]);
  });
});

describe("chaos-run grpc", () => {
  it("says how to use it", async () => {
    const help = await cli(["grpc", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chaos-run grpc -p POD --port PORT \[--error-rate PERCENT\] \[--delay MS\] -r DURATION_S/);
    expect(help.stdout).toContain("The health service (grpc.health.v1.Health) passes\nuntouched unless --fault-health");
    expect((await cli(["--help"])).stdout).toContain("  grpc       delay or fail gRPC calls to a pod's port for a while");
  });

  it("refuses what the agent would refuse, before touching a cluster (exit 2)", async () => {
    for (const [args, message] of [
      [["-p", "g", "-r", "30", "--delay", "100"], "grpc needs the port the pod serves gRPC on: --port PORT"],
      [["-p", "g", "--port", "50051", "-r", "30"], "grpc needs a delay (--delay MS) or an error rate (--error-rate PERCENT)"],
      [["-p", "g", "--port", "50051", "--error-rate", "10"], "grpc needs a duration: -r SECONDS"],
      [["-p", "g", "--port", "50051", "--error-rate", "10", "--status", "OK", "-r", "30"], "--status takes a gRPC status by name or number 1-16, OK is not a fault"],
      [["-p", "g", "--port", "50051", "--error-rate", "10", "--status", "0", "-r", "30"], "OK is not a fault"],
      [["-p", "g", "--port", "50051", "--error-rate", "10", "--status", "17", "-r", "30"], '--status takes a gRPC status by name or number 1-16, not "17"'],
      [["-p", "g", "--port", "50051", "--error-rate", "10", "--status", "BUSY", "-r", "30"], 'not "BUSY"'],
      [["-p", "g", "--port", "50051", "--delay", "10", "--status", "INTERNAL", "-r", "30"], "--status needs --error-rate"],
      [["-p", "g", "--port", "50051", "--delay", "10", "--message", "x", "-r", "30"], "--message needs --error-rate"],
      [["-p", "g", "--port", "50051", "--error-rate", "10", "--jitter", "5", "-r", "30"], "--jitter needs --delay"],
      [["-p", "g", "--port", "50051", "--delay", "10", "--exclude", "/helloworld.Greeter", "-r", "30"], "--exclude takes a service (package.Service) or a method (package.Service/Method)"],
      [["--port", "50051", "--delay", "10", "-r", "30"], "grpc needs a pod: -p POD"],
      [["-p", "g", "--service", "greeter", "--port", "50051", "--delay", "10", "-r", "30"], "grpc takes one target: -p and --service cannot be used together"],
    ] as const) {
      const r = await cli(["grpc", ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
    }
  });

  it("the flags become the scenario it runs: the target, the fault's parameters (status by name or number), the duration", async () => {
    const { GRPC_FLAGS, grpcParams } = await import("../../src/cli/grpc.js");
    const { proxyFaultShortcut } = await import("../../src/cli/proxy-fault.js");
    const { readVerbArgs } = await import("../../src/cli/verb.js");
    const shortcut = (...args: string[]) => {
      const read = readVerbArgs({ name: "grpc", help: "", flags: GRPC_FLAGS, positionals: "none" }, args);
      if (read === "help") throw new Error("help");
      return proxyFaultShortcut("grpc", read.values, (iface) => ({ kind: "grpc", grpc: grpcParams(read.values), interface: iface }), "shop");
    };
    const s = shortcut(
      "--service",
      "greeter",
      "--port",
      "50051",
      "--error-rate",
      "20%",
      "--status",
      "resource_exhausted",
      "--message",
      "slow down",
      "--exclude",
      "grpc.reflection.v1.ServerReflection",
      "--exclude",
      "helloworld.Greeter/SayHelloAgain",
      "--exclude",
      "grpc.reflection.v1.ServerReflection",
      "-r",
      "30",
    );
    expect(s.scenario.target).toMatchObject({ namespace: "shop", selection: { kind: "service", name: "greeter" } });
    expect(s.scenario.steps).toEqual([
      expect.objectContaining({
        kind: "fault",
        durationMs: 30_000,
        fault: {
          kind: "grpc",
          interface: undefined,
          grpc: {
            port: 50051,
            delayMs: undefined,
            jitterMs: undefined,
            errorRate: 20,
            status: 8,
            message: "slow down",
            exclude: ["grpc.reflection.v1.ServerReflection", "helloworld.Greeter/SayHelloAgain"],
            faultHealth: false,
          },
        },
      }),
    ]);
    expect(s.done).toBe("grpc fault on port 50051 of service greeter applied for 30s and removed.\n");
    const defaults = shortcut("-p", "g", "--port", "9000", "--error-rate", "5", "--delay", "1.5s", "--jitter", "20ms", "--fault-health", "-i", "eth1", "--detach", "-r", "1m");
    expect(defaults.scenario.steps[0]).toMatchObject({ fault: { interface: "eth1", grpc: { status: 14, delayMs: 1500, jitterMs: 20, faultHealth: true } } });
    expect(defaults.scenario.agent.leaseMs).toBe(60_000);
    expect(shortcut("-l", "app=greeter", "--port", "9000", "--error-rate", "5", "--status", "3", "-r", "10").scenario.steps[0]).toMatchObject({ fault: { grpc: { status: 3 } } });
    expect(shortcut("--workload", "deploy/greeter", "--port", "9000", "--delay", "5", "-r", "10").scenario.target.selection).toEqual({ kind: "workload", workload: "deployment", name: "greeter" });
  });
});

describe("what the proxy did, as the agent counted it at the revert", () => {
  beforeEach(fakeClock);
  afterEach(() => vi.useRealTimers());

  const FAULT = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-grpc }
target: { namespace: default, selector: { run: greeter }, mode: all }
agent: { lease: 3s }
steps:
  - name: greeter fails
    fault: { grpc: { port: 50051, errorRate: "20%", status: unavailable, exclude: [helloworld.Greeter/SayHelloAgain] } }
    duration: 10s
`;
  const withExpect = (e: string): string => `${FAULT}    expect:\n      ${e}\n`;
  const counts = { connections: { h2c: 2, http1: 0, passedThrough: 0 }, calls: 1000, faulted: 900, errors: 180, delayed: 0, relayed: 820, streamsReset: 1, excluded: 100 };

  it("the apply carries the status by number; observed per pod, judged by expect:, and in every report", async () => {
    const cluster = new RecordingCluster([pod("greeter-a")]);
    cluster.grpcCounts = counts;
    const run = start(cluster, scenarioOf(withExpect('errors.rate: { within: ["15%", "25%"] }')));
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 0, status: "passed" });
    const [apply] = cluster.requests((r) => r.op === "apply");
    expect(apply?.request).toMatchObject({ fault: { spec: { kind: "grpc", grpc: { port: 50051, errorRate: 20, status: 14, exclude: ["helloworld.Greeter/SayHelloAgain"] } } } });
    const observed = run.events.find((e) => e.type === "fault:observed");
    expect(observed).toMatchObject({ kind: "grpc", metrics: { calls: 1000, faulted: 900, errors: 180, "errors.rate": 0.2, relayed: 820, excluded: 100, streamsReset: 1, passedThrough: 0 } });
    const detail =
      "the proxy read 1000 gRPC calls on 2 h2c connections: 900 faulted (0 delayed, 180 answered with status 14 UNAVAILABLE), 100 excluded, 820 relayed to the application; 1 call in flight ended at the revert";
    expect(observed?.type === "fault:observed" ? observed.detail : "").toBe(detail);
    expect(run.events.filter((e) => e.type === "warning")).toEqual([]);
    const j = newJournal({ runId: "r1", version: "test", node: "v20", platform: "linux", file: "x.yaml", sha256: "", startedAt: run.t0 });
    for (const e of run.events) recordEvent(j, e, () => ({}));
    expect(j.faults[0]?.observed).toMatchObject({ kind: "grpc", detail, metrics: { "errors.rate": 0.2 } });
    expect(renderTable(j, { color: false })).toContain("the proxy read 1000 gRPC calls on 2 h2c connections");
    expect(renderMarkdown(j)).toContain("180 answered with status 14 UNAVAILABLE");
    expect(renderHtml(j)).toContain("180 answered with status 14 UNAVAILABLE");
    expect(renderJUnit([j])).toContain('<testcase classname="engine-grpc" name="1. greeter fails: errors.rate within [15%, 25%] [greeter-a]"></testcase>');
  });

  it("a port whose connections were not h2c (gRPC over TLS): a warning that the fault faulted nothing, and `faulted` says so", async () => {
    const cluster = new RecordingCluster([pod("greeter-a")]);
    cluster.grpcCounts = { ...counts, connections: { h2c: 0, http1: 0, passedThrough: 3 }, calls: 0, faulted: 0, errors: 0, relayed: 0, streamsReset: 0, excluded: 0 };
    const run = start(cluster, scenarioOf(withExpect("faulted: { atLeast: 1 }")));
    expect(await finish(run)).toMatchObject({ exitCode: 1, status: "failed" });
    expect(run.events).toContainEqual(
      expect.objectContaining({
        type: "warning",
        message: "the grpc fault on port 50051 of pod default/greeter-a faulted nothing: its 3 connections were not h2c (gRPC over TLS, or HTTP/1.x) and went through untouched",
      }),
    );
  });
});
