// The dns fault and the dns probe on the runner's side: the scenario's `fault: dns` and
// `probes: … dns:` (located errors), the plan in words, the verb's flags → the scenario it runs,
// the probe's reading of the agent's resolve reply (hostile input: it must answer what was asked,
// and add up), and the engine through the recording cluster: the agent's counts at the revert
// observed, warned about, judged and reported; a steady state's dns probe asking agents added
// before it. What the resolver does to real queries is the lab's (test/cluster/dns.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseReply } from "../../src/faults/reply.js";
import type { DNSReading, ResolveNameResult, ResolveRequest, ResolveResult } from "../../src/faults/protocol.generated.js";
import { formatPlan, planOffline } from "../../src/plan/index.js";
import { dnsMetrics } from "../../src/probes/dns.js";
import { renderHtml } from "../../src/report/html.js";
import { newJournal, recordEvent } from "../../src/report/journal.js";
import { renderJUnit, renderMarkdown, renderTable } from "../../src/report/views.js";
import { LineIndex, located } from "../../src/scenario/diagnostics.js";
import { validateSource } from "../../src/scenario/load.js";
import { cli } from "./compare-io.js";
import { fakeClock, finish, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

const HEAD = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: dns-faults }
target: { pods: [web-0], mode: all }
steps:
  - name: names fail
    fault:
      dns:
`;

/** The diagnostics of a scenario whose dns fault has these lines (each indented under `dns:`), as [code, line, col, message]. */
function diagnostics(dns: string, tail = "    duration: 10s\n", head = HEAD): [string, number, number, string][] {
  const text = `${head}${dns.replace(/^/gm, "        ")}\n${tail}`;
  const r = validateSource("inline.yaml", text);
  const index = new LineIndex(text);
  return r.diagnostics.map((d) => located(d, index)).map((d) => [d.code, d.line, d.col, d.message]);
}

function faultOf(dns: string) {
  const sc = scenarioOf(`${HEAD}${dns.replace(/^/gm, "        ")}\n    duration: 10s\n`);
  const step = sc.steps[0];
  if (step?.kind !== "fault" || step.fault.kind !== "dns") throw new Error("not a dns fault");
  return step.fault.dns;
}

describe("fault: dns in a scenario", () => {
  it("normalises names (case, final dot), the answer, the rate's default of every query", () => {
    expect(faultOf('names: ["DB.Shop.svc.cluster.local.", "*.example.com"]\nanswer: nxdomain')).toEqual({
      names: ["db.shop.svc.cluster.local", "*.example.com"],
      answer: { kind: "nxdomain" },
      delayMs: undefined,
      jitterMs: undefined,
      rate: 100,
    });
    expect(faultOf('names: ["*"]\nanswer: [10.0.0.9, "fd00::9"]\nrate: "25%"\ndelay: 1.5s\njitter: 20ms')).toEqual({
      names: ["*"],
      answer: { kind: "addresses", addresses: ["10.0.0.9", "fd00::9"] },
      delayMs: 1500,
      jitterMs: 20,
      rate: 25,
    });
    expect(faultOf('names: ["api-*.example.com"]\ndelay: 300ms').answer).toBeUndefined();
  });

  it("refuses what the agent would refuse, each at its place", () => {
    // neither an answer nor a delay: at the dns key
    expect(diagnostics('names: ["a.example"]\nrate: "50%"').map(([c, l, col]) => [c, l, col])).toEqual([["missing-key", 8, 7]]);
    // an answer misspelt; an address that is not one; a glob with an empty label
    expect(diagnostics('names: ["a..example"]\nanswer: nxdomian')).toEqual([
      ["bad-value", 9, 17, expect.stringContaining("`a..example` is not a DNS name or glob")],
      ["bad-value", 10, 17, "`nxdomian` is not one of `nxdomain`, `servfail`, `refused`, `timeout`, or a list of IP addresses"],
    ]);
    expect(diagnostics('names: ["a.example"]\nanswer: [10.0.0.1, 300.1.1.1, "10.0.0.0/8"]')).toEqual([
      ["bad-value", 10, 28, "`300.1.1.1` is not an IPv4 or IPv6 address"],
      ["bad-value", 10, 39, "`10.0.0.0/8` is not an IPv4 or IPv6 address"],
    ]);
    // a jitter without a delay; a delay beyond what the resolver holds; a rate beyond 100%
    expect(diagnostics('names: ["a.example"]\nanswer: refused\njitter: 5ms').map(([c, l]) => [c, l])).toEqual([["needs-key", 11]]);
    expect(diagnostics('names: ["a.example"]\ndelay: 61s').map(([c, l, col]) => [c, l, col])).toEqual([["out-of-range", 10, 16]]);
    expect(diagnostics('names: ["a.example"]\nanswer: timeout\nrate: "150%"').map(([c, l]) => [c, l])).toEqual([["bad-percent", 11]]);
    // no names at all, and a name longer than a label may be
    expect(diagnostics("names: []\nanswer: servfail").map(([c, l]) => [c, l])).toEqual([["bad-length", 9]]);
    expect(diagnostics(`names: ["${"a".repeat(64)}.example"]\nanswer: servfail`).map(([c]) => c)).toEqual(["bad-value"]);
  });

  it("has no interface and no scope (it takes every query to port 53), and stands alone", () => {
    const codes = (tail: string) => diagnostics('names: ["a.example"]\nanswer: nxdomain', tail).map(([c, , , m]) => [c, m]);
    expect(codes("      interface: eth0\n    duration: 10s\n")).toEqual([["conflicting-keys", "`interface` cannot be used together with `dns`"]]);
    expect(codes("      to: { port: 53 }\n    duration: 10s\n")).toEqual([["conflicting-keys", "`to` cannot be used together with `dns`"]]);
    expect(codes("      http: { port: 80, delay: 10ms }\n    duration: 10s\n").map(([c]) => c)).toEqual(["conflicting-keys"]);
  });

  it("a fault step's expect: names what the resolver counts", () => {
    const bad = diagnostics('names: ["a.example"]\nanswer: nxdomain', "    duration: 10s\n    expect:\n      requests: 0\n");
    expect(bad).toEqual([["fault-metric", 13, 7, "dns faults measure no requests"]]);
    expect(diagnostics('names: ["a.example"]\nanswer: nxdomain', '    duration: 10s\n    expect:\n      faulted.rate: { within: ["40%", "60%"] }\n')).toEqual([]);
  });
});

const WAIT = "steps:\n  - name: rest\n    wait: 1s\n";

const PROBE_HEAD = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: dns-probe }
target: { pods: [web-0], mode: all }
probes:
  lookups:
    dns:
`;

