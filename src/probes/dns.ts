// The dns probe: lookups made by the target pod's agent from inside the pod's network namespace,
// as the application's resolver makes them (its resolv.conf: nameservers, search list, ndots), so
// a DNS fault the pod holds shows in them as the application sees it. The agent's reply is
// hostile input: it has passed the protocol's schema (src/faults/reply.ts), and here it must
// also answer what was asked — the names asked for, each once, counts that add up to at most
// what was asked — before a number of it becomes a metric. Pure.
import type { ResolveNameResult, ResolveResult } from "../faults/protocol.generated.js";
import type { Metrics } from "./run.js";

/** The rcodes every dns probe reports, 0 when none came: an expectation may name them whatever happened. */
const USUAL_RCODES = ["NXDOMAIN", "SERVFAIL", "REFUSED"] as const;
/** An rcode's name as a metric takes it (`rcode.NOTIMP`); the agent's others (`RCODE12`) too. */
const RCODE_NAME = /^[A-Z][A-Z0-9]{1,15}$/;

export interface DnsAsked {
  readonly names: readonly string[];
  readonly count: number;
}

export type DnsParse = { readonly ok: true; readonly metrics: Metrics; readonly detail: string } | { readonly ok: false; readonly error: string };

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function rcodeTotal(n: ResolveNameResult): number {
  return sum(Object.values(n.rcodes).map((v) => v ?? 0));
}

/** Why one name's counts cannot be true, or undefined when they add up. */
function inconsistency(n: ResolveNameResult, count: number): string | undefined {
  const counts = [n.resolutions, n.answered, n.empty, n.timeouts, n.errors, n.unsent, ...Object.values(n.rcodes).map((v) => v ?? 0)];
  if (!counts.every((c) => Number.isSafeInteger(c) && c >= 0)) return "a count that is not a whole number";
  if (n.resolutions + n.unsent !== count) return `${n.resolutions} resolutions and ${n.unsent} unsent, of ${count} asked`;
  const ended = n.answered + n.empty + rcodeTotal(n) + n.timeouts + n.errors;
  if (ended !== n.resolutions) return `${ended} outcomes for ${n.resolutions} resolutions`;
  const l = n.latencyMs;
  if (l !== undefined) {
    // p95 is absent from agents older than it: checked in order where it is
    const p95 = l.p95 ?? l.p90;
    const times = [l.min, l.p50, l.p90, p95, l.p99, l.max, l.mean];
    if (!times.every((t) => Number.isFinite(t) && t >= 0 && t <= 3_600_000)) return "a latency out of bounds";
    if (!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= p95 && p95 <= l.p99 && l.p99 <= l.max && l.min <= l.mean && l.mean <= l.max)) return "latencies out of order";
  }
  return undefined;
}

/** Every name asked, each once, nothing else, each one's counts adding up: or what is wrong. */
function check(result: ResolveResult, asked: DnsAsked): string | undefined {
  const seen = new Set<string>();
  for (const n of result.names) {
    if (!asked.names.includes(n.name)) return `the agent answered for a name not asked: ${JSON.stringify(n.name.slice(0, 80))}`;
    if (seen.has(n.name)) return `the agent answered twice for ${n.name}`;
    seen.add(n.name);
    const wrong = inconsistency(n, asked.count);
    if (wrong !== undefined) return `the agent's counts for ${n.name} do not add up: ${wrong}`;
  }
  const missing = asked.names.filter((name) => !seen.has(name));
  return missing.length > 0 ? `the agent did not answer for ${missing.join(", ")}` : undefined;
}

/** Resolutions that got an answer (any rcode): those the latency is of. */
function answeredAny(n: ResolveNameResult): number {
  return n.answered + n.empty + rcodeTotal(n);
}

