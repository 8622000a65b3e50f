// Faults as requests to the agent: whole objects and whole argv arrays, never joined strings, so
// nothing can hide (a field left out, a value in the wrong unit, a quoting bug).
import { describe, expect, it } from "vitest";
import { agentServeArgs, applyRequest, capabilitiesFor, faultSpec, leaseMsOf, parseReply, renewRequest, requestArgv, revertRequest, statusRequest, sweepRequest } from "../../src/faults/index.js";
import type { HttpFault, HttpParams, NetemFault, NetemParams, PartitionFault, Scope } from "../../src/faults/index.js";

const NONE: NetemParams = {
  delayMs: undefined,
  jitterMs: undefined,
  correlation: undefined,
  distribution: undefined,
  loss: undefined,
  duplicate: undefined,
  corrupt: undefined,
  reorder: undefined,
  rate: undefined,
};
const netem = (p: Partial<NetemParams>, scope?: Scope, iface?: string): NetemFault => ({ kind: "netem", netem: { ...NONE, ...p }, scope, interface: iface });
const partition = (s?: Scope, iface?: string): PartitionFault => ({ kind: "partition", scope: s, interface: iface });
const scope = (s: Partial<Scope>): Scope => ({ cidr: undefined, port: undefined, protocol: undefined, ...s });
const http = (p: Partial<HttpParams>, iface?: string): HttpFault => ({
  kind: "http",
  http: { port: 80, delayMs: undefined, jitterMs: undefined, errorRate: undefined, errorCode: undefined, errorBody: undefined, exclude: [], methods: [], ...p },
  interface: iface,
});
const v4 = { family: 4 as const, text: "10.0.0.0/8" };
const v6 = { family: 6 as const, text: "fd00::/64" };

describe("netem → FaultSpec", () => {
  const cases: [string, Partial<NetemParams>, Record<string, unknown>][] = [
    ["delay", { delayMs: 100 }, { delayMs: 100 }],
    ["sub-millisecond delay stays in ms", { delayMs: 0.5 }, { delayMs: 0.5 }],
    ["jitter", { delayMs: 100, jitterMs: 5 }, { delayMs: 100, jitterMs: 5 }],
    ["correlation", { delayMs: 100, jitterMs: 5, correlation: 25 }, { delayMs: 100, jitterMs: 5, correlation: 25 }],
    ["distribution", { delayMs: 100, jitterMs: 5, distribution: "pareto" }, { delayMs: 100, jitterMs: 5, distribution: "pareto" }],
    ["loss", { loss: 5 }, { loss: 5 }],
    ["duplicate", { duplicate: 1 }, { duplicate: 1 }],
    ["corrupt", { corrupt: 0.1 }, { corrupt: 0.1 }],
    ["reorder", { delayMs: 10, reorder: 25 }, { delayMs: 10, reorder: 25 }],
    ["rate: as written", { rate: { bitsPerSecond: 1e6, text: "1mbit" } }, { rate: "1mbit" }],
  ];
  for (const [name, params, spec] of cases) {
    it(name, () => {
      expect(faultSpec(netem(params))).toEqual({ kind: "netem", netem: spec });
    });
  }

  it("every parameter at once, and no key for what is unset", () => {
    const all = netem({ delayMs: 100, jitterMs: 5, correlation: 25, distribution: "normal", loss: 5, duplicate: 1, corrupt: 0.1, reorder: 25, rate: { bitsPerSecond: 1e6, text: "1mbit" } });
    expect(faultSpec(all)).toEqual({
      kind: "netem",
      netem: { delayMs: 100, jitterMs: 5, correlation: 25, distribution: "normal", loss: 5, duplicate: 1, corrupt: 0.1, reorder: 25, rate: "1mbit" },
    });
    expect(Object.keys(faultSpec(netem({ loss: 1 })))).toEqual(["kind", "netem"]);
  });

  it("refuses an empty netem", () => {
    expect(() => faultSpec(netem({}))).toThrow(RangeError);
  });

  it("an interface and a scope, as given", () => {
    expect(faultSpec(netem({ delayMs: 100 }, scope({ cidr: v4 }), "eth1"))).toEqual({ kind: "netem", interface: "eth1", scope: { cidr: "10.0.0.0/8" }, netem: { delayMs: 100 } });
    expect(faultSpec(netem({ delayMs: 100 }, scope({ cidr: v6, port: 53, protocol: "udp" })))).toEqual({
      kind: "netem",
      scope: { cidr: "fd00::/64", port: 53, protocol: "udp" },
      netem: { delayMs: 100 },
    });
    expect(faultSpec(netem({ delayMs: 100 }, scope({ port: 80 })))).toEqual({ kind: "netem", scope: { port: 80 }, netem: { delayMs: 100 } });
    expect(faultSpec(netem({ delayMs: 100 }, scope({ protocol: "tcp" })))).toEqual({ kind: "netem", scope: { protocol: "tcp" }, netem: { delayMs: 100 } });
  });

  it("a scope that selects nothing narrower is left out (the protocol's Scope has at least one key)", () => {
    expect(faultSpec(netem({ delayMs: 100 }, scope({})))).toEqual({ kind: "netem", netem: { delayMs: 100 } });
  });
});