describe("a dns probe in a scenario", () => {
  const probeDiagnostics = (body: string, rest = WAIT) => {
    const text = `${PROBE_HEAD}${body.replace(/^/gm, "      ")}\n${rest}`;
    const index = new LineIndex(text);
    return validateSource("inline.yaml", text)
      .diagnostics.map((d) => located(d, index))
      .map((d) => [d.code, d.line, d.message]);
  };

  it("takes names as the application's resolver does (search list, final dot), with defaults", () => {
    const sc = scenarioOf(`${PROBE_HEAD}      names: [web, "kubernetes.default.svc.cluster.local."]\n${WAIT}`);
    expect(sc.probes["lookups"]).toEqual({ kind: "dns", name: "lookups", dns: { names: ["web", "kubernetes.default.svc.cluster.local."], count: 10, type: "A", tcp: false, timeoutMs: 2000 } });
  });

  it("refuses globs, other types, timeouts the agent refuses, a tools pod; names its metrics", () => {
    expect(probeDiagnostics('names: ["*.example"]\ntype: MX\ntimeout: 31s\ncount: 0')).toEqual([
      ["bad-value", 8, expect.stringContaining("is not a DNS name (labels")],
      ["bad-enum", 9, "`MX` is not one of `A` or `AAAA`"],
      ["out-of-range", 10, "31s is out of range: must be from 1ms to 30s"],
      ["out-of-range", 11, "0 is out of range: must be ≥ 1"],
    ]);
    const withTools = `${PROBE_HEAD}      names: [web]\n    tools: { image: x }\n${WAIT}`;
    expect(validateSource("inline.yaml", withTools).diagnostics.map((d) => d.code)).toEqual(["conflicting-keys"]);
    const expectations = `steadyState:\n  - probe: lookups\n    expect:\n      rcode.NXDOMAIN: 0\n      rcode.NOTIMP: 0\n      errorRatio: { atMost: 1% }\n      latency.p75: 10ms\n${WAIT}`;
    expect(probeDiagnostics("names: [web]", expectations)).toEqual([["unknown-metric", 15, "dns probes have no metric `latency.p75`"]]);
  });
});

