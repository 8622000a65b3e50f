// partition as iptables/ip6tables argv: a chain of the fault's own (`CHAOS-<id>`) holding DROP
// rules for both directions, jumped to first from OUTPUT and INPUT. Reverting removes the jumps,
// then flushes and deletes the chain. The builder always writes plain `iptables`/`ip6tables`;
// the agent maps them to the working backend (nft or legacy).
import { chainName, checkIds } from "./ids.js";
import type { FaultCommands, FaultIds, PartitionFault } from "./types.js";

export function buildPartition(fault: PartitionFault, iface: string, ids: FaultIds): FaultCommands {
  checkIds(ids);
  const chain = chainName(ids.id);
  const scope = fault.scope;
  const families: (4 | 6)[] = scope?.cidr !== undefined ? [scope.cidr.family] : [4, 6];
  const protocols: ("tcp" | "udp" | undefined)[] =
    scope?.protocol !== undefined ? [scope.protocol] : scope?.port !== undefined ? ["tcp", "udp"] : [undefined];
  const apply: string[][] = [];
  const revert: string[][] = [];
  for (const family of families) {
    const tool = family === 4 ? "iptables" : "ip6tables";
    apply.push([tool, "-w", "-N", chain]);
    for (const direction of ["out", "in"] as const) {
      for (const protocol of protocols) {
        const rule = [tool, "-w", "-A", chain, direction === "out" ? "-o" : "-i", iface];
        if (scope?.cidr !== undefined) rule.push(direction === "out" ? "-d" : "-s", scope.cidr.text);
        if (protocol !== undefined) rule.push("-p", protocol);
        if (protocol !== undefined && scope?.port !== undefined) rule.push("-m", "multiport", "--ports", String(scope.port));
        rule.push("-j", "DROP");
        apply.push(rule);
      }
    }
    apply.push([tool, "-w", "-I", "OUTPUT", "1", "-j", chain], [tool, "-w", "-I", "INPUT", "1", "-j", chain]);
  }
  // revert in reverse order of families; within one: jumps first, then flush and delete
  for (const family of [...families].reverse()) {
    const tool = family === 4 ? "iptables" : "ip6tables";
    revert.push(
      [tool, "-w", "-D", "OUTPUT", "-j", chain],
      [tool, "-w", "-D", "INPUT", "-j", chain],
      [tool, "-w", "-F", chain],
      [tool, "-w", "-X", chain],
    );
  }
  return { apply, revert };
}
