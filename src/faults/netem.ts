// netem as tc argv. Unscoped: netem is the interface's root qdisc. Scoped (cidr/port/protocol):
// a 4-band prio root whose priomap keeps ordinary traffic in bands 1-3, netem under band 4,
// and u32 filters that send the selected traffic to band 4. Reverting deletes the root; the
// prio tree and its filters go with it. Snapshotting and restoring a root qdisc that existed
// before is the agent's job, not the builder's.
import { checkIds, tcHandle } from "./ids.js";
import type { FaultCommands, FaultIds, NetemFault, NetemParams, Scope } from "./types.js";

/** tc time: whole milliseconds as `100ms`, fractions as microseconds (`1500us`). */
export function tcTime(ms: number): string {
  if (Number.isInteger(ms)) return `${ms}ms`;
  return `${Math.round(ms * 1000)}us`;
}

export function tcPercent(p: number): string {
  return `${p}%`;
}

/** The netem options, only those given, in the order of `tc qdisc show` and tc-netem(8). */
export function netemOptions(p: NetemParams): string[] {
  const out: string[] = [];
  if (p.delayMs !== undefined) {
    out.push("delay", tcTime(p.delayMs));
    if (p.jitterMs !== undefined) {
      out.push(tcTime(p.jitterMs));
      if (p.correlation !== undefined) out.push(tcPercent(p.correlation));
    }
    if (p.distribution !== undefined) out.push("distribution", p.distribution);
  }
  if (p.loss !== undefined) out.push("loss", tcPercent(p.loss));
  if (p.duplicate !== undefined) out.push("duplicate", tcPercent(p.duplicate));
  if (p.corrupt !== undefined) out.push("corrupt", tcPercent(p.corrupt));
  if (p.reorder !== undefined) out.push("reorder", tcPercent(p.reorder));
  if (p.rate !== undefined) out.push("rate", p.rate.text);
  if (out.length === 0) throw new RangeError("netem needs at least one parameter");
  return out;
}

export function isScoped(scope: Scope | undefined): scope is Scope {
  return scope !== undefined && (scope.cidr !== undefined || scope.port !== undefined || scope.protocol !== undefined);
}

const PROTOCOL_NUMBER = { tcp: "6", udp: "17" } as const;

/** One u32 filter per (family, port role) the scope needs, each sending its match to band 4. */
function scopeFilters(iface: string, root: string, scope: Scope): string[][] {
  const families: (4 | 6)[] = scope.cidr !== undefined ? [scope.cidr.family] : [4, 6];
  const roles: ("sport" | "dport" | undefined)[] = scope.port !== undefined ? ["sport", "dport"] : [undefined];
  const filters: string[][] = [];
  let prio = 1;
  for (const family of families) {
    const sel = family === 4 ? "ip" : "ip6";
    for (const role of roles) {
      const argv = ["tc", "filter", "add", "dev", iface, "parent", root, "protocol", family === 4 ? "ip" : "ipv6", "prio", String(prio), "u32"];
      if (scope.cidr !== undefined) argv.push("match", sel, "dst", scope.cidr.text);
      if (scope.protocol !== undefined) argv.push("match", sel, "protocol", PROTOCOL_NUMBER[scope.protocol], "0xff");
      if (role !== undefined && scope.port !== undefined) argv.push("match", sel, role, String(scope.port), "0xffff");
      argv.push("flowid", `${root}4`);
      filters.push(argv);
      prio++;
    }
  }
  return filters;
}

export function buildNetem(fault: NetemFault, iface: string, ids: FaultIds): FaultCommands {
  checkIds(ids);
  const root = tcHandle(ids.handle);
  const options = netemOptions(fault.netem);
  const revert = [["tc", "qdisc", "del", "dev", iface, "root", "handle", root]];
  if (!isScoped(fault.scope)) {
    return { apply: [["tc", "qdisc", "add", "dev", iface, "root", "handle", root, "netem", ...options]], revert };
  }
  const apply: string[][] = [
    ["tc", "qdisc", "add", "dev", iface, "root", "handle", root, "prio", "bands", "4", "priomap", ..."1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1".split(" ")],
    ["tc", "qdisc", "add", "dev", iface, "parent", `${root}4`, "handle", tcHandle(ids.handle + 1), "netem", ...options],
    ...scopeFilters(iface, root, fault.scope),
  ];
  return { apply, revert };
}