describe("dns in the plan", () => {
  const plan = (yaml: string) => {
    const r = validateSource("inline.yaml", yaml);
    if (r.scenario === undefined) throw new Error(JSON.stringify(r.diagnostics));
    return planOffline(r.scenario);
  };
  const FAULT = `${HEAD}        names: ["db.*", "API.example.com."]\n        answer: nxdomain\n        rate: "50%"\n        delay: 100ms\n        jitter: 20ms\n    duration: 10s\n`;

  it("says in words what the fault does and cannot reach, and sends the agent exactly its parameters", () => {
    const p = plan(FAULT);
    const step = p.steps[0];
    if (step?.kind !== "fault" || step.fault.delivery !== "agent") throw new Error("no fault the pod's agent holds");
    expect(step.fault.summary).toBe("dns for db.*, api.example.com: NXDOMAIN to 50% of their queries, after 100ms ± 20ms; every other query answered by the pod's nameserver untouched");
    expect(step.fault.apply.fault.spec).toEqual({ kind: "dns", dns: { names: ["db.*", "api.example.com"], answer: "nxdomain", delayMs: 100, jitterMs: 20, rate: 50 } });
    expect(step.fault.notes.join("\n")).toMatch(/JVM's networkaddress\.cache\.ttl.*a resolver on the pod's loopback.*dnsPolicy: None is faulted all the same/s);
    expect(step.fault.ends).toBe("kernel");
    // nftables only, and a mark on the resolver's own queries: NET_ADMIN, no raw socket
    expect(p.agent.capabilities).toEqual(["NET_ADMIN"]);
    // every query, and addresses; a delay alone
    const every = plan(
      FAULT.replace('        rate: "50%"\n', "")
        .replace(/answer: nxdomain/, "answer: [10.0.0.9]")
        .replace(/ {8}(delay|jitter): .*\n/g, ""),
    );
    expect(every.steps[0]?.kind === "fault" ? every.steps[0].fault.summary : "").toBe(
      "dns for db.*, api.example.com: the address 10.0.0.9 to each of their queries; every other query answered by the pod's nameserver untouched",
    );
    const slow = plan(FAULT.replace(/ {8}(answer|jitter|rate): .*\n/g, ""));
    expect(slow.steps[0]?.kind === "fault" && slow.steps[0].fault.delivery === "agent" ? slow.steps[0].fault.apply : undefined).toMatchObject({
      fault: { spec: { dns: { names: ["db.*", "api.example.com"], delayMs: 100 } } },
    });
    expect(slow.steps[0]?.kind === "fault" ? slow.steps[0].fault.summary : "").toContain("each of their queries delayed 100ms before the real answer");
  });

  it("a dns probe needs the pods' agents: added even without a fault, and before a steady state that asks them", () => {
    const onlyProbe = plan(`${PROBE_HEAD}      names: [web]\n      count: 5\n      tcp: true\nsteadyState:\n  - probe: lookups\n    expect: { errorRatio: 0 }\nsteps:\n  - name: rest\n    wait: 1s\n`);
    expect(onlyProbe.agent.needed).toBeUndefined();
    const text = formatPlan(onlyProbe, "inline.yaml");
    expect(text).toContain("  added before the steady state is checked: its dns probes resolve through it");
    expect(text).toContain("probe lookups: resolve web 5× each (A over TCP, timeout 2s) from inside the target pod, through its agent, as its application's resolver does  (once per target pod)");
    // without a dns probe, a run of waits holds no agent
    expect(plan(`${PROBE_HEAD}      names: [web]\nsteps:\n  - name: rest\n    wait: 1s\n`.replace(/probes:[\s\S]*?steps/, "steps")).agent.needed).toBe(false);
  });
});

