// chaos-run grpc -p POD --port N [--error-rate P --status CODE] [--delay MS] -r S: gRPC faults on a
// port the pod serves, as a one-fault scenario through the same engine as disrupt (and http,
// whose proxy it shares). Held in the foreground by default (reverted at its end, or at once on
// Ctrl-C/SIGTERM); --detach hands it to the agent's lease.
import { UsageError } from "../errors.js";
import { DEFAULT_GRPC_STATUS, GRPC_HEALTH_SERVICE, GRPC_STATUS_NAMES, type GrpcParams, grpcStatusOf, grpcStatusWords } from "../faults/types.js";
import { POD_FLAG, POD_HELP } from "./common-flags.js";
import { boolean, duration, percent, text, texts } from "./flags.js";
import { distinct, PROXY_FAULT_FLAGS, PROXY_FAULT_HELP, portFlag, proxyFaultBase, runProxyFault } from "./proxy-fault.js";
import { defineVerb, type FlagValues } from "./verb.js";

const HELP = `Usage: chaos-run grpc -p POD --port PORT [--error-rate PERCENT] [--delay MS] -r DURATION_S [options]

gRPC faults on a port the pod serves, for DURATION_S seconds: the agent (added if the pod has
none) puts a proxy in front of the port that speaks h2c (HTTP/2 without TLS, as gRPC runs in a
cluster). Each call, unary or streaming, is faulted at its start: delayed, and a share of the
calls answered with a gRPC status instead of reaching the application. Connections and streams
opened before the fault are reset, so their clients come back through the proxy; at the end (or
at once on Ctrl-C, exit 130, or SIGTERM, 143) the proxy and its rules are removed and clients
reconnect to the application directly. The health service (${GRPC_HEALTH_SERVICE}) passes
untouched unless --fault-health: the kubelet's gRPC probes call it, and failing them would
restart the pod. gRPC over TLS passes through untouched (the run warns that it faulted nothing).
With --detach, returns as soon as the fault is in effect and leaves it to the agent, which
removes it by itself when the duration is over (chaos-run sweep ends it sooner).

Options:
${POD_HELP}
  --port PORT            the TCP port the pod serves gRPC on (the container's port); with
                         --service, one of the Service's ports, by number or name
  --error-rate PERCENT   share of the calls answered with the status instead: percent (20, or 20%)
  --status CODE          that status: a name, any case (UNAVAILABLE, deadline_exceeded), or 1-16
                         (default ${grpcStatusWords(DEFAULT_GRPC_STATUS)}; with --error-rate)
  --message TEXT         its grpc-message (default empty; with --error-rate)
  -d, --delay MS         delay before each call is forwarded: milliseconds (100), or a duration (100ms, 1.5s)
  -j, --jitter MS        ± variation of the delay, as --delay (with --delay)
  --exclude SERVICE[/METHOD]
                         calls that pass untouched: a service (helloworld.Greeter) or one of its
                         methods (helloworld.Greeter/SayHello); repeat for several
  --fault-health         fault ${GRPC_HEALTH_SERVICE} too (the kubelet's gRPC probes may fail)
${PROXY_FAULT_HELP}

Example: chaos-run grpc -p greeter-0 --port 50051 --error-rate 20% --status UNAVAILABLE -r 60

Exit status: 0 applied and reverted (with --detach: applied), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

/** The flags of the fault itself (the rest are every held fault's). */
export const GRPC_FAULT_FLAGS = {
  port: portFlag(" gRPC on"),
  "error-rate": percent(),
  status: text(),
  message: text(),
  delay: duration({ short: "d", plain: "milliseconds", min: 0, max: 3_600_000 }),
  jitter: duration({ short: "j", plain: "milliseconds", min: 0, max: 3_600_000 }),
  exclude: texts(),
  "fault-health": boolean(),
};

/** `pkg.Service` or `pkg.Service/Method`, as the call's path `/pkg.Service/Method` names them. */
const SERVICE_OR_METHOD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\/[A-Za-z_][A-Za-z0-9_]*)?$/;

function statusOf(given: string): NonNullable<GrpcParams["status"]> {
  const code = grpcStatusOf(given);
  if (code !== undefined) return code;
  const why = given.trim().toUpperCase() === "OK" || given.trim() === "0" ? "OK is not a fault" : `not ${JSON.stringify(given)}`;
  throw new UsageError(`--status takes a gRPC status by name or number 1-16, ${why}`, { hint: `one of ${Object.values(GRPC_STATUS_NAMES).join(", ")}` });
}

/** The flags as a GrpcFault's parameters; a usage error for anything the agent would refuse. */
export function grpcParams(values: FlagValues<typeof GRPC_FAULT_FLAGS>): GrpcParams {
  const { status, message } = values;
  const base = proxyFaultBase("grpc", values, {
    flags: [
      ["--status", status],
      ["--message", message],
    ],
    share: "calls that get the status",
    example: "chaos-run grpc -p POD --port 50051 --error-rate 10 --status UNAVAILABLE -r 30",
  });
  if (message !== undefined && message.length > 1024) throw new UsageError("--message takes at most 1024 characters");
  const exclude = distinct("--exclude", values.exclude, {
    pattern: SERVICE_OR_METHOD,
    takes: "a service (package.Service) or a method (package.Service/Method)",
    hint: "--exclude helloworld.Greeter/SayHello",
    most: 64,
    plural: "services or methods",
  });
  const code = base.errorRate === undefined ? undefined : status === undefined ? DEFAULT_GRPC_STATUS : statusOf(status);
  return { ...base, status: code, message, exclude, faultHealth: values["fault-health"] };
}

export const GRPC_FLAGS = { ...POD_FLAG, ...GRPC_FAULT_FLAGS, ...PROXY_FAULT_FLAGS };

export const run = defineVerb({ name: "grpc", help: HELP, flags: GRPC_FLAGS, positionals: "none", example: "chaos-run grpc -p POD --port 50051 --error-rate 20 -r 30" }, ({ ctx, values }) =>
  runProxyFault(ctx, "grpc", values, (iface) => ({ kind: "grpc", grpc: grpcParams(values), interface: iface })),
);
