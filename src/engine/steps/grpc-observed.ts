// What a grpc fault's proxy did in one pod, as the agent counted it when it stopped the proxy: the
// metrics a fault step's `expect:` addresses, and the words the report shows. A port whose
// connections are not h2c (gRPC over TLS, or HTTP/1.x) is relayed untouched: the fault then did
// nothing, and the observation says so rather than let a run pass on a fault that never bit.
import type { GRPCReading } from "../../faults/protocol.generated.js";
import { DEFAULT_GRPC_STATUS, grpcStatusWords, type GrpcParams } from "../../faults/types.js";
import type { PodRef } from "../events.js";
import type { HttpObservation } from "./http-observed.js";

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function grpcObservation(pod: PodRef, reading: GRPCReading | undefined, params: GrpcParams): HttpObservation {
  if (reading === undefined) {
    return { pod, metrics: {}, detail: "no counts from the agent (the fault did not end with a confirmed revert of its own)" };
  }
  const { calls, faulted, errors, delayed, relayed, excluded, streamsReset, connections } = reading;
  const metrics = { calls, faulted, errors, "errors.rate": faulted > 0 ? errors / faulted : undefined, delayed, relayed, excluded, streamsReset, passedThrough: connections.passedThrough };
  const status = grpcStatusWords(params.status ?? DEFAULT_GRPC_STATUS);
  const words = [
    `the proxy read ${count(calls, "gRPC call")} on ${count(connections.h2c, "h2c connection")}: ${faulted} faulted (${delayed} delayed, ${errors} answered with status ${status}), ${excluded} excluded, ${relayed} relayed to the application`,
  ];
  if (streamsReset > 0) words.push(`${count(streamsReset, "call")} in flight ended at the revert`);
  const notGrpc = connections.passedThrough + connections.http1;
  if (notGrpc > 0) words.push(`${count(notGrpc, "connection")} not h2c relayed untouched (${connections.passedThrough} TLS or unreadable, ${connections.http1} HTTP/1.x)`);
  const untouched =
    faulted === 0 && notGrpc > 0
      ? `the grpc fault on port ${params.port} of pod ${pod.namespace}/${pod.name} faulted nothing: its ${count(notGrpc, "connection")} ${notGrpc === 1 ? "was" : "were"} not h2c (gRPC over TLS, or HTTP/1.x) and went through untouched`
      : undefined;
  return { pod, metrics, detail: words.join("; "), untouched };
}