describe("chaos-run dns", () => {
  it("says how to use it, and what it cannot reach", async () => {
    const help = await cli(["dns", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chaos-run dns -p POD --name PATTERN \[--name PATTERN …\] --answer ANSWER -r DURATION_S/);
    expect(help.stdout).toContain("Not reached: answers the application keeps in its own cache (a JVM's address cache)");
    expect((await cli(["--help"])).stdout).toContain("  dns        fail or delay a pod's DNS queries for matching names for a while");
  });

  it("refuses what the agent would refuse, before touching a cluster (exit 2)", async () => {
    for (const [args, message] of [
      [["-p", "w", "--answer", "nxdomain", "-r", "30"], "dns needs the names whose queries are faulted: --name PATTERN"],
      [["-p", "w", "--name", "a.example", "-r", "30"], "dns needs an answer (--answer nxdomain|servfail|refused|timeout|IP[,IP]) or a delay (--delay MS)"],
      [["-p", "w", "--name", "a.example", "--answer", "nxdomain"], "dns needs a duration: -r SECONDS"],
      [["-p", "w", "--name", "a..example", "--answer", "nxdomain", "-r", "30"], "--name takes a DNS name or a glob of one (labels of letters, digits, '-', '_' and *), not \"a..example\""],
      [["-p", "w", "--name", "a.example", "--answer", "nxdomian", "-r", "30"], '--answer takes nxdomain, servfail, refused, timeout, or IP addresses separated by commas, not "nxdomian"'],
      [["-p", "w", "--name", "a.example", "--answer", "10.0.0.1,300.1.1.1", "-r", "30"], 'not "300.1.1.1"'],
      [["-p", "w", "--name", "a.example", "--answer", "10.0.0.1,", "-r", "30"], 'not "10.0.0.1,"'],
      [["-p", "w", "--name", "a.example", "--answer", "refused", "--jitter", "5", "-r", "30"], "--jitter needs --delay"],
      [["-p", "w", "--name", "a.example", "--delay", "61s", "-r", "30"], '-d/--delay takes a number of milliseconds from 0 to 60000 or a duration (100ms, 1.5s), not "61s"'],
      [["-p", "w", "--name", "a.example", "--answer", "timeout", "--rate", "0", "-r", "30"], '--rate takes a number of percent above 0, at most 100 (50 or 50%), not "0"'],
      [["--name", "a.example", "--answer", "timeout", "-r", "30"], "dns needs a pod: -p POD"],
      [["-p", "w", "--service", "web", "--name", "a", "--answer", "timeout", "-r", "30"], "dns takes one target: -p and --service cannot be used together"],
    ] as const) {
      const r = await cli(["dns", ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
    }
  });

  it("the flags become the fault it holds: names each once as the agent matches them, the answer, the rate", async () => {
    const { DNS_FAULT_FLAGS, dnsParams } = await import("../../src/cli/dns.js");
    const { readVerbArgs } = await import("../../src/cli/verb.js");
    const params = (...args: string[]) => {
      const read = readVerbArgs({ name: "dns", help: "", flags: DNS_FAULT_FLAGS, positionals: "none" }, args);
      if (read === "help") throw new Error("help");
      return dnsParams(read.values);
    };
    expect(params("--name", "DB.shop.svc.cluster.local.", "--name", "db.shop.svc.cluster.local", "--name", "*.example.com", "--answer", "SERVFAIL", "--rate", "20%")).toEqual({
      names: ["db.shop.svc.cluster.local", "*.example.com"],
      answer: { kind: "servfail" },
      delayMs: undefined,
      jitterMs: undefined,
      rate: 20,
    });
    expect(params("--name", "*", "--answer", "10.0.0.9, fd00::9,10.0.0.9", "-d", "1.5s", "-j", "20")).toEqual({
      names: ["*"],
      answer: { kind: "addresses", addresses: ["10.0.0.9", "fd00::9"] },
      delayMs: 1500,
      jitterMs: 20,
      rate: 100,
    });
  });
});

/** One name's resolutions as the agent reports them: 10 answered unless told otherwise. */
function named(name: string, over: Partial<ResolveNameResult> = {}): ResolveNameResult {
  return { name, resolutions: 10, answered: 10, empty: 0, rcodes: {}, timeouts: 0, errors: 0, unsent: 0, latencyMs: { min: 0.4, p50: 1, p90: 2, p99: 3, max: 4, mean: 1.2 }, ...over };
}

function result(...names: ResolveNameResult[]): ResolveResult {
  return { resolvConf: "/proc/42/root/etc/resolv.conf", nameservers: ["10.96.0.10"], search: ["shop.svc.cluster.local", "svc.cluster.local"], ndots: 5, names };
}

describe("the dns probe reads the agent's resolutions", () => {
  const asked = { names: ["web", "db.example"], count: 10 };

  it("counts every outcome and rcode; errors are what got no address; percentiles are the worst name's", () => {
    const r = dnsMetrics(
      result(
        named("web", { answered: 6, empty: 1, rcodes: { NXDOMAIN: 2 }, timeouts: 1, latencyMs: { min: 0.5, p50: 1, p90: 5, p99: 9, max: 9, mean: 2 } }),
        named("db.example", { answered: 0, rcodes: { SERVFAIL: 3, RCODE12: 1 }, errors: 1, unsent: 5, resolutions: 5, latencyMs: { min: 0.2, p50: 2, p90: 3, p99: 4, max: 20, mean: 5 } }),
      ),
      asked,
    );
    expect(r).toEqual({
      ok: true,
      detail: expect.stringContaining("web: 6 of 10 answered, 1 empty, 2 NXDOMAIN, 1 timed out, p50 1.0 ms; db.example: 0 of 5 answered, 3 SERVFAIL, 1 RCODE12"),
      metrics: {
        queries: 15,
        answered: 6,
        empty: 1,
        errors: 9,
        errorRatio: 9 / 15,
        timeouts: 1,
        unsent: 5,
        "rcode.NOERROR": 7,
        "rcode.NXDOMAIN": 2,
        "rcode.SERVFAIL": 3,
        "rcode.REFUSED": 0,
        "rcode.RCODE12": 1,
        "latency.min": 0.2,
        // weighted by the resolutions that got an answer: 9 of web's, 4 of db.example's
        "latency.mean": (2 * 9 + 5 * 4) / 13,
        "latency.p50": 2,
        "latency.p90": 5,
        "latency.p99": 9,
        "latency.max": 20,
      },
    });
    expect(r.ok ? r.detail : "").toContain("nameserver 10.96.0.10, search shop.svc.cluster.local svc.cluster.local, ndots 5 (/proc/42/root/etc/resolv.conf)");
  });

  it("the p95 from an agent that says it (the worst name's), checked in order; none from an older agent (the test above)", () => {
    const r = dnsMetrics(
      result(
        named("web", { latencyMs: { min: 0.5, p50: 1, p90: 5, p95: 7, p99: 9, max: 9, mean: 2 } }),
        named("db.example", { latencyMs: { min: 0.2, p50: 2, p90: 3, p95: 3.5, p99: 4, max: 20, mean: 5 } }),
      ),
      asked,
    );
    expect(r.ok ? r.metrics["latency.p95"] : undefined).toBe(7);
    const disordered = dnsMetrics(result(named("web", { latencyMs: { min: 0.5, p50: 1, p90: 5, p95: 10, p99: 9, max: 9, mean: 2 } }), named("db.example")), asked);
    expect(disordered.ok ? "accepted" : disordered.error).toBe("the agent's counts for web do not add up: latencies out of order");
  });

  it("no answer at all: every query an error, no latency", () => {
    const { latencyMs: _, ...silent } = named("web", { answered: 0, timeouts: 10 });
    const r = dnsMetrics(result(silent), { names: ["web"], count: 10 });
    expect(r.ok ? r.metrics : undefined).toMatchObject({ queries: 10, errors: 10, errorRatio: 1, timeouts: 10 });
    expect(r.ok ? Object.keys(r.metrics).filter((k) => k.startsWith("latency")) : ["?"]).toEqual([]);
  });

  it("refuses an answer that is not to what was asked, or that does not add up (hostile input)", () => {
    const wrong = (res: ResolveResult | undefined) => {
      const r = dnsMetrics(res, asked);
      return r.ok ? "accepted" : r.error;
    };
    expect(wrong(undefined)).toBe("the agent's reply has no resolutions");
    expect(wrong(result(named("web")))).toBe("the agent did not answer for db.example");
    expect(wrong(result(named("web"), named("db.example"), named("evil.example")))).toBe('the agent answered for a name not asked: "evil.example"');
    expect(wrong(result(named("web"), named("web")))).toBe("the agent answered twice for web");
    expect(wrong(result(named("web", { resolutions: 11 }), named("db.example")))).toBe("the agent's counts for web do not add up: 11 resolutions and 0 unsent, of 10 asked");
    expect(wrong(result(named("web", { answered: 9 }), named("db.example")))).toBe("the agent's counts for web do not add up: 9 outcomes for 10 resolutions");
    expect(wrong(result(named("web", { answered: 5, rcodes: { NXDOMAIN: 1e30 } }), named("db.example")))).toBe("the agent's counts for web do not add up: a count that is not a whole number");
    expect(wrong(result(named("web", { latencyMs: { min: 5, p50: 1, p90: 2, p99: 3, max: 4, mean: 2 } }), named("db.example")))).toBe(
      "the agent's counts for web do not add up: latencies out of order",
    );
    expect(wrong(result(named("web", { latencyMs: { min: 0, p50: 1, p90: 2, p99: 3, max: Number.POSITIVE_INFINITY, mean: 2 } }), named("db.example")))).toBe(
      "the agent's counts for web do not add up: a latency out of bounds",
    );
  });

  it("the protocol's schema keeps the rest out before it gets there: negative counts, too many rcodes, unknown fields", () => {
    const reply = (resolved: unknown) => JSON.stringify({ protocol: 1, op: "resolve", ok: true, agent: { name: "a", runId: "r1", version: "t", ttlLeftMs: 1 }, commands: [], resolved });
    expect(parseReply(reply(result(named("web"))), { op: "resolve" }).ok).toBe(true);
    expect(parseReply(reply(result(named("web", { answered: -1 }))), { op: "resolve" }).ok).toBe(false);
    const rcodes = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`RCODE${i + 20}`, 0]));
    expect(parseReply(reply(result(named("web", { rcodes }))), { op: "resolve" }).ok).toBe(false);
    expect(parseReply(reply(result(named("web", { rcodes: { "rcode with spaces": 1 } }))), { op: "resolve" }).ok).toBe(false);
    expect(parseReply(reply({ ...result(named("web")), extra: "x".repeat(10) }), { op: "resolve" }).ok).toBe(false);
  });
});

