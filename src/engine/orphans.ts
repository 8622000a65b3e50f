// Orphans, in words: what an agent found and reverted of agents that are gone. The kernel names a
// chain after its fault (CHAOS-<fault id>), so a chain orphan carries its fault id; a qdisc does
// not (only its handle from the agents' range), so its words are the agent's own description.
import type { RevertOutcome } from "../faults/protocol.generated.js";

/** One orphan in a few words: `fault ab12-s1` or `qdisc c000: (netem) at the root of eth0`. */
export function orphanWords(o: RevertOutcome): string {
  if (o.faultId !== "") return `fault ${o.faultId}`;
  return o.detail.split(", held by")[0] ?? o.detail;
}

/** Orphans grouped by what they were: `fault ab12-s1 (2 objects), qdisc c000: (netem) at the root of eth0`, with the unconfirmed ones said so. */
export function orphanSummary(orphans: readonly RevertOutcome[]): string {
  const groups = new Map<string, { count: number; unconfirmed: string[] }>();
  for (const o of orphans) {
    const key = orphanWords(o);
    const g = groups.get(key) ?? { count: 0, unconfirmed: [] };
    g.count++;
    if (!o.confirmed) g.unconfirmed.push(o.detail);
    groups.set(key, g);
  }
  return [...groups].map(([key, g]) => `${key}${g.count > 1 ? ` (${g.count} objects)` : ""}${g.unconfirmed.length > 0 ? ` NOT CONFIRMED: ${g.unconfirmed.join("; ")}` : ""}`).join(", ");
}
