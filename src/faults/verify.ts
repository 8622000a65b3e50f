// Reading a fault back: `chaos-agent apply` ends by printing what the kernel holds on the
// interface (`tc -j qdisc show dev IF`, and the CHAOS- iptables rules), and the runner checks
// that the fault it asked for is in effect before it counts the fault as applied.
import { chainName, tcHandle } from "./ids.js";
import type { Fault } from "./types.js";

export interface TcQdisc {
  readonly kind: string;
  readonly handle: string;
  readonly parent?: string | undefined;
  readonly root?: boolean | undefined;
  readonly options?: Readonly<Record<string, unknown>> | undefined;
}

export interface AgentState {
  readonly iface: string | undefined;
  readonly qdiscs: readonly TcQdisc[];
  /** `iptables -S` lines about CHAOS- chains, IPv4 */
  readonly iptables: readonly string[];
  /** the same for IPv6 */
  readonly ip6tables: readonly string[];
}

function isQdisc(v: unknown): v is TcQdisc {
  return typeof v === "object" && v !== null && "kind" in v && typeof v.kind === "string" && "handle" in v && typeof v.handle === "string";
}

/** Parses the state block the agent prints after applying (see agent/chaos-agent, show_state). */
export function parseAgentState(stdout: string): AgentState {
  let iface: string | undefined;
  let section: "tc" | "iptables" | undefined;
  const tcJson: string[] = [];
  const iptables: string[] = [];
  const ip6tables: string[] = [];
  for (const line of stdout.split("\n")) {
    const header = /^--- (tc|iptables)(?: (\S+))?$/.exec(line);
    if (header !== null) {
      section = header[1] === "tc" ? "tc" : "iptables";
      if (section === "tc") iface = header[2];
      continue;
    }
    if (section === "tc") tcJson.push(line);
    else if (section === "iptables" && line.trim() !== "") {
      if (line.startsWith("ip6 ")) ip6tables.push(line.slice(4));
      else iptables.push(line);
    }
  }
  let qdiscs: TcQdisc[] = [];
  const text = tcJson.join("\n").trim();
  if (text !== "") {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) qdiscs = parsed.filter(isQdisc);
    } catch {
      qdiscs = [];
    }
  }
  return { iface, qdiscs, iptables, ip6tables };
}

export interface Verification {
  readonly ok: boolean;
  /** what was found, or what is missing */
  readonly detail: string;
}

function netemDelaySeconds(q: TcQdisc): number | undefined {
  const delay = q.options?.["delay"];
  if (typeof delay === "object" && delay !== null && "delay" in delay && typeof delay.delay === "number") return delay.delay;
  return undefined;
}

/** Is the fault (id, handle) in effect in the state the agent read back? */
export function verifyApplied(fault: Fault, ids: { id: string; handle: number }, state: AgentState): Verification {
  if (fault.kind === "partition") {
    const chain = chainName(ids.id);
    const lines = [...state.iptables, ...state.ip6tables];
    const hasChain = lines.includes(`-N ${chain}`);
    const jumps = lines.filter((l) => l === `-A INPUT -j ${chain}` || l === `-A OUTPUT -j ${chain}`).length;
    const rules = lines.filter((l) => l.startsWith(`-A ${chain} `) && l.endsWith("-j DROP")).length;
    if (hasChain && jumps >= 2 && rules >= 2) return { ok: true, detail: `chain ${chain}: ${rules} DROP rules, jumped to from INPUT and OUTPUT` };
    return { ok: false, detail: `chain ${chain} not in effect (chain ${hasChain ? "present" : "missing"}, ${jumps} jumps, ${rules} DROP rules)` };
  }
  const root = tcHandle(ids.handle);
  const top = state.qdiscs.find((q) => q.handle === root && q.root === true);
  if (top === undefined) {
    const found = state.qdiscs.map((q) => `${q.kind} ${q.handle}`).join(", ") || "nothing";
    return { ok: false, detail: `no root qdisc ${root} on ${state.iface ?? "the interface"} (found ${found})` };
  }
  const scoped = fault.scope !== undefined && (fault.scope.cidr !== undefined || fault.scope.port !== undefined || fault.scope.protocol !== undefined);
  const netem = scoped ? state.qdiscs.find((q) => q.kind === "netem" && q.handle === tcHandle(ids.handle + 1)) : top;
  if (netem === undefined || netem.kind !== "netem" || (scoped && top.kind !== "prio")) {
    return { ok: false, detail: `expected ${scoped ? `prio ${root} with netem ${tcHandle(ids.handle + 1)} under band 4` : `netem ${root}`}, found ${top.kind} ${root}` };
  }
  const want = fault.netem.delayMs;
  const have = netemDelaySeconds(netem);
  if (want !== undefined && have !== undefined && Math.abs(have * 1000 - want) > 0.001) {
    return { ok: false, detail: `netem ${netem.handle} delays ${have * 1000} ms, not ${want} ms` };
  }
  return { ok: true, detail: `${scoped ? `prio ${root} → ` : ""}netem ${netem.handle} on ${state.iface ?? "the interface"}` };
}