describe("the engine: a dns fault's counts, a dns probe through the pods' agents", () => {
  beforeEach(fakeClock);
  afterEach(() => vi.useRealTimers());

  const FAULT = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-dns }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
steps:
  - name: db gone
    fault: { dns: { names: ["db.*"], answer: nxdomain, rate: "50%" } }
    duration: 10s
`;
  const withExpect = (e: string): string => `${FAULT}    expect:\n      ${e}\n`;
  const counts: DNSReading = {
    queries: 120,
    udp: 100,
    tcp: 20,
    matched: 100,
    faulted: { nxdomain: 48, servfail: 0, refused: 0, timeout: 0, addresses: 0, delayed: 0 },
    forwarded: 72,
    upstreamErrors: 1,
    malformed: 2,
  };

  it("the apply carries the fault; the revert's counts are observed per pod, judged by expect:, and in every report", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.dns = { counts, resolve: undefined };
    const run = start(cluster, scenarioOf(withExpect('faulted.rate: { within: ["40%", "60%"] }')));
    expect(await finish(run)).toMatchObject({ exitCode: 0, status: "passed" });
    const [apply] = cluster.requests((r) => r.op === "apply");
    expect(apply?.request).toMatchObject({ fault: { spec: { kind: "dns", dns: { names: ["db.*"], answer: "nxdomain", rate: 50 } } } });
    const observed = run.events.find((e) => e.type === "fault:observed");
    expect(observed).toMatchObject({ kind: "dns", metrics: { queries: 120, tcp: 20, matched: 100, faulted: 48, "faulted.rate": 0.48, nxdomain: 48, forwarded: 72, upstreamErrors: 1, malformed: 2 } });
    const detail =
      "the resolver read 120 queries (100 UDP, 20 TCP): 100 matched, 48 faulted (48 NXDOMAIN), 72 forwarded to the pod's nameserver; 1 forwarded query the nameserver did not answer; 2 packets that were not a DNS query dropped";
    expect(observed?.type === "fault:observed" ? observed.detail : "").toBe(detail);
    expect(run.events.filter((e) => e.type === "warning")).toEqual([]);
    const j = newJournal({ runId: "r1", version: "test", node: "v20", platform: "linux", file: "x.yaml", sha256: "", startedAt: run.t0 });
    for (const e of run.events) recordEvent(j, e, () => ({}));
    expect(j.faults[0]?.observed).toMatchObject({ kind: "dns", detail, metrics: { "faulted.rate": 0.48 } });
    expect(renderTable(j, { color: false })).toContain("the resolver read 120 queries (100 UDP, 20 TCP)");
    expect(renderMarkdown(j)).toContain("48 faulted (48 NXDOMAIN)");
    expect(renderHtml(j)).toContain("48 faulted (48 NXDOMAIN)");
    const junit = renderJUnit([j]);
    expect(junit).toContain('<testcase classname="engine-dns" name="1. db gone: faulted.rate within [40%, 60%] [web-a]"></testcase>');
    expect(junit).toContain("<system-out>step 1 (db gone) in pod web-a: the resolver read 120 queries (100 UDP, 20 TCP)");
  });

  it("names that matched none of the pod's queries: a warning that says why it may be, and the expectation fails", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.dns = { counts: { ...counts, matched: 0, faulted: { ...counts.faulted, nxdomain: 0 }, forwarded: 120 }, resolve: undefined };
    const run = start(cluster, scenarioOf(withExpect("faulted: { atLeast: 1 }")));
    expect(await finish(run)).toMatchObject({ exitCode: 1, status: "failed" });
    expect(run.events).toContainEqual(
      expect.objectContaining({
        type: "warning",
        message:
          "the dns fault on pod default/web-a matched none of the 120 queries the pod sent: db.* matched no name asked (is it the full name the resolver asks, after its search list: NAME.NAMESPACE.svc.cluster.local?)",
      }),
    );
  });

  const PROBED = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-dns-probe }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
probes:
  lookups: { dns: { names: [db, kubernetes.default], count: 4, tcp: true, timeout: 500ms } }
steadyState:
  - probe: lookups
    expect: { errorRatio: 0 }
steps:
  - name: settle
    wait: 1s
`;

  it("a steady state's dns probe: the agents are added first (with the capabilities of no fault), then asked, per pod, with the target container's id", async () => {
    const web = pod("web-a", {
      containers: [
        { name: "web", image: "nginx", state: "running", reason: undefined, message: undefined, exitCode: undefined, runId: undefined, capabilities: [], containerId: "containerd://abcdef0123456789" },
      ],
    });
    const cluster = new RecordingCluster([web, pod("web-b")]);
    const asked: ResolveRequest[] = [];
    cluster.dns = {
      counts: undefined,
      resolve: (r) => {
        asked.push(r);
        return result(...r.names.map((n) => named(n, { resolutions: r.count, answered: r.count })));
      },
    };
    const run = start(cluster, scenarioOf(PROBED));
    expect(await finish(run)).toMatchObject({ exitCode: 0, status: "passed" });
    const types = run.events.map((e) => e.type);
    expect(types.indexOf("agent:ready")).toBeLessThan(types.indexOf("probe:start"));
    expect(asked[0]).toEqual({ protocol: 1, op: "resolve", runId: "r1", names: ["db", "kubernetes.default"], type: "A", count: 4, timeoutMs: 500, tcp: true, containerId: "abcdef0123456789" });
    expect(asked[1]).not.toHaveProperty("containerId");
    const results = run.events.flatMap((e) => (e.type === "probe:result" ? [e.outcome] : []));
    // per pod, and their aggregate, before the step and after it
    expect(results.map((o) => [o.pod ?? "all", o.metrics["queries"], o.metrics["errorRatio"]])).toEqual([
      ["web-a", 8, 0],
      ["web-b", 8, 0],
      ["all", 16, 0],
      ["web-a", 8, 0],
      ["web-b", 8, 0],
      ["all", 16, 0],
    ]);
  });

  it("an agent that cannot resolve makes the probe unable to measure (exit 3), and says which pod and why", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(PROBED));
    expect(await finish(run)).toMatchObject({ exitCode: 3, status: "error" });
    const end = run.events.find((e) => e.type === "run:end");
    expect(end?.type === "run:end" ? end.message : "").toContain("probe lookups: the agent in pod default/web-a could not resolve: the recording cluster sends no DNS queries");
  });

  it("an answer that does not add up is not measured (exit 3)", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.dns = { counts: undefined, resolve: (r) => result(...r.names.map((n) => named(n))) };
    const run = start(cluster, scenarioOf(PROBED));
    expect(await finish(run)).toMatchObject({ exitCode: 3 });
    const end = run.events.find((e) => e.type === "run:end");
    expect(end?.type === "run:end" ? end.message : "").toContain("the agent's counts for db do not add up: 10 resolutions and 0 unsent, of 4 asked");
  });
});
