// The faults room (ARCHITECTURE.md "faults"): typed faults, and their requests to the agent in
// the agent protocol (the protocol's other types: ./protocol.generated.js). Pure.
export {
  AGENT_PROGRAM,
  MAX_LEASE_MS,
  MIN_LEASE_MS,
  NETWORK_CAPABILITIES,
  PROTOCOL_VERSION,
  agentServeArgs,
  applyRequest,
  capabilitiesFor,
  faultSpec,
  leaseMsOf,
  renewRequest,
  requestArgv,
  revertRequest,
  statusRequest,
  sweepRequest,
} from "./requests.js";
export { parseReply, type ReplyParse } from "./reply.js";
export type { ApplyRequest, CommandRun, FaultSpec, FaultState, Reply, ReplyError, Request, RevertOutcome, RevertRequest } from "./protocol.generated.js";
export type { Distribution, Fault, HttpFault, HttpParams, NetemFault, NetemParams, PartitionFault, Rate, Scope, ScopeCidr } from "./types.js";
export { DEFAULT_HTTP_ERROR_CODE } from "./types.js";
