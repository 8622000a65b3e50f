// Whole argv arrays, never joined strings: quoting bugs cannot hide.
import { describe, expect, it } from "vitest";
import { agentApplyArgv, agentRenewArgv, agentRevertArgv, agentServeArgs, buildFault, leaseSeconds } from "../../src/faults/index.js";
import type { NetemFault, NetemParams, PartitionFault, Scope } from "../../src/faults/index.js";

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
const ids = { id: "s2", handle: 0xc002 };
const netem = (p: Partial<NetemParams>, scope?: Scope, iface?: string): NetemFault => ({ kind: "netem", netem: { ...NONE, ...p }, scope, interface: iface });
const scope = (s: Partial<Scope>): Scope => ({ cidr: undefined, port: undefined, protocol: undefined, ...s });
const v4 = { family: 4 as const, text: "10.0.0.0/8" };
const v6 = { family: 6 as const, text: "fd00::/64" };
const ROOT = ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c002:"];
const PRIO = [...ROOT, "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"];
const CHILD = ["tc", "qdisc", "add", "dev", "eth0", "parent", "c002:4", "handle", "c003:", "netem"];
const FILTER = (family: "ip" | "ipv6", prio: number) => ["tc", "filter", "add", "dev", "eth0", "parent", "c002:", "protocol", family, "prio", String(prio), "u32"];
const REVERT_TC = [["tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c002:"]];

describe("netem without scope", () => {
  const cases: [string, Partial<NetemParams>, string[]][] = [
    ["delay", { delayMs: 100 }, ["delay", "100ms"]],
    ["sub-millisecond delay", { delayMs: 0.5 }, ["delay", "500us"]],
    ["jitter", { delayMs: 100, jitterMs: 5 }, ["delay", "100ms", "5ms"]],
    ["correlation", { delayMs: 100, jitterMs: 5, correlation: 25 }, ["delay", "100ms", "5ms", "25%"]],
    ["distribution", { delayMs: 100, jitterMs: 5, distribution: "pareto" }, ["delay", "100ms", "5ms", "distribution", "pareto"]],
    ["loss", { loss: 5 }, ["loss", "5%"]],
    ["duplicate", { duplicate: 1 }, ["duplicate", "1%"]],
    ["corrupt", { corrupt: 0.1 }, ["corrupt", "0.1%"]],
    ["reorder", { delayMs: 10, reorder: 25 }, ["delay", "10ms", "reorder", "25%"]],
    ["rate", { rate: { bitsPerSecond: 1e6, text: "1mbit" } }, ["rate", "1mbit"]],
  ];
  for (const [name, params, options] of cases) {
    it(name, () => {
      expect(buildFault(netem(params), "eth0", ids)).toEqual({ apply: [[...ROOT, "netem", ...options]], revert: REVERT_TC });
    });
  }

  it("all parameters, in tc's order", () => {
    const all = netem({ delayMs: 100, jitterMs: 5, correlation: 25, distribution: "normal", loss: 5, duplicate: 1, corrupt: 0.1, reorder: 25, rate: { bitsPerSecond: 1e6, text: "1mbit" } });
    expect(buildFault(all, "eth0", ids).apply).toEqual([
      [...ROOT, "netem", "delay", "100ms", "5ms", "25%", "distribution", "normal", "loss", "5%", "duplicate", "1%", "corrupt", "0.1%", "reorder", "25%", "rate", "1mbit"],
    ]);
  });

  it("refuses an empty netem and bad ids", () => {
    expect(() => buildFault(netem({}), "eth0", ids)).toThrow(RangeError);
    expect(() => buildFault(netem({ loss: 1 }), "eth0", { id: "Bad Id", handle: 1 })).toThrow(RangeError);
    expect(() => buildFault(netem({ loss: 1 }), "eth0", { id: "ok", handle: 0xffff })).toThrow(RangeError);
  });

  it("keeps the $IFACE token as one argument", () => {
    expect(buildFault(netem({ loss: 1 }), "$IFACE", ids)).toEqual({
      apply: [["tc", "qdisc", "add", "dev", "$IFACE", "root", "handle", "c002:", "netem", "loss", "1%"]],
      revert: [["tc", "qdisc", "del", "dev", "$IFACE", "root", "handle", "c002:"]],
    });
  });
});

