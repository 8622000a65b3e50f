// The grpc probe's pure parts: grpc-load's output (read as hostile: it comes from a pod) →
// per-status counts, errorRatio and latency; its command; a probe run through the recording
// cluster; and what validate says of a grpc probe written wrong, each where it was written.
import { describe, expect, it } from "vitest";
import { planRun } from "../../src/plan/plan.js";
import { grpcCommand, grpcDetail, grpcMetrics, maxGrpcOutput, parseGrpcLoad } from "../../src/probes/grpc.js";
import { runProbe } from "../../src/probes/run.js";
import { validateSource } from "../../src/scenario/load.js";
import { fillTemplate } from "../../src/scenario/template.js";
import type { GrpcProbe } from "../../src/scenario/types.js";
import { scenarioOf } from "./engine-harness.js";
import { probeContext } from "./probe-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

// what grpc-load printed in the lab against grpc-greeter (test/lab/images/grpc-greeter)
const SAY_HELLO = '{"version":1,"method":"helloworld.Greeter/SayHello","calls":[[0,4.96],[0,1.007],[0,2.436],[0,0.411],[14,0.691]],"messages":{"14":"connection reset"},"types":"reflection"}\n';
const UNKNOWN_METHOD =
  '{"version":1,"method":"helloworld.Greeter/SayGoodbye","calls":[[12,0.69],[12,0.626],[12,0.279]],"messages":{"12":"unknown method SayGoodbye for service helloworld.Greeter"},"types":"none"}\n';
const HEALTH = '{"version":1,"method":"grpc.health.v1.Health/Check","calls":[[0,5.665,1],[0,0.296,2],[5,0.126,-1]],"messages":{"5":"unknown service"},"types":"health"}\n';

function parsed(stdout: string, requests: number, health = false) {
  const p = parseGrpcLoad(stdout, "", 0, requests, health);
  if (!p.ok) throw new Error(p.error);
  return p;
}

