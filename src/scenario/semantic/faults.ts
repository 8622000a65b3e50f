// Fault steps: none after a podDelete (its pods are gone), what the schema cannot say of a stress
// or a CIDR, and expectations only on what a fault itself measures.
import { faultMetricsOf } from "../../expect/metrics.js";
import { MAX_DELAY_MS, MAX_DNS_DELAY_MS } from "../../faults/types.js";
import { GRPC_STATUS_NAMES, grpcStatusOf } from "../../faults/types.js";
import type { Dimension } from "../../expect/metrics.js";
import { parseCidr } from "../cidr.js";
import { joinPointer } from "../document.js";
import { closest, didYouMean } from "../suggest.js";
import { parseDuration, parsePercent, parseSize } from "../units.js";
import type { Findings } from "./findings.js";
import { obj, str } from "./read.js";
import type { Obj } from "./read.js";

const FAULT_KINDS = ["netem", "partition", "http", "grpc", "dns", "kill", "stress", "podDelete"];

/** The fault's kind: its first key of a kind (the schema reports a fault of none, or of two). */
export function faultKind(fault: Obj): string | undefined {
  return FAULT_KINDS.find((k) => fault[k] !== undefined);
}

/** A fault step's fault; `deletedAt`: the podDelete step before it, if any. */
export function checkFault(findings: Findings, fault: Obj, path: string, label: string, deletedAt: string | undefined): void {
  if (deletedAt !== undefined) {
    findings.add(
      "fault-after-pod-delete",
      { step: label, deleted: deletedAt },
      findings.locate(joinPointer(path, "fault")),
      "end the scenario's faults with the podDelete step; probe and wait steps may follow it (their probes measure the replacements)",
    );
  }
  checkStress(findings, obj(fault["stress"]), joinPointer(path, "fault", "stress"));
  checkGrpcStatus(findings, obj(fault["grpc"])?.["status"], joinPointer(path, "fault", "grpc", "status"));
  checkDns(findings, obj(fault["dns"]), joinPointer(path, "fault", "dns"));
  for (const kind of ["netem", "http", "grpc"]) checkDelays(findings, obj(fault[kind]), joinPointer(path, "fault", kind));
  const cidr = str(obj(fault["to"])?.["cidr"]);
  if (cidr !== undefined) {
    const r = parseCidr(cidr);
    if (!r.ok) findings.add("bad-cidr", { value: cidr, reason: r.reason }, findings.locate(joinPointer(path, "fault", "to", "cidr")), "e.g. 10.0.0.0/8, 10.1.2.3, fd00::/64");
  }
}

/** What the schema cannot say about a DNS fault: its addresses are addresses, its delay within the agent's bound. */
function checkDns(findings: Findings, dns: Obj | undefined, path: string): void {
  if (dns === undefined) return;
  const answer = dns["answer"];
  for (const [i, a] of (Array.isArray(answer) ? answer : []).entries()) {
    if (typeof a !== "string") continue;
    const r = parseCidr(a);
    if (!r.ok || a.includes("/"))
      findings.add(
        "bad-value",
        { value: a, what: "an IPv4 or IPv6 address" },
        findings.locate(joinPointer(path, "answer", i)),
        "e.g. 10.0.0.1 or fd00::1; or one of nxdomain, servfail, refused, timeout",
      );
  }
  for (const key of ["delay", "jitter"]) {
    const text = str(dns[key]);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (text !== undefined && ms !== undefined && ms > MAX_DNS_DELAY_MS)
      findings.add("out-of-range", { value: text, bound: "at most 60s" }, findings.locate(joinPointer(path, key)), "a resolver that waits longer than its clients is a timeout: answer: timeout");
  }
}

/** A netem, http or grpc fault's delay and jitter within what the agent takes (the schema reads durations as text, any size). */
function checkDelays(findings: Findings, fault: Obj | undefined, path: string): void {
  if (fault === undefined) return;
  for (const key of ["delay", "jitter"]) {
    const text = str(fault[key]);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (text !== undefined && ms !== undefined && ms > MAX_DELAY_MS)
      findings.add(
        "out-of-range",
        { value: text, bound: "at most 1h" },
        findings.locate(joinPointer(path, key)),
        "the agent holds a packet, a request or a call at most an hour; for longer, partition the traffic instead",
      );
  }
}

/** A gRPC status by name, in any case (the schema admits the letters; the names are checked here, OK refused with its reason). */
function checkGrpcStatus(findings: Findings, status: unknown, path: string): void {
  if (typeof status !== "string" || !/^[A-Za-z_]+$/.test(status) || grpcStatusOf(status) !== undefined) return;
  const names = Object.values(GRPC_STATUS_NAMES);
  const hint =
    status.toUpperCase() === "OK"
      ? "OK is not a fault: errorRate's calls are answered with an error status instead of reaching the application (default UNAVAILABLE)"
      : `${didYouMean(closest(status.toUpperCase(), names))}a name in any case, or its number 1..16`;
  findings.add("bad-enum", { value: status, allowed: names }, findings.locate(path), hint);
}

/** What the schema cannot say about a stress fault: a load above nothing, a size the agent takes. */
function checkStress(findings: Findings, stress: Obj | undefined, path: string): void {
  if (stress === undefined) return;
  const load = str(obj(stress["cpu"])?.["load"]);
  if (load !== undefined && parsePercent(load) === 0) {
    findings.add("out-of-range", { value: load, bound: "above 0%" }, findings.locate(joinPointer(path, "cpu", "load")), "a worker at 0% does nothing: e.g. 50%");
  }
  const size = str(obj(stress["memory"])?.["size"]);
  const bytes = size === undefined ? undefined : parseSize(size);
  if (size !== undefined && bytes !== undefined && (bytes < 4096 || bytes > 1024 ** 4)) {
    findings.add("out-of-range", { value: size, bound: "from 4Ki to 1Ti" }, findings.locate(joinPointer(path, "memory", "size")), "e.g. 64Mi");
  }
}

/** A fault step's `expect:`, on what the fault itself measured. */
export interface FaultExpectations {
  /** the step's pointer */
  readonly path: string;
  readonly kind: string | undefined;
  readonly expect: Obj;
  readonly stepIndex: number;
  readonly label: string;
}

/** The dimension of a metric the fault measures; a metric it does not (or a fault that measures nothing) is reported. */
export function faultMetricDimension(findings: Findings, kind: string | undefined, metric: string, path: string): Dimension | undefined {
  const metrics = kind === undefined ? undefined : faultMetricsOf(kind);
  if (kind !== undefined && metrics === undefined) {
    findings.add(
      "fault-metric",
      { detail: `${kind} faults measure nothing themselves` },
      findings.locate(path, "key"),
      "measure their effect with a probe under `during:` (or in a probe step after them)",
    );
    return undefined;
  }
  if (metrics === undefined) return undefined;
  const info = metrics[metric];
  if (info !== undefined) return info.dimension;
  const names = Object.keys(metrics);
  findings.add(
    "fault-metric",
    { detail: `${kind ?? "this"} faults measure no ${metric}` },
    findings.locate(path, "key"),
    `${didYouMean(closest(metric, names))}${kind ?? ""} metrics: ${names.join(", ")}`,
  );
  return undefined;
}