describe("netem scoped by cidr, port and protocol", () => {
  const d = { delayMs: 100 };
  const NETEM = [...CHILD, "delay", "100ms"];
  it("IPv4 cidr", () => {
    expect(buildFault(netem(d, scope({ cidr: v4 })), "eth0", ids)).toEqual({
      apply: [PRIO, NETEM, [...FILTER("ip", 1), "match", "ip", "dst", "10.0.0.0/8", "flowid", "c002:4"]],
      revert: REVERT_TC,
    });
  });
  it("IPv6 cidr", () => {
    expect(buildFault(netem(d, scope({ cidr: v6 })), "eth0", ids).apply).toEqual([
      PRIO,
      NETEM,
      [...FILTER("ipv6", 1), "match", "ip6", "dst", "fd00::/64", "flowid", "c002:4"],
    ]);
  });
  it("port without cidr: both families, source and destination port", () => {
    expect(buildFault(netem(d, scope({ port: 80 })), "eth0", ids).apply).toEqual([
      PRIO,
      NETEM,
      [...FILTER("ip", 1), "match", "ip", "sport", "80", "0xffff", "flowid", "c002:4"],
      [...FILTER("ip", 2), "match", "ip", "dport", "80", "0xffff", "flowid", "c002:4"],
      [...FILTER("ipv6", 3), "match", "ip6", "sport", "80", "0xffff", "flowid", "c002:4"],
      [...FILTER("ipv6", 4), "match", "ip6", "dport", "80", "0xffff", "flowid", "c002:4"],
    ]);
  });
  it("cidr and port", () => {
    expect(buildFault(netem(d, scope({ cidr: v4, port: 5432 })), "eth0", ids).apply).toEqual([
      PRIO,
      NETEM,
      [...FILTER("ip", 1), "match", "ip", "dst", "10.0.0.0/8", "match", "ip", "sport", "5432", "0xffff", "flowid", "c002:4"],
      [...FILTER("ip", 2), "match", "ip", "dst", "10.0.0.0/8", "match", "ip", "dport", "5432", "0xffff", "flowid", "c002:4"],
    ]);
  });
  it("IPv6 cidr, port and protocol", () => {
    expect(buildFault(netem(d, scope({ cidr: v6, port: 53, protocol: "udp" })), "eth0", ids).apply).toEqual([
      PRIO,
      NETEM,
      [...FILTER("ipv6", 1), "match", "ip6", "dst", "fd00::/64", "match", "ip6", "protocol", "17", "0xff", "match", "ip6", "sport", "53", "0xffff", "flowid", "c002:4"],
      [...FILTER("ipv6", 2), "match", "ip6", "dst", "fd00::/64", "match", "ip6", "protocol", "17", "0xff", "match", "ip6", "dport", "53", "0xffff", "flowid", "c002:4"],
    ]);
  });
  it("protocol alone", () => {
    expect(buildFault(netem(d, scope({ protocol: "tcp" })), "eth0", ids).apply).toEqual([
      PRIO,
      NETEM,
      [...FILTER("ip", 1), "match", "ip", "protocol", "6", "0xff", "flowid", "c002:4"],
      [...FILTER("ipv6", 2), "match", "ip6", "protocol", "6", "0xff", "flowid", "c002:4"],
    ]);
  });
  it("reverts by deleting the root qdisc", () => {
    expect(buildFault(netem(d, scope({ port: 80 })), "eth0", ids).revert).toEqual(REVERT_TC);
  });
});