describe("grpc: grpc-load's output", () => {
  it("counts every status by name, errors and their ratio, latency of the calls ended OK", () => {
    const p = parsed(SAY_HELLO, 5);
    const m = grpcMetrics(p.calls, false);
    expect(m).toMatchObject({ calls: 5, errors: 1, errorRatio: 0.2, "status.OK": 4, "status.UNAVAILABLE": 1, "status.UNIMPLEMENTED": 0, serving: undefined });
    expect(Object.keys(m).filter((k) => k.startsWith("status."))).toHaveLength(17);
    expect(m["latency.max"]).toBe(4.96); // not the UNAVAILABLE call's
    expect(m["latency.min"]).toBe(0.411);
    expect(m["latency.p50"]).toBe(1.007);
    expect(m["latency.mean"]).toBeCloseTo((4.96 + 1.007 + 2.436 + 0.411) / 4);
    expect(grpcDetail(p, false)).toBe("5 calls: 4 × OK, 1 × UNAVAILABLE (UNAVAILABLE: connection reset)");
  });

  it("counts an unknown method's UNIMPLEMENTED, and says that empty messages were sent", () => {
    const p = parsed(UNKNOWN_METHOD, 3);
    expect(grpcMetrics(p.calls, false)).toMatchObject({ calls: 3, errors: 3, errorRatio: 1, "status.UNIMPLEMENTED": 3, "status.OK": 0, "latency.p50": undefined });
    expect(grpcDetail(p, false)).toMatch(/^3 calls: 3 × UNIMPLEMENTED \(UNIMPLEMENTED: unknown method SayGoodbye .*\); the server's reflection does not describe the method/);
  });

  it("health: SERVING is a success, NOT_SERVING and an unknown service are errors", () => {
    const p = parsed(HEALTH, 3, true);
    expect(grpcMetrics(p.calls, true)).toMatchObject({ calls: 3, serving: 1, errors: 2, "status.OK": 2, "status.NOT_FOUND": 1 });
    expect(grpcDetail(p, true)).toBe("3 health checks: 1 × SERVING, 1 × NOT_SERVING, 1 × NOT_FOUND (NOT_FOUND: unknown service)");
  });

  it("is an error of the probe only when grpc-load could not make the calls", () => {
    expect(parseGrpcLoad('{"error":"the body is not a helloworld.HelloRequest: unknown field \\"nam\\""}\n', "", 2, 3, false)).toEqual({
      ok: false,
      error: 'grpc-load: the body is not a helloworld.HelloRequest: unknown field "nam"',
    });
    expect(parseGrpcLoad("", "exec: grpc-load: not found", 127, 3, false)).toMatchObject({ ok: false, error: expect.stringMatching(/not in the tools image/) });
  });

  it("refuses what grpc-load never writes: the output is a pod's, hostile", () => {
    const bad = (stdout: string, requests = 2, health = false): string => {
      const p = parseGrpcLoad(stdout, "", 0, requests, health);
      return p.ok ? "accepted" : p.error;
    };
    const doc = (calls: string, messages = "{}", extra = ""): string => `{"version":1,"calls":${calls},"messages":${messages},"types":"reflection"${extra}}`;
    expect(bad("not json")).toMatch(/not JSON/);
    expect(bad("[1,2]")).toMatch(/not a JSON object/);
    expect(bad(doc("[[0,1]]"))).toMatch(/not a list of the 2 calls asked for/); // fewer than asked
    expect(bad(doc("[[0,1],[0,1],[0,1]]"))).toMatch(/2 calls asked for/); // more
    expect(bad(doc("[[17,1],[0,1]]"))).toMatch(/not a gRPC status/);
    expect(bad(doc('[["0",1],[0,1]]'))).toMatch(/not a gRPC status/);
    expect(bad(doc("[[0.5,1],[0,1]]"))).toMatch(/not a gRPC status/);
    expect(bad(doc("[[0,-1],[0,1]]"))).toMatch(/not a duration/);
    expect(bad(doc("[[0,1e300],[0,1]]"))).toMatch(/not a duration/);
    expect(bad(doc("[[0,1,1],[0,1]]"))).toMatch(/a call is \[code, ms\]/);
    expect(bad(doc("[[0,1],[0,1]]"), 2, true)).toMatch(/a call is \[code, ms, serving\]/);
    expect(bad(doc("[[0,1,9],[0,1,1]]"), 2, true)).toMatch(/not a serving status/);
    expect(bad(doc("[[0,1],[0,1]]", '{"OK":"x"}'))).toMatch(/messages holds/);
    expect(bad(doc("[[0,1],[0,1]]", '{"14":7}'))).toMatch(/messages holds/);
    expect(bad(doc("[[0,1],[0,1]]", "[]"))).toMatch(/messages is not a mapping/);
    expect(bad(doc("[[0,1],[0,1]]").replace('"version":1', '"version":2'))).toMatch(/version/);
    expect(bad(doc("[[0,1],[0,1]]").replace('"reflection"', '"magic"'))).toMatch(/types/);
    // bounded before it is parsed: a pod that writes megabytes is not read
    expect(bad(doc("[[0,1],[0,1]]", `{"14":"${"x".repeat(maxGrpcOutput(2))}"}`))).toMatch(/more than 2 calls take/);
    // a message is cut short, and no control character reaches a terminal or a report
    const p = parsed(doc("[[14,1],[0,1]]", `{"14":"\\u001b[31mred\\u0007 ${"y".repeat(500)}"}`), 2);
    const message = p.messages.get(14) ?? "";
    expect([...message].filter((c) => c.charCodeAt(0) < 32)).toEqual([]);
    expect(message.length).toBeLessThanOrEqual(201);
    expect(message).toMatch(/^\[31mred +y+…$/);
  });
});

describe("grpc: grpc-load's command", () => {
  const probe = (over: Partial<GrpcProbe["grpc"]>): GrpcProbe => ({
    kind: "grpc",
    name: "g",
    grpc: { address: "{{ target.ip }}:{{ env.PORT }}", method: "helloworld.Greeter/SayHello", body: '{"name":"x"}', health: undefined, requests: 20, concurrency: 2, timeoutMs: 1500, ...over },
    tools: { image: "chaos-tools" },
  });

  it("calls the method with its body; the address filled in, an environment variable's value never shown", () => {
    const cmd = grpcCommand(probe({}), (t) => fillTemplate(t, { target: { ip: "198.18.0.7", name: "g-1" }, env: { PORT: "50051" } }));
    const head = ["grpc-load", "-n", "20", "-c", "2", "-timeout", "1500ms", "-method", "helloworld.Greeter/SayHello", "-data", '{"name":"x"}', "-addr"];
    expect(cmd.real).toEqual([...head, "198.18.0.7:50051"]);
    expect(cmd.shown).toEqual([...head, "198.18.0.7:{{ env.PORT }}"]);
    expect(cmd.secrets).toEqual([{ name: "PORT", value: "50051" }]);
  });

  it("health: the server's (no service) or a service's", () => {
    expect(grpcCommand(probe({ method: undefined, health: "" })).shown).toEqual(["grpc-load", "-n", "20", "-c", "2", "-timeout", "1500ms", "-health", "-addr", "{{ target.ip }}:{{ env.PORT }}"]);
    expect(grpcCommand(probe({ method: undefined, health: "helloworld.Greeter" })).shown.slice(7, 10)).toEqual(["-health", "-service", "helloworld.Greeter"]);
  });
});

describe("grpc: a probe run", () => {
  /** Runs probe p (as written) of a one-step scenario against the pods; grpc-load prints stdout. */
  function runGrpc(probe: string, pods: readonly [string, string][], stdout: string) {
    const scenario = scenarioOf(`apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: g }
target: { namespace: default, selector: { app: greeter }, mode: all }
probes:
  p: ${probe}
steps:
  - { name: p, probe: p }
`);
    const cluster = new RecordingCluster(pods.map(([name, ip]) => pod(name, { ip })));
    cluster.programs = () => ({ kind: "raw", exitCode: 0, stdout, stderr: "" });
    const step = planRun(
      scenario,
      [...cluster.pods.values()].map((p) => ({ name: p.name, ip: p.ip })),
      { runId: "r1", namespace: "default" },
    ).steps[0];
    if (step?.kind !== "probe") throw new Error("a probe step");
    const execs = () => cluster.calls.filter((c) => c.op === "exec").map((c) => c.argv ?? []);
    return { outcomes: runProbe(step.run, probeContext(cluster, {})), execs };
  }

  it("runs grpc-load in the tools pod once per target pod, and measures what it printed", async () => {
    const probe = `{ grpc: { address: "{{ target.ip }}:50051", method: helloworld.Greeter/SayHello, body: { name: x }, requests: 5 } }`;
    const run = runGrpc(
      probe,
      [
        ["g-a", "198.18.0.10"],
        ["g-b", "198.18.0.11"],
      ],
      SAY_HELLO,
    );
    const outcomes = await run.outcomes;
    expect(run.execs().map((a) => [a[0], a.at(-1)])).toEqual([
      ["grpc-load", "198.18.0.10:50051"],
      ["grpc-load", "198.18.0.11:50051"],
    ]);
    expect(outcomes.map((o) => [o.kind, o.pod, o.metrics["status.OK"], o.metrics["errorRatio"], o.metrics["latency.max"]])).toEqual([
      ["grpc", "g-a", 4, 0.2, 4.96],
      ["grpc", "g-b", 4, 0.2, 4.96],
      ["grpc", undefined, 8, 0.2, 4.96],
    ]);
    expect(outcomes[2]?.metrics["latency.mean"]).toBeCloseTo((4.96 + 1.007 + 2.436 + 0.411) / 4);
  });

  it("what grpc-load never writes is an error of the probe (exit 3), not a measurement", async () => {
    const run = runGrpc(`{ grpc: { address: "greeter:50051", health: true, requests: 3 } }`, [["g-a", "198.18.0.10"]], '{"version":1,"calls":[[0,1,1]],"messages":{},"types":"health"}');
    await expect(run.outcomes).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/probe p could not run .*not a list of the 3 calls asked for/) });
  });
});

