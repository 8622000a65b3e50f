// The verbs of the agent's proxy faults (http, grpc): the flags they share besides the fault's own,
// and how each holds its one fault — in the foreground until its duration is over (or Ctrl-C), or
// detached, left to the agent's lease.
import { UsageError } from "../errors.js";
import type { GrpcFault, HttpFault } from "../faults/types.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, DETACH_FLAG, DURATION_FLAG, DURATION_HELP, HELP_HELP, type POD_FLAG, targetSelection } from "./common-flags.js";
import { type Flag, INTERFACE_NAME, name, required } from "./flags.js";
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

/** Their lines of help, after the fault's own flags. */
export const PROXY_FAULT_HELP = `${DURATION_HELP}
  -i, --interface NAME   interface the connections come in on (default: the pod's default-route one)
  --detach               return once the fault is in effect; the agent ends it after DURATION_S
${AGENT_HELP}
${HELP_HELP}
${CLUSTER_HELP}`;

type ProxyFault = HttpFault | GrpcFault;

/** A Service's port name (a DNS label: `http`, or `8080-80` as `kubectl create service` names one), as the scenario's `port` takes it. */
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** --port: the pods' port by number, or by name one of the Service's ports (with --service), as a scenario's `port`. */
export function portFlag(serves: string): Flag<number | string> {
  return required(
    {
      option: { type: "string" },
      read: (raw, use) => {
        if (typeof raw !== "string") return undefined;
        const digits = /^[0-9]+$/.test(raw);
        if (digits && Number(raw) >= 1 && Number(raw) <= 65535) return Number(raw);
        // digits alone are a number: `8080-80` is a name, `65536` no port
        if (!digits && raw.length <= 63 && PORT_NAME.test(raw)) return raw;
        throw new UsageError(`${use.label} takes a port number from 1 to 65535, or the name of one of the Service's ports, not ${JSON.stringify(raw)}`, {
          hint: "--port 8080, or --service NAME --port http",
        });
      },
    },
    `needs the port the pod serves${serves}: --port PORT`,
  );
}

/** A repeated flag's values, each once; `takes` says what each must be, `most` how many there may be. */
export function distinct(flag: string, given: readonly string[], o: { pattern: RegExp; takes: string; hint: string; most: number; plural: string }): string[] {
  const once = [...new Set(given)];
  const bad = once.find((p) => !o.pattern.test(p));
  if (bad !== undefined) throw new UsageError(`${flag} takes ${o.takes}, not ${JSON.stringify(bad)}`, { hint: o.hint });
  if (once.length > o.most) throw new UsageError(`${flag}: at most ${o.most} ${o.plural}`);
  return once;
}

/**
 * What every proxy fault's flags must hold — a delay or an error rate, a jitter only with the
 * delay, the flags that shape the error (each with what it was given) only with the rate — and
 * the parameters they share. `share` says what the rate is a share of (`requests that get the error`).
 */
export function proxyFaultBase(
  verb: ProxyFault["kind"],
  values: { readonly port: number | string; readonly delay: number | undefined; readonly jitter: number | undefined; readonly "error-rate": number | undefined },
  error: { readonly flags: readonly (readonly [string, unknown])[]; readonly share: string; readonly example: string },
): { port: number; delayMs: number | undefined; jitterMs: number | undefined; errorRate: number | undefined } {
  const { delay: delayMs, jitter: jitterMs, "error-rate": errorRate } = values;
  // a port by name is the Service's: 0 until the target is resolved, as a scenario's (FaultStep.servicePort)
  const port = typeof values.port === "number" ? values.port : 0;
  if (delayMs === undefined && errorRate === undefined) throw new UsageError(`${verb} needs a delay (--delay MS) or an error rate (--error-rate PERCENT)`, { hint: error.example });
  if (jitterMs !== undefined && delayMs === undefined) throw new UsageError("--jitter needs --delay");
  const shaping = error.flags.find(([, given]) => given !== undefined);
  if (errorRate === undefined && shaping !== undefined) throw new UsageError(`${shaping[0]} needs --error-rate (the share of ${error.share})`);
  return { port, delayMs, jitterMs, errorRate };
}

/**
 * The one-step scenario a proxy fault verb runs, and its words: the target read first (a missing
 * one is the first usage error), then the fault `build` makes of the flags. Pure.
 */
export function proxyFaultShortcut(
  verb: ProxyFault["kind"],
  values: FlagValues<typeof POD_FLAG & typeof PROXY_FAULT_FLAGS> & { readonly port: number | string },
  build: (iface: string | undefined) => ProxyFault,
  namespace: string | undefined,
): Shortcut {
  const selection = targetSelection(values, verb);
  const fault = build(values.interface);
  const servicePort = typeof values.port === "string" ? values.port : undefined;
  if (servicePort !== undefined && selection.kind !== "service") {
    throw new UsageError(`--port ${servicePort}: a port by name is one of the Service's ports, with --service NAME; give the pods' port by number`, {
      hint: `chaos-run ${verb} --service NAME --port ${servicePort} …`,
    });
  }
  const port = servicePort ?? (fault.kind === "http" ? fault.http.port : fault.grpc.port);
  const { duration: durationMs, detach } = values;
  const step = servicePort === undefined ? faultStep(verb, fault, durationMs) : { ...faultStep(verb, fault, durationMs), servicePort };
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
  values: FlagValues<typeof POD_FLAG & typeof PROXY_FAULT_FLAGS> & { readonly port: number | string },
  build: (iface: string | undefined) => ProxyFault,
): Promise<number> {
  const shortcut = proxyFaultShortcut(verb, values, build, ctx.globals.namespace);
  return runShortcut(ctx, () => shortcut);
}
