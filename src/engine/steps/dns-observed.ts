// What a dns fault's resolver did in one pod, as the agent counted it when it stopped it: the
// metrics a fault step's `expect:` addresses (the rate's draw among them), and the words the
// report shows. A fault whose names matched none of the pod's queries did nothing: the
// observation says so — the usual cause is a name written without the search domain the
// application's resolver adds, or answers the application keeps in a cache of its own.
import type { DNSReading } from "../../faults/protocol.generated.js";
import type { DnsParams } from "../../faults/types.js";
import type { PodRef } from "../events.js";
import type { HttpObservation } from "./http-observed.js";

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The queries the action was applied to: each answered by the fault, or (without an answer) only delayed. */
function faultedOf(r: DNSReading): number {
  const f = r.faulted;
  return Math.max(f.nxdomain + f.servfail + f.refused + f.timeout + f.addresses, f.delayed);
}

function actionWords(r: DNSReading): string {
  const f = r.faulted;
  const parts = [
    f.nxdomain > 0 ? `${f.nxdomain} NXDOMAIN` : "",
    f.servfail > 0 ? `${f.servfail} SERVFAIL` : "",
    f.refused > 0 ? `${f.refused} REFUSED` : "",
    f.timeout > 0 ? `${f.timeout} left unanswered` : "",
    f.addresses > 0 ? `${f.addresses} answered with the given addresses` : "",
    f.delayed > 0 ? `${f.delayed} delayed` : "",
  ].filter((p) => p !== "");
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

export function dnsObservation(pod: PodRef, reading: DNSReading | undefined, params: DnsParams): HttpObservation {
  if (reading === undefined) {
    return { pod, metrics: {}, detail: "no counts from the agent (the fault did not end with a confirmed revert of its own)" };
  }
  const r = reading;
  const faulted = faultedOf(r);
  const f = r.faulted;
  const metrics = {
    queries: r.queries,
    tcp: r.tcp,
    matched: r.matched,
    faulted,
    "faulted.rate": r.matched > 0 ? faulted / r.matched : undefined,
    nxdomain: f.nxdomain,
    servfail: f.servfail,
    refused: f.refused,
    timeout: f.timeout,
    addresses: f.addresses,
    delayed: f.delayed,
    forwarded: r.forwarded,
    upstreamErrors: r.upstreamErrors,
    malformed: r.malformed,
  };
  const words = [
    `the resolver read ${count(r.queries, "query", "queries")} (${r.udp} UDP, ${r.tcp} TCP): ${r.matched} matched, ${faulted} faulted${actionWords(r)}, ${r.forwarded} forwarded to the pod's nameserver`,
  ];
  if (r.upstreamErrors > 0) words.push(`${count(r.upstreamErrors, "forwarded query", "forwarded queries")} the nameserver did not answer`);
  if (r.malformed > 0) words.push(`${count(r.malformed, "packet")} that were not a DNS query dropped`);
  const where = `the dns fault on pod ${pod.namespace}/${pod.name}`;
  const untouched =
    r.matched > 0
      ? undefined
      : r.queries === 0
        ? `${where} saw no DNS query at all while it was held: the application sent none to port 53 (answers cached in the application, a resolver on the pod's loopback, or nothing resolved in that time)`
        : `${where} matched none of the ${count(r.queries, "query", "queries")} the pod sent: ${params.names.join(", ")} matched no name asked (is it the full name the resolver asks, after its search list: NAME.NAMESPACE.svc.cluster.local?)`;
  return { pod, metrics, detail: words.join("; "), untouched };
}
