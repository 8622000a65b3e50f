// Pure fault builders: a fault → the argv that apply and revert it (ARCHITECTURE.md "faults").
import { buildNetem } from "./netem.js";
import { buildPartition } from "./partition.js";
import type { Fault, FaultCommands, FaultIds } from "./types.js";

export { agentApplyArgv, agentRenewArgv, agentRevertArgv, agentServeArgs, leaseSeconds } from "./agent.js";
export type { AgentApplyOptions } from "./agent.js";
export { buildNetem, netemOptions, tcTime } from "./netem.js";
export { buildPartition } from "./partition.js";
export { chainName, tcHandle } from "./ids.js";
export * from "./types.js";

/** `iface` is an interface name or `$IFACE` (IFACE_TOKEN). */
export function buildFault(fault: Fault, iface: string, ids: FaultIds): FaultCommands {
  switch (fault.kind) {
    case "netem":
      return buildNetem(fault, iface, ids);
    case "partition":
      return buildPartition(fault, iface, ids);
    default: {
      const never: never = fault;
      throw new TypeError(`unknown fault ${JSON.stringify(never)}`);
    }
  }
}