describe("grpc: validate", () => {
  const scenario = (probe: string): string => `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: g }
target: { namespace: default, selector: { app: greeter }, mode: all }
probes:
  g:
    grpc:
${probe}
steps:
  - { name: p, probe: g }
`;
  /** code: message @ line:column, for each diagnostic */
  const found = (probe: string): string[] => {
    const text = scenario(probe);
    return validateSource("t.yaml", text).diagnostics.map((d) => {
      const before = text.slice(0, d.start).split("\n");
      return `${d.code}: ${d.message} @ ${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
    });
  };

  it("takes a method with a body, and the health check", () => {
    expect(found(`      address: "{{ target.ip }}:50051"\n      method: helloworld.Greeter/SayHello\n      body: { name: x, nested: { a: 1 } }`)).toEqual([]);
    expect(found(`      address: "[fd00::1]:50051"\n      health: true\n      requests: 3\n      timeout: 60s`)).toEqual([]);
    expect(found(`      address: "{{ env.GREETER }}"\n      health: helloworld.Greeter`)).toEqual([]);
  });

  it("names every status in expectations, underscores and all; a status gRPC has not is no metric", () => {
    const text = (expect: string): string => scenario(`      address: "greeter:50051"\n      health: true`).replace("probe: g }", `probe: g, expect: { ${expect} } }`);
    const codes = (expect: string): string[] => validateSource("t.yaml", text(expect)).diagnostics.map((d) => `${d.code}: ${d.message}`);
    expect(codes("status.NOT_FOUND: 0, status.DEADLINE_EXCEEDED: { below: 1 }, serving: 10, errorRatio: { atMost: 1% }, latency.p99: { below: 100ms }")).toEqual([]);
    expect(codes("status.NOPE: 0")).toEqual(["unknown-metric: grpc probes have no metric `status.NOPE`"]);
  });

  it("says what is wrong and where", () => {
    expect(found(`      address: "{{ target.ip }}"\n      method: helloworld.Greeter/SayHello`)).toEqual(["bad-value: `{{ target.ip }}` is not HOST:PORT (a port from 1 to 65535) @ 8:16"]);
    expect(found(`      address: "greeter:50051"\n      method: SayHello`)).toEqual([expect.stringMatching(/^bad-value: `SayHello` is not a method's full name, package.Service\/Method @ 9:15$/)]);
    expect(found(`      address: "greeter:50051"\n      method: helloworld.Greeter/SayHello\n      health: true`)).toEqual([expect.stringMatching(/^conflicting-keys: .*@ 9:7$/)]);
    expect(found(`      address: "greeter:50051"`)).toEqual([expect.stringMatching(/^missing-key: .*`method` or `health` @ 7:5$/)]);
    expect(found(`      address: "greeter:50051"\n      health: true\n      requests: 2\n      concurrency: 3`)).toEqual(["concurrency-above-requests: concurrency 3 is above requests 2 @ 11:20"]);
    expect(found(`      address: "greeter:50051"\n      health: true\n      timeout: 2m`)).toEqual(["out-of-range: 2m is out of range: must be above 0 and at most 60s @ 10:16"]);
    expect(found(`      address: "{{ target.port }}:1"\n      health: true`)).toEqual([expect.stringMatching(/^unknown-template: unknown template `\{\{ target.port \}\}` @ 8:17$/)]);
    expect(found(`      address: "greeter:50051"\n      health: "not a service"`)).toEqual([expect.stringMatching(/^bad-value: `not a service` is not .* @ 9:15$/)]);
    expect(found(`      address: "greeter:50051"\n      health: false`)).toEqual(["bad-value: `false` is not `true` or a gRPC service's full name @ 9:15"]);
  });
});