function latencyMetrics(names: readonly ResolveNameResult[]): Metrics {
  const timed = names.flatMap((n) => (n.latencyMs === undefined || answeredAny(n) === 0 ? [] : [{ l: n.latencyMs, weight: answeredAny(n) }]));
  if (timed.length === 0) return {};
  const worst = (k: "p50" | "p90" | "p99"): number => Math.max(...timed.map((t) => t.l[k]));
  const weight = sum(timed.map((t) => t.weight));
  const p95s = timed.flatMap((t) => (t.l.p95 === undefined ? [] : [t.l.p95]));
  return {
    "latency.min": Math.min(...timed.map((t) => t.l.min)),
    "latency.mean": sum(timed.map((t) => t.l.mean * t.weight)) / weight,
    // percentiles of different names cannot be merged exactly: the worst name's, as the probes' aggregate does
    "latency.p50": worst("p50"),
    "latency.p90": worst("p90"),
    // from an agent that says it (every name's, or none)
    ...(p95s.length === timed.length ? { "latency.p95": Math.max(...p95s) } : {}),
    "latency.p99": worst("p99"),
    "latency.max": Math.max(...timed.map((t) => t.l.max)),
  };
}

function rcodeMetrics(names: readonly ResolveNameResult[]): Metrics {
  const out: Record<string, number> = { "rcode.NOERROR": sum(names.map((n) => n.answered + n.empty)) };
  for (const r of USUAL_RCODES) out[`rcode.${r}`] = 0;
  for (const n of names) for (const [r, v] of Object.entries(n.rcodes)) if (RCODE_NAME.test(r) && r !== "NOERROR") out[`rcode.${r}`] = (out[`rcode.${r}`] ?? 0) + (v ?? 0);
  return out;
}

/** One name's outcome in words: `web.shop.svc.cluster.local: 10 of 10 answered (10.96.0.1), p50 1.2 ms` */
function nameWords(n: ResolveNameResult): string {
  const parts: string[] = [
    `${n.answered} of ${n.resolutions} answered${n.addresses !== undefined && n.addresses.length > 0 ? ` (${n.addresses.slice(0, 4).join(", ")}${n.addresses.length > 4 ? ", …" : ""})` : ""}`,
  ];
  if (n.empty > 0) parts.push(`${n.empty} empty`);
  for (const [r, v] of Object.entries(n.rcodes)) if ((v ?? 0) > 0) parts.push(`${v} ${r}`);
  if (n.timeouts > 0) parts.push(`${n.timeouts} timed out`);
  if (n.errors > 0) parts.push(`${n.errors} could not be sent or read`);
  if (n.unsent > 0) parts.push(`${n.unsent} not made (the agent's 60 s were over)`);
  if (n.latencyMs !== undefined) parts.push(`p50 ${n.latencyMs.p50.toFixed(1)} ms`);
  const asked = n.fqdn !== undefined && n.fqdn.replace(/\.$/, "") !== n.name.replace(/\.$/, "") ? ` (last asked as ${n.fqdn})` : "";
  return `${n.name}${asked}: ${parts.join(", ")}`;
}

/** The agent's ResolveResult → the probe's metrics and what it saw, in words; or why the answer cannot be true. */
export function dnsMetrics(result: ResolveResult | undefined, asked: DnsAsked): DnsParse {
  if (result === undefined) return { ok: false, error: "the agent's reply has no resolutions" };
  const wrong = check(result, asked);
  if (wrong !== undefined) return { ok: false, error: wrong };
  const names = result.names;
  const queries = sum(names.map((n) => n.resolutions));
  const answered = sum(names.map((n) => n.answered));
  const errors = queries - answered;
  const metrics: Metrics = {
    queries,
    answered,
    empty: sum(names.map((n) => n.empty)),
    errors,
    errorRatio: queries === 0 ? undefined : errors / queries,
    timeouts: sum(names.map((n) => n.timeouts)),
    unsent: sum(names.map((n) => n.unsent)),
    ...rcodeMetrics(names),
    ...latencyMetrics(names),
  };
  const conf = `nameserver ${result.nameservers.slice(0, 3).join(", ") || "none"}${result.search.length > 0 ? `, search ${result.search.slice(0, 6).join(" ")}` : ""}, ndots ${result.ndots} (${result.resolvConf.slice(0, 120)})`;
  return { ok: true, metrics, detail: `${names.map(nameWords).join("; ")} — ${conf}` };
}
