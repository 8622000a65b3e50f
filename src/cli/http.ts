// chaos-run http -p POD --port N [--delay MS] [--error-rate P] [--error-code N] -r S: HTTP faults
// on a port the pod serves, as a one-fault scenario through the same engine as disrupt. Held in
// the foreground by default (reverted at its end, or at once on Ctrl-C/SIGTERM); --detach hands
// it to the agent's lease.
import { UsageError } from "../errors.js";
import { DEFAULT_HTTP_ERROR_CODE, type HttpParams } from "../faults/types.js";
import { integerFlag, parseVerbArgs } from "./args.js";
import { CLUSTER_HELP, PULL_POLICY_HELP, PULL_POLICY_OPTION, pullPolicyFlag } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { runHeldFault } from "./held-fault.js";
import { httpStep, numberFlag, podNames } from "./seed-verbs.js";

export const HELP = `Usage: chaos-run http -p POD --port PORT [--delay MS] [--error-rate PERCENT] -r DURATION_S [options]

HTTP faults on a port the pod serves, for DURATION_S seconds: the agent (added if the pod has
none) puts a proxy in front of the port, which delays each request and answers a share of them
with an error instead of passing them on. Connections opened before the fault are reset, so
their clients come back through the proxy; at the end (or at once on Ctrl-C, exit 130, or
SIGTERM, 143) the proxy and its rules are removed and clients reconnect to the application
directly. HTTP/1.0 and HTTP/1.1 are faulted; TLS and HTTP/2 on the port pass through untouched.
With --detach, returns as soon as the fault is in effect and leaves it to the agent, which
removes it by itself when the duration is over (chaos-run sweep ends it sooner).

Options:
  -p, --pod POD          target pod (repeat, or comma-separate, for several)
  --port PORT            the TCP port the pod serves HTTP on (the container's port)
  -d, --delay MS         delay added to each request, in milliseconds
  -j, --jitter MS        ± variation of the delay, in milliseconds (with --delay)
  --error-rate PERCENT   share of the requests answered with the error instead
  --error-code CODE      status of those errors, 400-599 (default ${DEFAULT_HTTP_ERROR_CODE}; with --error-rate)
  --error-body TEXT      body of those errors (default empty; with --error-rate)
  --exclude PATH         a path that passes untouched, with what is under it (repeat for several)
  --method METHOD        fault only requests of this method (repeat for several; default: all)
  -r, --duration S       how long, in seconds
  -i, --interface NAME   interface the connections come in on (default: the pod's default-route one)
  --detach               return once the fault is in effect; the agent ends it after DURATION_S
  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
  -h, --help             this help
${CLUSTER_HELP}

Example: chaos-run http -p payment-0 --port 8080 --error-rate 20 --error-code 503 --exclude /healthz -r 60

Exit status: 0 applied and reverted (with --detach: applied), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

const METHOD = /^[A-Z]{1,20}$/;
const PATH = /^\/[!-~]{0,1023}$/;

/** The flags as an HttpFault's parameters; a usage error for anything the agent would refuse. */
export function httpParamsFromFlags(values: {
  port?: string | undefined;
  delay?: string | undefined;
  jitter?: string | undefined;
  "error-rate"?: string | undefined;
  "error-code"?: string | undefined;
  "error-body"?: string | undefined;
  exclude?: string[] | undefined;
  method?: string[] | undefined;
}): HttpParams {
  if (values.port === undefined) throw new UsageError("http needs the port the pod serves: --port PORT", { hint: "chaos-run http -p POD --port 80 --delay 100 -r 30" });
  const port = integerFlag("port", values.port, 1, 65535) ?? 0;
  const delayMs = numberFlag("-d/--delay", values.delay, "milliseconds", { min: 0, max: 3_600_000 });
  const jitterMs = numberFlag("-j/--jitter", values.jitter, "milliseconds", { min: 0, max: 3_600_000 });
  const errorRate = numberFlag("--error-rate", values["error-rate"], "percent", { min: 0, max: 100 });
  const errorCode = integerFlag("error-code", values["error-code"], 400, 599);
  if (delayMs === undefined && errorRate === undefined)
    throw new UsageError("http needs a delay (--delay MS) or an error rate (--error-rate PERCENT)", { hint: "chaos-run http -p POD --port 80 --error-rate 10 --error-code 503 -r 30" });
  if (jitterMs !== undefined && delayMs === undefined) throw new UsageError("--jitter needs --delay");
  if (errorRate === undefined && (errorCode !== undefined || values["error-body"] !== undefined))
    throw new UsageError(`${errorCode !== undefined ? "--error-code" : "--error-body"} needs --error-rate (the share of requests that get the error)`);
  const body = values["error-body"];
  if (body !== undefined && body.length > 4096) throw new UsageError("--error-body takes at most 4096 characters");
  const exclude = [...new Set(values.exclude ?? [])];
  const bad = exclude.find((p) => !PATH.test(p));
  if (bad !== undefined) throw new UsageError(`--exclude takes a request path starting with /, without spaces, not ${JSON.stringify(bad)}`, { hint: "--exclude /healthz" });
  if (exclude.length > 64) throw new UsageError("--exclude: at most 64 paths");
  const methods = [...new Set(values.method ?? [])];
  const badMethod = methods.find((m) => !METHOD.test(m));
  if (badMethod !== undefined) throw new UsageError(`--method takes an upper-case HTTP method, not ${JSON.stringify(badMethod)}`, { hint: "--method GET" });
  if (methods.length > 16) throw new UsageError("--method: at most 16 methods");
  return {
    port,
    delayMs,
    jitterMs,
    errorRate,
    errorCode: errorRate === undefined ? undefined : (errorCode ?? DEFAULT_HTTP_ERROR_CODE),
    errorBody: body,
    exclude,
    methods,
  };
}

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("http", ctx.args, {
    pod: { type: "string", short: "p", multiple: true },
    port: { type: "string" },
    delay: { type: "string", short: "d" },
    jitter: { type: "string", short: "j" },
    "error-rate": { type: "string" },
    "error-code": { type: "string" },
    "error-body": { type: "string" },
    exclude: { type: "string", multiple: true },
    method: { type: "string", multiple: true },
    duration: { type: "string", short: "r" },
    interface: { type: "string", short: "i" },
    detach: { type: "boolean" },
    "agent-image": { type: "string" },
    ...PULL_POLICY_OPTION,
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`http takes no arguments besides options, got ${positionals.join(" ")}`, { hint: "chaos-run http -p POD --port 80 --delay 100 -r 30" });
  const pods = podNames(values.pod, "http");
  const params = httpParamsFromFlags(values);
  const durationS = numberFlag("-r/--duration", values.duration, "seconds", { min: 1, max: 24 * 3600, integer: true });
  if (durationS === undefined) throw new UsageError("http needs a duration: -r SECONDS", { hint: "chaos-run http -p POD --port 80 --delay 100 -r 30" });
  const iface = values.interface;
  if (iface !== undefined && !/^[A-Za-z0-9_.@-]{1,15}$/.test(iface)) throw new UsageError(`${JSON.stringify(iface)} is not an interface name`);
  const detach = values.detach === true;
  return runHeldFault(ctx, {
    verb: "http",
    pods,
    step: httpStep(params, durationS * 1000, iface),
    durationMs: durationS * 1000,
    detach,
    pullPolicy: pullPolicyFlag(values["pull-policy"]),
    agentImage: values["agent-image"],
    done: (sweep) =>
      detach
        ? `http fault on port ${params.port} applied; the agent removes it in ${durationS}s by itself. To end it early: ${sweep}\n`
        : `http fault on port ${params.port} applied for ${durationS}s and removed.\n`,
  });
}
