// The faults room (docs/architecture.md, "The rooms"): typed faults, and their requests to the agent in
// the agent protocol (the protocol's other types: ./protocol.generated.js). Pure.
export {
  AGENT_PROGRAM,
  KILL_CAPABILITIES,
  MAX_LEASE_MS,
  MIN_LEASE_MS,
  NETEM_CAPABILITIES,
  NETWORK_CAPABILITIES,
  PROTOCOL_VERSION,
  agentServeArgs,
  applyRequest,
  capabilitiesFor,
  deliveryOf,
  faultSpec,
  killAgentServeArgs,
  killCapabilities,
  stressAgentServeArgs,
  killSpec,
  leaseMsOf,
  renewRequest,
  requestArgv,
  resolveRequest,
  revertRequest,
  statusRequest,
  sweepRequest,
  withSpec,
} from "./requests.js";
export type { Delivery } from "./requests.js";
export { FIRST_REPLY_PREFIX, LINE_REPLY_PREFIX, firstReplyInLog, lineReply, parseReply, type FirstReplyExpected, type FirstReplyInLog, type ReplyParse } from "./reply.js";
export {
  BASELINE_CAPABILITIES,
  NOBODY,
  POD_SECURITY_LEVELS,
  admits,
  enforcedLevel,
  levelOf,
  nonRootSecurity,
  refusals,
  rootSecurity,
  securityWords,
  stressSecurity,
} from "./security.js";
export type { AddedContainerSecurity, PodSecurityLevel, PodUsers } from "./security.js";
export type { ApplyRequest, CommandRun, FaultSpec, FaultState, Reply, ReplyError, Request, RevertOutcome, RevertRequest } from "./protocol.generated.js";
export type {
  Distribution,
  Fault,
  HttpFault,
  HttpParams,
  KillFault,
  KillSignal,
  NetemFault,
  NetemParams,
  NetworkFault,
  PartitionFault,
  PodDeleteFault,
  Rate,
  Scope,
  ScopeCidr,
  StressFault,
} from "./types.js";
export { DEFAULT_HTTP_ERROR_CODE, KILL_SIGNALS, isNetworkFault } from "./types.js";
