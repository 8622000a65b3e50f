// chaos-run http -p POD --port N [--delay MS] [--error-rate P] [--error-code N] -r S: HTTP faults
// on a port the pod serves, as a one-fault scenario through the same engine as disrupt. Held in
// the foreground by default (reverted at its end, or at once on Ctrl-C/SIGTERM); --detach hands
// it to the agent's lease.
import { UsageError } from "../errors.js";
import { DEFAULT_HTTP_ERROR_CODE, type HttpParams } from "../faults/types.js";
import { POD_FLAG, POD_HELP } from "./common-flags.js";
import { duration, percent, text, texts, wholeNumber } from "./flags.js";
import { distinct, PROXY_FAULT_FLAGS, PROXY_FAULT_HELP, portFlag, proxyFaultBase, runProxyFault } from "./proxy-fault.js";
import { defineVerb, type FlagValues } from "./verb.js";

const HELP = `Usage: chaos-run http -p POD --port PORT [--delay MS] [--error-rate PERCENT] -r DURATION_S [options]

HTTP faults on a port the pod serves, for DURATION_S seconds: the agent (added if the pod has
none) puts a proxy in front of the port, which delays each request and answers a share of them
with an error instead of passing them on. Connections opened before the fault are reset, so
their clients come back through the proxy; at the end (or at once on Ctrl-C, exit 130, or
SIGTERM, 143) the proxy and its rules are removed and clients reconnect to the application
directly. HTTP/1.x and h2c (HTTP/2 without TLS) requests are faulted, gRPC calls excepted
(chaos-run grpc faults those); TLS on the port passes through untouched.
With --detach, returns as soon as the fault is in effect and leaves it to the agent, which
removes it by itself when the duration is over (chaos-run sweep ends it sooner).

Options:
${POD_HELP}
  --port PORT            the TCP port the pod serves HTTP on (the container's port); with
                         --service, one of the Service's ports, by number or name
  -d, --delay MS         delay added to each request: milliseconds (100), or a duration (100ms, 1.5s)
  -j, --jitter MS        ± variation of the delay, as --delay (with --delay)
  --error-rate PERCENT   share of the requests answered with the error instead: percent (20, or 20%)
  --error-code CODE      status of those errors, 400-599 (default ${DEFAULT_HTTP_ERROR_CODE}; with --error-rate)
  --error-body TEXT      body of those errors (default empty; with --error-rate)
  --exclude PATH         a path that passes untouched, with what is under it (repeat for several)
  --method METHOD        fault only requests of this method (repeat for several; default: all)
${PROXY_FAULT_HELP}

Example: chaos-run http -p payment-0 --port 8080 --error-rate 20% --error-code 503 --exclude /healthz -r 60

Exit status: 0 applied and reverted (with --detach: applied), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

/** The flags of the fault itself (the rest are every held fault's). */
export const HTTP_FAULT_FLAGS = {
  port: portFlag(""),
  delay: duration({ short: "d", plain: "milliseconds", min: 0, max: 3_600_000 }),
  jitter: duration({ short: "j", plain: "milliseconds", min: 0, max: 3_600_000 }),
  "error-rate": percent(),
  "error-code": wholeNumber({ min: 400, max: 599 }),
  "error-body": text(),
  exclude: texts(),
  method: texts(),
};

const METHOD = /^[A-Z]{1,20}$/;
const PATH = /^\/[!-~]{0,1023}$/;

/** The flags as an HttpFault's parameters; a usage error for anything the agent would refuse. */
export function httpParams(values: FlagValues<typeof HTTP_FAULT_FLAGS>): HttpParams {
  const { "error-code": errorCode, "error-body": body } = values;
  const base = proxyFaultBase("http", values, {
    flags: [
      ["--error-code", errorCode],
      ["--error-body", body],
    ],
    share: "requests that get the error",
    example: "chaos-run http -p POD --port 80 --error-rate 10 --error-code 503 -r 30",
  });
  if (body !== undefined && body.length > 4096) throw new UsageError("--error-body takes at most 4096 characters");
  return {
    ...base,
    errorCode: base.errorRate === undefined ? undefined : (errorCode ?? DEFAULT_HTTP_ERROR_CODE),
    errorBody: body,
    exclude: distinct("--exclude", values.exclude, { pattern: PATH, takes: "a request path starting with /, without spaces", hint: "--exclude /healthz", most: 64, plural: "paths" }),
    methods: distinct("--method", values.method, { pattern: METHOD, takes: "an upper-case HTTP method", hint: "--method GET", most: 16, plural: "methods" }),
  };
}

const FLAGS = { ...POD_FLAG, ...HTTP_FAULT_FLAGS, ...PROXY_FAULT_FLAGS };

export const run = defineVerb({ name: "http", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run http -p POD --port 80 --delay 100 -r 30" }, ({ ctx, values }) =>
  runProxyFault(ctx, "http", values, (iface) => ({ kind: "http", http: httpParams(values), interface: iface })),
);
