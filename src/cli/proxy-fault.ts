// The verbs of the agent's proxy faults (http, grpc): the flags they share besides the fault's own,
// and how each holds its one fault — in the foreground until its duration is over (or Ctrl-C), or
// detached, left to the agent's lease.
import type { GrpcFault, HttpFault } from "../faults/types.js";
import { AGENT_FLAGS, DETACH_FLAG, DURATION_FLAG, type POD_FLAG, targetSelection } from "./common-flags.js";
import { INTERFACE_NAME, name } from "./flags.js";
import type { VerbContext } from "./io.js";
import { faultStep, heldFaultScenario, seconds, sweepCommand } from "./shortcut-scenario.js";
import { runShortcut, type Shortcut } from "./shortcut-run.js";
import type { FlagValues } from "./verb.js";

/** Every proxy fault verb's flags after the target's and the fault's own. */
export const PROXY_FAULT_FLAGS = {
  ...DURATION_FLAG,
  interface: name(INTERFACE_NAME, "an interface name", "i"),
  ...DETACH_FLAG,
  ...AGENT_FLAGS,
};

type ProxyFault = HttpFault | GrpcFault;

/**
 * The one-step scenario a proxy fault verb runs, and its words: the target read first (a missing
 * one is the first usage error), then the fault `build` makes of the flags. Pure.
 */
export function proxyFaultShortcut(
  verb: ProxyFault["kind"],
  values: FlagValues<typeof POD_FLAG & typeof PROXY_FAULT_FLAGS>,
  build: (iface: string | undefined) => ProxyFault,
  namespace: string | undefined,
): Shortcut {
  const selection = targetSelection(values, verb);
  const fault = build(values.interface);
  const port = fault.kind === "http" ? fault.http.port : fault.grpc.port;
  const { duration: durationMs, detach } = values;
  const step = faultStep(verb, fault, durationMs);
  const over = `${verb} fault on port ${port}${selection.kind === "service" ? ` of service ${selection.name}` : ""} applied`;
  return {
    scenario: heldFaultScenario({ name: verb, selection, namespace, pullPolicy: values["pull-policy"], step, durationMs, detach }),
    agentImage: values["agent-image"],
    detach,
    done: detach ? `${over}; the agent removes it in ${seconds(durationMs)} by itself. To end it early: ${sweepCommand(namespace)}\n` : `${over} for ${seconds(durationMs)} and removed.\n`,
  };
}

/** Runs a proxy fault verb's one fault (its flags' usage errors before the cluster is contacted). */
export function runProxyFault(
  ctx: VerbContext,
  verb: ProxyFault["kind"],
  values: FlagValues<typeof POD_FLAG & typeof PROXY_FAULT_FLAGS>,
  build: (iface: string | undefined) => ProxyFault,
): Promise<number> {
  const shortcut = proxyFaultShortcut(verb, values, build, ctx.globals.namespace);
  return runShortcut(ctx, () => shortcut);
}