describe("partition → FaultSpec", () => {
  it("everything: no scope, the default interface", () => {
    expect(faultSpec(partition())).toEqual({ kind: "partition" });
  });
  it("an IPv4 or IPv6 CIDR, a port, a protocol: the agent decides the families and the rules", () => {
    expect(faultSpec(partition(scope({ cidr: v4 })))).toEqual({ kind: "partition", scope: { cidr: "10.0.0.0/8" } });
    expect(faultSpec(partition(scope({ cidr: v6 })))).toEqual({ kind: "partition", scope: { cidr: "fd00::/64" } });
    expect(faultSpec(partition(scope({ port: 5432 }), "eth0"))).toEqual({ kind: "partition", interface: "eth0", scope: { port: 5432 } });
    expect(faultSpec(partition(scope({ cidr: v4, port: 5432, protocol: "tcp" })))).toEqual({ kind: "partition", scope: { cidr: "10.0.0.0/8", port: 5432, protocol: "tcp" } });
  });
});

describe("http → FaultSpec", () => {
  it("the port and only what is set", () => {
    expect(faultSpec(http({ delayMs: 100 }))).toEqual({ kind: "http", http: { port: 80, delayMs: 100 } });
    expect(faultSpec(http({ errorRate: 30, errorCode: 503 }))).toEqual({ kind: "http", http: { port: 80, errorRate: 30, errorCode: 503 } });
  });
  it("every parameter, and the interface", () => {
    const all = http({ port: 8080, delayMs: 50, jitterMs: 5, errorRate: 20, errorCode: 503, errorBody: "busy", exclude: ["/healthz", "/static/"], methods: ["GET", "POST"] }, "eth1");
    expect(faultSpec(all)).toEqual({
      kind: "http",
      interface: "eth1",
      http: { port: 8080, delayMs: 50, jitterMs: 5, errorRate: 20, errorCode: 503, errorBody: "busy", exclude: ["/healthz", "/static/"], methods: ["GET", "POST"] },
    });
  });
  it("an empty error body is a body (the agent sends it as it is)", () => {
    expect(faultSpec(http({ errorRate: 5, errorCode: 500, errorBody: "" }))).toEqual({ kind: "http", http: { port: 80, errorRate: 5, errorCode: 500, errorBody: "" } });
  });
  it("needs what network faults need: iptables (NET_ADMIN, NET_RAW), and NET_ADMIN for resetting the connections from before", () => {
    expect(capabilitiesFor(http({ delayMs: 1 }))).toEqual(["NET_ADMIN", "NET_RAW"]);
  });
});