describe("partition", () => {
  const partition = (s?: Scope): PartitionFault => ({ kind: "partition", scope: s, interface: undefined });
  const chain = "CHAOS-s2";
  const jumps = (tool: string) => [
    [tool, "-w", "-I", "OUTPUT", "1", "-j", chain],
    [tool, "-w", "-I", "INPUT", "1", "-j", chain],
  ];
  const revert = (tool: string) => [
    [tool, "-w", "-D", "OUTPUT", "-j", chain],
    [tool, "-w", "-D", "INPUT", "-j", chain],
    [tool, "-w", "-F", chain],
    [tool, "-w", "-X", chain],
  ];
  it("everything, both families", () => {
    expect(buildFault(partition(), "eth0", ids)).toEqual({
      apply: [
        ["iptables", "-w", "-N", chain],
        ["iptables", "-w", "-A", chain, "-o", "eth0", "-j", "DROP"],
        ["iptables", "-w", "-A", chain, "-i", "eth0", "-j", "DROP"],
        ...jumps("iptables"),
        ["ip6tables", "-w", "-N", chain],
        ["ip6tables", "-w", "-A", chain, "-o", "eth0", "-j", "DROP"],
        ["ip6tables", "-w", "-A", chain, "-i", "eth0", "-j", "DROP"],
        ...jumps("ip6tables"),
      ],
      revert: [...revert("ip6tables"), ...revert("iptables")],
    });
  });
  it("an IPv4 cidr: iptables only, -d out and -s in", () => {
    expect(buildFault(partition(scope({ cidr: v4 })), "eth0", ids)).toEqual({
      apply: [
        ["iptables", "-w", "-N", chain],
        ["iptables", "-w", "-A", chain, "-o", "eth0", "-d", "10.0.0.0/8", "-j", "DROP"],
        ["iptables", "-w", "-A", chain, "-i", "eth0", "-s", "10.0.0.0/8", "-j", "DROP"],
        ...jumps("iptables"),
      ],
      revert: revert("iptables"),
    });
  });
  it("an IPv6 cidr: ip6tables only", () => {
    expect(buildFault(partition(scope({ cidr: v6 })), "eth0", ids)).toEqual({
      apply: [
        ["ip6tables", "-w", "-N", chain],
        ["ip6tables", "-w", "-A", chain, "-o", "eth0", "-d", "fd00::/64", "-j", "DROP"],
        ["ip6tables", "-w", "-A", chain, "-i", "eth0", "-s", "fd00::/64", "-j", "DROP"],
        ...jumps("ip6tables"),
      ],
      revert: revert("ip6tables"),
    });
  });
  it("a port: tcp and udp, source or destination (multiport --ports), both families", () => {
    const r = buildFault(partition(scope({ port: 5432 })), "eth0", ids);
    const rules = (tool: string) => [
      [tool, "-w", "-N", chain],
      [tool, "-w", "-A", chain, "-o", "eth0", "-p", "tcp", "-m", "multiport", "--ports", "5432", "-j", "DROP"],
      [tool, "-w", "-A", chain, "-o", "eth0", "-p", "udp", "-m", "multiport", "--ports", "5432", "-j", "DROP"],
      [tool, "-w", "-A", chain, "-i", "eth0", "-p", "tcp", "-m", "multiport", "--ports", "5432", "-j", "DROP"],
      [tool, "-w", "-A", chain, "-i", "eth0", "-p", "udp", "-m", "multiport", "--ports", "5432", "-j", "DROP"],
      ...jumps(tool),
    ];
    expect(r.apply).toEqual([...rules("iptables"), ...rules("ip6tables")]);
  });
  it("cidr, port and protocol", () => {
    expect(buildFault(partition(scope({ cidr: v4, port: 5432, protocol: "tcp" })), "$IFACE", ids).apply).toEqual([
      ["iptables", "-w", "-N", chain],
      ["iptables", "-w", "-A", chain, "-o", "$IFACE", "-d", "10.0.0.0/8", "-p", "tcp", "-m", "multiport", "--ports", "5432", "-j", "DROP"],
      ["iptables", "-w", "-A", chain, "-i", "$IFACE", "-s", "10.0.0.0/8", "-p", "tcp", "-m", "multiport", "--ports", "5432", "-j", "DROP"],
      ...jumps("iptables"),
    ]);
  });
  it("keeps chain names within 28 characters", () => {
    const long = buildFault(partition(), "eth0", { id: "run-0123456789abcd-s12", handle: 1 });
    expect(long.apply[0]).toEqual(["iptables", "-w", "-N", "CHAOS-run-0123456789abcd-s12"]);
    expect("CHAOS-run-0123456789abcd-s12".length).toBeLessThanOrEqual(28);
    expect(() => buildFault(partition(), "eth0", { id: "run-0123456789abcde-s12", handle: 1 })).toThrow(RangeError);
  });
});

