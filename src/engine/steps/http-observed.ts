// What an http fault's proxy did in one pod, as the agent counted it when it stopped the proxy:
// the metrics a fault step's `expect:` addresses, and the words the report shows. A port whose
// traffic is not HTTP/1.x (TLS, HTTP/2) is relayed untouched: the fault then did nothing, and
// the observation says so rather than let a run pass on a fault that never bit.
import type { HTTPReading } from "../../faults/protocol.generated.js";
import type { PodRef } from "../events.js";
import type { Observation } from "./step-runner.js";

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export interface HttpObservation extends Observation {
  /** the fault touched no request although connections came: a warning for the run */
  readonly untouched?: string | undefined;
}

export function httpObservation(pod: PodRef, reading: HTTPReading | undefined, port: number): HttpObservation {
  if (reading === undefined) {
    return { pod, metrics: {}, detail: "no counts from the agent (the fault did not end with a confirmed revert of its own)" };
  }
  const { connections, relayed, requests, faulted, errors } = reading;
  const metrics = { requests, faulted, errors, "errors.rate": faulted > 0 ? errors / faulted : undefined, relayed };
  const words = [`the proxy read ${count(requests, "request")} on ${count(connections, "connection")}: ${faulted} faulted, ${errors} answered with the error`];
  if (relayed > 0) words.push(`${count(relayed, "connection")} relayed untouched (not HTTP/1.x: TLS, HTTP/2 or upgraded)`);
  const untouched =
    faulted === 0 && relayed > 0
      ? `the http fault on port ${port} of pod ${pod.namespace}/${pod.name} faulted nothing: its ${count(relayed, "connection")} ${relayed === 1 ? "was" : "were"} not HTTP/1.x (TLS or HTTP/2) and went through untouched`
      : undefined;
  return { pod, metrics, detail: words.join("; "), untouched };
}