describe("requests", () => {
  it("apply: the fault's id, lease and spec", () => {
    expect(applyRequest("r1a2b3", "r1a2b3-s2", 15_000, netem({ delayMs: 100, jitterMs: 5 }, scope({ port: 80 })))).toEqual({
      protocol: 1,
      op: "apply",
      runId: "r1a2b3",
      fault: { id: "r1a2b3-s2", leaseMs: 15_000, spec: { kind: "netem", scope: { port: 80 }, netem: { delayMs: 100, jitterMs: 5 } } },
    });
  });
  it("revert, renew, status, sweep", () => {
    expect(revertRequest("r1", "r1-s2")).toEqual({ protocol: 1, op: "revert", runId: "r1", faultId: "r1-s2" });
    expect(renewRequest("r1", "r1-s2", 15_000)).toEqual({ protocol: 1, op: "renew", runId: "r1", faultId: "r1-s2", leaseMs: 15_000 });
    expect(statusRequest("r1")).toEqual({ protocol: 1, op: "status", runId: "r1" });
    expect(sweepRequest("r1", true)).toEqual({ protocol: 1, op: "sweep", runId: "r1", own: true });
    expect(sweepRequest("r1", false)).toEqual({ protocol: 1, op: "sweep", runId: "r1", own: false });
  });
  it("leases within the protocol's bounds, in whole milliseconds", () => {
    expect(leaseMsOf(200)).toBe(1000);
    expect(leaseMsOf(1500.2)).toBe(1501);
    expect(leaseMsOf(48 * 3600_000)).toBe(86_400_000);
    expect(renewRequest("r1", "r1-s1", 10).leaseMs).toBe(1000);
  });
  it("refuses ids the agent would refuse (they name kernel objects: CHAOS-<id>)", () => {
    expect(() => revertRequest("Bad Id", "s1")).toThrow(RangeError);
    expect(() => revertRequest("r1", "r1-")).toThrow(RangeError);
    expect(() => revertRequest("r1", "run-0123456789abcde-s12")).toThrow(RangeError);
    expect(revertRequest("r1", "run-0123456789abcd-s12").faultId).toHaveLength(22);
    expect(() => statusRequest("a-run")).toThrow(RangeError);
  });
  it("the exec argv: the program, the verb, the request as one JSON argument", () => {
    expect(requestArgv(revertRequest("r1", "r1-s2"))).toEqual(["chaos-agent", "request", '{"protocol":1,"op":"revert","runId":"r1","faultId":"r1-s2"}']);
    expect(requestArgv(applyRequest("r1", "r1-s1", 3000, partition(scope({ port: 80 }))))).toEqual([
      "chaos-agent",
      "request",
      '{"protocol":1,"op":"apply","runId":"r1","fault":{"id":"r1-s1","leaseMs":3000,"spec":{"kind":"partition","scope":{"port":80}}}}',
    ]);
  });
  it("serves with a TTL rounded up to seconds; netem needs NET_ADMIN, iptables faults also NET_RAW (the legacy backend's raw socket), nothing more", () => {
    expect(agentServeArgs(600_000)).toEqual(["serve", "--ttl", "600s"]);
    expect(agentServeArgs(1500)).toEqual(["serve", "--ttl", "2s"]);
    expect(capabilitiesFor(netem({ delayMs: 1 }))).toEqual(["NET_ADMIN"]);
    expect(capabilitiesFor(partition())).toEqual(["NET_ADMIN", "NET_RAW"]);
  });
});

describe("replies", () => {
  const agent = { name: "chaos-agent-r1", runId: "r1", version: "1.0.0", ttlLeftMs: 590_000 };
  const state = {
    id: "r1-s2",
    runId: "r1",
    kind: "netem",
    interface: "eth0",
    families: [4, 6],
    objects: [{ type: "qdisc", name: "c000:" }],
    leaseLeftMs: 15_000,
    detail: "netem c000: delay 100ms on eth0",
  };
  const applied = {
    protocol: 1,
    op: "apply",
    ok: true,
    agent,
    commands: [{ argv: ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"], exitCode: 0, durationMs: 3.2 }],
    fault: state,
  };

  it("reads a Reply, whatever the exit code", () => {
    expect(parseReply(`${JSON.stringify(applied)}\n`, { op: "apply" })).toEqual({ ok: true, reply: applied });
    const failed = { ...applied, ok: false, error: { code: "no-interface", message: "no default route" }, commands: [] };
    delete (failed as { fault?: unknown }).fault;
    expect(parseReply(JSON.stringify(failed), { op: "apply" })).toEqual({ ok: true, reply: failed });
  });
  it("no reply, another program's output, another shape: a foreign agent", () => {
    expect(parseReply("", { op: "status" })).toEqual({ ok: false, problem: "the agent printed no reply", foreign: true });
    // what the POSIX sh agent of the seed printed for `status`
    expect(parseReply("ttl_left=590\nfault=r1-s2 iface=eth0\n", { op: "status" })).toEqual({
      ok: false,
      problem: 'the agent\'s output is not a JSON reply: "ttl_left=590\\nfault=r1-s2 iface=eth0"',
      foreign: true,
    });
    expect(parseReply(JSON.stringify({ ...applied, protocol: 2 }), { op: "apply" })).toEqual({
      ok: false,
      problem: "the agent's reply does not follow protocol v1: /protocol must be equal to constant",
      foreign: true,
    });
    expect(parseReply(JSON.stringify({ ...applied, lease: 1 }), { op: "apply" })).toEqual({
      ok: false,
      problem: 'the agent\'s reply does not follow protocol v1: the reply has an unknown field "lease"',
      foreign: true,
    });
  });
  it("an answer to another request", () => {
    expect(parseReply(JSON.stringify(applied), { op: "revert" })).toEqual({ ok: false, problem: 'the agent answered op "apply" to a "revert" request', foreign: false });
  });
});