describe("agent argv", () => {
  it("wraps reverts and applies into one exec, `;` separated", () => {
    const commands = { apply: [["tc", "a"], ["tc", "b", "c"]], revert: [["tc", "x"], ["tc", "y"]] };
    expect(agentApplyArgv("s2", commands, { iface: "$IFACE" })).toEqual([
      "chaos-agent", "apply", "--id", "s2", "--iface", "$IFACE",
      "--revert", "tc", "x", ";",
      "--revert", "tc", "y", ";",
      "--", "tc", "a", ";", "tc", "b", "c",
    ]);
  });
  it("a single apply command has no separator after it", () => {
    expect(agentApplyArgv("f", { apply: [["tc", "a"]], revert: [] }, { iface: "eth0" })).toEqual(["chaos-agent", "apply", "--id", "f", "--iface", "eth0", "--", "tc", "a"]);
  });
  it("rejects `;` inside a command, and empty commands", () => {
    expect(() => agentApplyArgv("f", { apply: [["sh", "-c", "x", ";", "y"]], revert: [] }, { iface: "eth0" })).toThrow(/separator/);
    expect(() => agentApplyArgv("f", { apply: [["tc"]], revert: [["rm", ";"]] }, { iface: "eth0" })).toThrow(/separator/);
    expect(() => agentApplyArgv("f", { apply: [[]], revert: [] }, { iface: "eth0" })).toThrow(RangeError);
    expect(() => agentApplyArgv("f", { apply: [], revert: [] }, { iface: "eth0" })).toThrow(RangeError);
  });
  it("a real fault round trip", () => {
    const c = buildFault(netem({ delayMs: 100 }), "eth0", ids);
    expect(agentApplyArgv("s2", c, { iface: "eth0" })).toEqual([
      "chaos-agent", "apply", "--id", "s2", "--iface", "eth0",
      "--revert", "tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c002:", ";",
      "--", ...ROOT, "netem", "delay", "100ms",
    ]);
    expect(agentRevertArgv("s2")).toEqual(["chaos-agent", "revert", "--id", "s2"]);
  });
});

describe("the agent's lease and serve argv", () => {
  it("puts --lease after --iface, in whole seconds", () => {
    expect(agentApplyArgv("f", { apply: [["tc", "a"]], revert: [] }, { iface: "eth0", leaseSeconds: 15 })).toEqual([
      "chaos-agent", "apply", "--id", "f", "--iface", "eth0", "--lease", "15s", "--", "tc", "a",
    ]);
    expect(() => agentApplyArgv("f", { apply: [["tc", "a"]], revert: [] }, { iface: "eth0", leaseSeconds: 0 })).toThrow(RangeError);
  });
  it("renews given faults, serves with a TTL rounded up to seconds", () => {
    expect(agentRenewArgv(15, ["r1-s1", "r1-s2"])).toEqual(["chaos-agent", "renew", "--lease", "15s", "r1-s1", "r1-s2"]);
    expect(agentServeArgs(600_000)).toEqual(["serve", "--ttl", "600s"]);
    expect(agentServeArgs(1500)).toEqual(["serve", "--ttl", "2s"]);
    expect(leaseSeconds(200)).toBe(1);
  });
});
