// chaos-run plan FILE --offline [--seed N] [--pods a,b,c] [--namespace NS] [--format text|json]
import { UsageError } from "../errors.js";
import { PlanError, planOffline } from "../plan/plan.js";
import { formatPlan, planToJson } from "../plan/format.js";
import { diagnostic } from "../scenario/diagnostics.js";
import { readScenarioFile } from "../scenario/load.js";
import type { ValidationResult } from "../scenario/load.js";
import { integerFlag, oneOf, parseVerbArgs } from "./args.js";
import { formatJson, formatText } from "./diagnostics-output.js";
import { stderrIsPretty } from "./io.js";
import type { VerbContext } from "./io.js";
import { toFileDiagnostics } from "./validate.js";

export const HELP = `Usage: chaos-run plan FILE --offline [options]

Prints the timeline a run of FILE would follow: the target pods, the agent container, each
step's start offset and duration, each fault's exact requests to the agent (apply and revert,
in the agent protocol) and the probes with their expectations. Same file and seed, same plan,
byte for byte. The tc and iptables commands depend on each pod (its interface, the tc handles
free there, its address families): the agent decides them, and the journal records them.

Options:
  --offline            plan without a cluster (required for now)
  --seed N             seed of the pod choice (default: the scenario's target.seed, else 1)
  --pods a,b,c         the pods the selector would match (default: the scenario's pods:
                       names, else placeholders such as <pod matching run=nginx #1>)
  -n, --namespace NS   namespace when the scenario names none
  --format text|json   text (default) or JSON, on stdout
  -h, --help           this help

Exit status: 0 planned, 2 invalid scenario or usage, 3 refused (e.g. more pods than maxPods).
`;

const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("plan", ctx.args, {
    offline: { type: "boolean" },
    seed: { type: "string" },
    pods: { type: "string" },
    format: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  const format = oneOf("format", values.format, ["text", "json"] as const, "text");
  const [file, ...extra] = positionals;
  if (file === undefined) throw new UsageError("plan needs a scenario FILE", { hint: "chaos-run plan scenarios/nginx-latency.yaml --offline" });
  if (extra.length > 0) throw new UsageError(`plan takes one FILE, got ${positionals.length}`);
  if (values.offline !== true) {
    throw new UsageError("plan against a cluster is not implemented yet", { hint: `add --offline: chaos-run plan ${file} --offline` });
  }
  const seed = integerFlag("seed", values.seed, 0, 4294967295);
  let pods: string[] | undefined;
  if (values.pods !== undefined) {
    pods = values.pods
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "");
    const bad = pods.find((p) => !POD_NAME.test(p));
    if (pods.length === 0 || bad !== undefined) throw new UsageError(`--pods needs comma-separated pod names${bad !== undefined ? `; ${JSON.stringify(bad)} is not one` : ""}`);
  }
  const result = readScenarioFile(file);
  const pretty = stderrIsPretty(ctx.io);
  if (result.scenario === undefined) {
    const all = [toFileDiagnostics(result)];
    if (format === "json") ctx.io.stdout.write(formatJson(all));
    else ctx.io.stderr.write(formatText(all, pretty));
    return 2;
  }
  try {
    const plan = planOffline(result.scenario, { seed, pods, namespace: ctx.globals.namespace });
    const noColor = ctx.io.env["NO_COLOR"];
    const color = ctx.io.stdoutIsTTY && (noColor === undefined || noColor === "");
    ctx.io.stdout.write(format === "json" ? `${JSON.stringify(planToJson(plan, file), null, 2)}\n` : formatPlan(plan, file, { color }));
    return 0;
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
    return writePlanError(ctx, file, result, e, format);
  }
}

/** A refusal to plan, located in the scenario like any diagnostic; returns its exit code. */
export function writePlanError(ctx: VerbContext, file: string, result: ValidationResult, e: PlanError, format: "text" | "json"): number {
  const at = result.source.locate(e.path, "value");
  const d =
    e.code === "system-namespace"
      ? diagnostic(file, "system-namespace", { namespace: e.namespace ?? "" }, at, e.hint)
      : diagnostic(file, e.code === "no-pods" || e.code === "not-enough-pods" || e.code === "host-network" || e.code === "stress-bound" ? e.code : "blast-radius", { detail: e.message }, at, e.hint);
  const all = [{ ...toFileDiagnostics(result), diagnostics: [d] }];
  if (format === "json") ctx.io.stdout.write(formatJson(all));
  else ctx.io.stderr.write(formatText(all, stderrIsPretty(ctx.io)));
  return e.exitCode;
}
