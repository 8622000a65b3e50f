// The words of schema diagnostics: types, values and places as people say them, and the hints
// for durations, percentages, rates, patterns, keys that need or exclude another.
import { closest } from "./suggest.js";

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  integer: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  null: "nothing",
};

export function typeWords(types: readonly string[]): string {
  const words = types.map((t) => TYPE_WORDS[t] ?? t);
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1) ?? ""}`;
}

export function show(v: unknown, max = 40): string {
  let s: string;
  if (typeof v === "string") s = v;
  else if (typeof v === "number" || typeof v === "boolean" || v === null) s = String(v);
  else if (Array.isArray(v)) s = "[…]";
  else if (typeof v === "object") s = "{…}";
  else s = String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing (null)";
  if (typeof v === "string") return `the string \`${show(v)}\``;
  if (typeof v === "number") return `the number ${show(v)}`;
  if (typeof v === "boolean") return `\`${String(v)}\``;
  if (Array.isArray(v)) return "a list";
  return "a mapping";
}

/** `step 2`, `` `netem` ``, `probe `web``, `the scenario`. */
export function where(segments: readonly string[]): string {
  const last = segments.at(-1);
  if (last === undefined) return "the scenario";
  const parent = segments.at(-2);
  if (/^[0-9]+$/.test(last)) {
    const n = Number(last) + 1;
    if (parent === "steps") return `step ${n}`;
    return parent === undefined ? `item ${n}` : `\`${parent}\` entry ${n}`;
  }
  if (parent === "probes") return `probe \`${last}\``;
  return `\`${last}\``;
}

const UNIT_HINT = "units: ms, s, m, h";

export function durationHint(value: unknown, segments: readonly string[]): string {
  const key = segments.at(-1) ?? "";
  const unit = ["delay", "jitter"].includes(key) ? "ms" : "s";
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$/.exec(typeof value === "number" ? String(value) : typeof value === "string" ? value : "");
  if (m !== null && m[1] !== undefined) {
    const unitWritten = m[2] ?? "";
    if (unitWritten === "") return `durations need a unit: ${m[1]}${unit} (${UNIT_HINT})`;
    const fix =
      closest(unitWritten.toLowerCase(), ["ms", "s", "m", "h"]) ??
      { sec: "s", secs: "s", second: "s", seconds: "s", min: "m", mins: "m", minute: "m", minutes: "m", hour: "h", hours: "h", msec: "ms", millis: "ms" }[unitWritten.toLowerCase()];
    if (fix !== undefined) return `write ${m[1]}${fix} (${UNIT_HINT})`;
  }
  return `a duration is a number and a unit, e.g. 100ms, 30s, 5m (${UNIT_HINT})`;
}

export function percentHint(value: unknown): string {
  if (typeof value === "number" && value >= 0 && value <= 100) return `percentages are strings with %: "${value}%"`;
  return 'a percentage is a number from 0 to 100 and "%", e.g. "5%", "0.1%"';
}

const RATE_UNIT_LIST = "bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps, kibit, mibit, gibit, tibit, kibps, mibps, gibps, tibps";

export function rateHint(value: unknown): string {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/]*)\s*$/.exec(typeof value === "number" ? String(value) : typeof value === "string" ? value : "");
  if (m !== null && m[1] !== undefined) {
    const unit = (m[2] ?? "").toLowerCase().replace("/s", "ps");
    if (unit === "") return `rates need a unit: ${m[1]}mbit (${RATE_UNIT_LIST})`;
    const fix = closest(unit, RATE_UNIT_LIST.split(", "));
    if (fix !== undefined) return `did you mean ${m[1]}${fix}? (units: ${RATE_UNIT_LIST})`;
  }
  return `a rate is a number and one of tc's units: ${RATE_UNIT_LIST}`;
}

export const PATTERN_WHAT: Readonly<Record<string, string>> = {
  name: "a valid scenario name (lower-case letters, digits and '-')",
  namespace: "a valid namespace name",
  identifier: "a valid name (a letter, then letters, digits, '_' or '-')",
  save: "a valid result name (a lower-case letter, then letters, digits or '_')",
  interface: "a valid interface name",
  dnsNamePattern: "a DNS name or glob (labels of letters, digits, '-', '_' and `*`, up to 63 characters each; `**` for any number of labels)",
  dnsName: "a DNS name (labels of letters, digits, '-' and '_', up to 63 characters each)",
  ipAddress: "an IPv4 or IPv6 address",
  answer: "one of `nxdomain`, `servfail`, `refused`, `timeout`, or a list of IP addresses",
  size: "a size in bytes (a whole number, optionally with Ki, Mi, Gi, Ti, k, M, G or T)",
  container: "a valid container name",
  port: "a Service's port name (a DNS label: up to 63 lower-case letters, digits and '-', beginning and ending with a letter or digit)",
  service: "a valid Service name (lower-case letters, digits and '-', starting with a letter)",
  workload: "a workload as KIND/NAME, KIND one of deployment, statefulset, daemonset, replicaset",
  grpcMethod: "a method's full name, package.Service/Method",
  health: "`true` or a gRPC service's full name (package.Service)",
};

export const NEEDS_HINT: Readonly<Record<string, string>> = {
  jitter: "jitter varies a delay: add `delay`, e.g. `delay: 100ms`",
  reorder: "netem reorders by sending some packets without the delay: add `delay`",
  correlation: "correlation relates each packet's jitter to the previous one: add `jitter`",
  distribution: "distribution shapes the jitter: add `jitter`",
  duration: "`duration` belongs to fault steps: add `fault`, or use `wait` for a pause",
  during: "`during` belongs to fault steps: add `fault`, or make the probes steps of their own",
};

export function conflictHint(trigger: string, key: string): string {
  if (["fault", "probe", "wait"].includes(trigger)) {
    if (["save", "expect"].includes(key)) return `\`${key}\` belongs to a probe: put it in \`during\` (fault steps) or in a probe step`;
    return "a step is exactly one of `fault`, `probe` or `wait`: split it into two steps";
  }
  if (["selector", "matchExpressions", "pods", "service"].includes(trigger))
    return "give one way to find the pods: a selector (`selector` labels, `matchExpressions`, or both), `pods` (names), `service` or `workload`";
  if (trigger === "netem") return "one fault per step: use two steps";
  return `remove \`${key}\` or \`${trigger}\``;
}
