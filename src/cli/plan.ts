// chaos-run plan FILE --offline [--seed N] [--pods a,b,c] [--namespace NS] [--format text|json]
import { PlanError, planOffline } from "../plan/plan.js";
import { formatPlan, planToJson } from "../plan/format.js";
import { diagnostic } from "../scenario/diagnostics.js";
import { readScenarioFile } from "../scenario/load.js";
import type { ValidationResult } from "../scenario/load.js";
import { UsageError } from "../errors.js";
import { toFileDiagnostics, writeDiagnostics } from "./diagnostics-output.js";
import { boolean, choice, podList, wholeNumber } from "./flags.js";
import { stdoutIsPretty } from "./io.js";
import type { VerbContext } from "./io.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run plan FILE --offline [options]

Prints the timeline a run of FILE would follow: the target pods, the agent container, each
step's start offset and duration, each fault's exact requests to the agent (apply and revert,
in the agent protocol) and the probes with their expectations. Same file and seed, same plan,
byte for byte. The tc and nft commands (iptables on a kernel without nf_tables) depend on each
pod (its interface, the tc handles free there, its address families): the agent decides them,
and the journal records them.

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

const FLAGS = {
  offline: boolean(),
  seed: wholeNumber({ min: 0, max: 4294967295 }),
  pods: podList(),
  format: choice(["text", "json"] as const, "text"),
};

export const run = defineVerb(
  {
    name: "plan",
    help: HELP,
    flags: FLAGS,
    positionals: { missing: "needs a scenario FILE", one: "takes one FILE" },
    example: "chaos-run plan scenarios/nginx-latency.yaml --offline",
  },
  async ({ ctx, values, positionals }) => {
    const file = positionals[0] ?? "";
    if (!values.offline) throw new UsageError("plan against a cluster is not implemented yet", { hint: `add --offline: chaos-run plan ${file} --offline` });
    const result = readScenarioFile(file);
    if (result.scenario === undefined) {
      writeDiagnostics(ctx, [toFileDiagnostics(result)], values.format);
      return 2;
    }
    try {
      const plan = planOffline(result.scenario, { seed: values.seed, pods: values.pods, namespace: ctx.globals.namespace });
      ctx.io.stdout.write(values.format === "json" ? `${JSON.stringify(planToJson(plan, file), null, 2)}\n` : formatPlan(plan, file, { color: stdoutIsPretty(ctx.io) }));
      return 0;
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      return writePlanError(ctx, file, result, e, values.format);
    }
  },
);

/** A refusal to plan, located in the scenario like any diagnostic; returns its exit code. */
export function writePlanError(ctx: VerbContext, file: string, result: ValidationResult, e: PlanError, format: "text" | "json"): number {
  const at = result.source.locate(e.path, "value");
  const d =
    e.code === "system-namespace"
      ? diagnostic(file, "system-namespace", { namespace: e.namespace ?? "" }, at, e.hint)
      : diagnostic(file, e.code === "no-pods" || e.code === "not-enough-pods" || e.code === "host-network" || e.code === "stress-bound" ? e.code : "blast-radius", { detail: e.message }, at, e.hint);
  writeDiagnostics(ctx, [{ ...toFileDiagnostics(result), diagnostics: [d] }], format);
  return e.exitCode;
}
