// An http fault goes through the engine like every other fault: the agent gets its parameters,
// its lease is renewed while it is held, and it is reverted at the step's end, on Ctrl-C and when
// another pod's agent refuses it (a live fault of another run on the same port). What the proxy
// and the redirect do is proven on a real kernel (agent/kerneltest) and in the lab.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { newJournal, recordEvent } from "../../src/report/journal.js";
import { fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const HTTP_FAULT = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-http }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: payment fails
    fault: { http: { port: 8080, errorRate: "20%", errorCode: 503, exclude: [/healthz] } }
    duration: 10s
`;

const ops = (c: RecordingCluster): string[] => c.requests((r) => r.op !== "renew").map((r) => `${r.request.op} ${r.pod}`);

describe("an http fault through the engine", () => {
  it("applied with its parameters, renewed while held, reverted at the step's end", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(HTTP_FAULT));
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 0, status: "passed" });
    const [apply] = cluster.requests((r) => r.op === "apply");
    expect(apply?.request).toEqual({
      protocol: 1,
      op: "apply",
      runId: "r1",
      fault: { id: "r1-s1", leaseMs: 3000, spec: { kind: "http", http: { port: 8080, errorRate: 20, errorCode: 503, exclude: ["/healthz"] } } },
    });
    expect(cluster.requests((r) => r.op === "renew").length).toBeGreaterThanOrEqual(8);
    expect(ops(cluster)).toEqual(["apply web-a", "revert web-a"]);
    expect(run.events).toContainEqual(expect.objectContaining({ type: "fault:reverted", faultId: "r1-s1" }));
  });

  it("Ctrl-C while it is held: reverted, then 130", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(HTTP_FAULT));
    await until(() => run.events.some((e) => e.type === "fault:applied"));
    run.interrupt();
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 130, status: "interrupted" });
    expect(ops(cluster)).toEqual(["apply web-a", "revert web-a"]);
  });

  it("refused on one pod (its port is another run's): the other pod's fault is reverted, exit 3", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.script = (req, where, agent) =>
      req.op === "apply" && where.pod === "web-b"
        ? {
            kind: "reply",
            afterMs: 200,
            reply: {
              ...agent.answer({ protocol: 1, op: "status", runId: "r1" }, Date.now()),
              op: "apply",
              ok: false,
              error: {
                code: "conflict",
                message: "port 8080 is already redirected by fault x1-s1 of run x1 (agent chaos-agent-x1), which is still live",
                owner: { agent: "chaos-agent-x1", runId: "x1", faultId: "x1-s1" },
              },
            },
          }
        : undefined;
    const result = await finish(start(cluster, scenarioOf(HTTP_FAULT)));
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain("port 8080 is already redirected by fault x1-s1 of run x1");
    expect(ops(cluster).sort()).toEqual(["apply web-a", "apply web-b", "revert web-a", "revert web-b"]);
  });
});

describe("whether the kernel ends it by itself, per pod, as its agent said", () => {
  it("reaches the journal's fault entry from the apply reply's fault state (true on a node with nf_tables, false on the iptables fallback)", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.script = (req, where, agent) => {
      if (req.op !== "apply") return undefined;
      const reply = agent.answer(req, Date.now());
      if (reply.fault === undefined) return undefined;
      const nft = where.pod === "web-a";
      return { kind: "reply", reply: { ...reply, fault: { ...reply.fault, expiresInKernel: nft, ...(nft ? { kernelLeaseMs: 4000 } : {}) } } };
    };
    const run = start(cluster, scenarioOf(HTTP_FAULT));
    expect(await finish(run)).toMatchObject({ exitCode: 0 });
    const j = newJournal({ runId: "r1", version: "test", node: "v20", platform: "linux", file: "x.yaml", sha256: "", startedAt: run.t0 });
    for (const e of run.events) recordEvent(j, e, () => ({}));
    expect(j.faults.map((f) => [f.pod, f.expiresInKernel])).toEqual([
      ["web-a", true],
      ["web-b", false],
    ]);
  });
});

describe("what the proxy did, as the agent counted it at the revert", () => {
  const withExpect = (expect: string): string => HTTP_FAULT.replace("    duration: 10s\n", `    duration: 10s\n    expect:\n      ${expect}\n`);

  it("is observed in each pod (requests, faulted, errors, errors.rate, relayed), and a fault step's expect: judges it", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.httpCounts = { connections: 4, relayed: 0, requests: 1000, faulted: 990, errors: 198 };
    const run = start(cluster, scenarioOf(withExpect('errors.rate: { within: ["15%", "25%"] }')));
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 0, status: "passed" });
    const observed = run.events.find((e) => e.type === "fault:observed");
    expect(observed).toMatchObject({ kind: "http", pod: { name: "web-a" }, metrics: { requests: 1000, faulted: 990, errors: 198, "errors.rate": 0.2, relayed: 0 } });
    expect(observed?.type === "fault:observed" ? observed.detail : "").toBe("the proxy read 1000 requests on 4 connections: 990 faulted, 198 answered with the error");
    expect(run.events.filter((e) => e.type === "warning")).toEqual([]);
  });

  it("a port whose traffic was not HTTP/1.x (TLS, HTTP/2): a warning that the fault faulted nothing, and `faulted` says so", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.httpCounts = { connections: 3, relayed: 3, requests: 0, faulted: 0, errors: 0 };
    const run = start(cluster, scenarioOf(withExpect("faulted: { atLeast: 1 }")));
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 1, status: "failed" });
    expect(run.events).toContainEqual(
      expect.objectContaining({
        type: "warning",
        message: "the http fault on port 8080 of pod default/web-a faulted nothing: its 3 connections were not HTTP/1.x (TLS or HTTP/2) and went through untouched",
      }),
    );
  });
});
