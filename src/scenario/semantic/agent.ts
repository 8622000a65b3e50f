// The agent: its lease (renewed while the runner lives) must end before its ttl (the hard stop).
import { formatDuration, parseDuration } from "../units.js";
import type { Findings } from "./findings.js";
import { str } from "./read.js";
import type { Obj } from "./read.js";

export function checkAgent(findings: Findings, agent: Obj): void {
  const ttl = parseDuration(str(agent["ttl"]) ?? "10m");
  const lease = parseDuration(str(agent["lease"]) ?? "15s");
  if (ttl !== undefined && lease !== undefined && lease >= ttl) {
    findings.add(
      "lease-above-ttl",
      { lease: formatDuration(lease), ttl: formatDuration(ttl) },
      findings.locate(agent["lease"] !== undefined ? "/agent/lease" : "/agent/ttl"),
      "the lease is renewed while the runner lives; the ttl is the hard stop",
    );
  }
}
