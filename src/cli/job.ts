// chaos-run job FILE [--schedule CRON] [-n NS] [--image IMAGE] [--name NAME]: prints the manifests
// that run the scenario inside the cluster (src/deploy). Offline: the plan is made without a
// cluster, and the Role from the checks that plan's run makes; only a probe's kind the table of
// usual kinds does not know is looked up in the cluster's discovery.
import { ExitCode, UsageError } from "../errors.js";
import { needsOf } from "../engine/preflight.js";
import { jobManifests } from "../deploy/manifests.js";
import { defaultInstanceName, INSTANCE_NAME, scheduleProblem } from "../deploy/names.js";
import { knownResource } from "../deploy/kinds.js";
import { deriveRbac } from "../deploy/rbac.js";
import { runnerDeadlines, runnerGrants } from "../deploy/runner-plan.js";
import { manifestsYaml } from "../deploy/yaml.js";
import type { ApiResource, Cluster } from "../kube/types.js";
import { PlanError, planOffline } from "../plan/plan.js";
import { readScenarioFile } from "../scenario/load.js";
import { templateSecrets } from "../scenario/template.js";
import type { Scenario } from "../scenario/types.js";
import { CLUSTER_HELP, ENGINE_DEFAULTS, connectFromFlags } from "./cluster.js";
import { HELP_HELP, PULL_POLICY_FLAG, PULL_POLICY_HELP, minChangeFlag } from "./common-flags.js";
import { toFileDiagnostics, writeDiagnostics } from "./diagnostics-output.js";
import { boolean, name, percent, text, wholeNumber } from "./flags.js";
import type { VerbContext } from "./io.js";
import { writePlanError } from "./plan.js";
import { defineVerb, type FlagValues } from "./verb.js";
import { version } from "./version.js";

export const DEFAULT_RUNNER_IMAGE = "docker.io/library/chaos-run:latest";

const HELP = `Usage: chaos-run job FILE [--schedule CRON] [-n NS] [--image IMAGE] [--name NAME] [options]

Prints the manifests that run the scenario inside the cluster, for kubectl apply -f - or a
GitOps repository: a ConfigMap with the scenario; a ServiceAccount with a Role and RoleBinding
granting exactly what this scenario's faults, probes and record need (derived from its plan, the
same checks its preflight makes; a ClusterRole only when a probe reads a cluster-scoped kind);
and a Job, or with --schedule a CronJob that never runs twice at once. The runner records each
run: Events on the target pods and a result ConfigMap (chaos-run history, report --from-cluster).

Options:
  --schedule CRON        a CronJob on this schedule ("*/30 * * * *", @hourly) instead of a Job
  --name NAME            names every object (default chaos-run-<scenario>; at most 52 characters)
  --image IMAGE          the runner's image (default ${DEFAULT_RUNNER_IMAGE}; Dockerfile.runner)
  --keep N               results kept per scenario (default 20)
  --pushgateway URL      the runner pushes its metrics there (chaos_run_*)
  --compare-to-last      each run judged against the newest kept run of the scenario that passed
                         (run --compare-to-last: a regression fails the Job); the Role may read them
  --compare-threshold P  the smallest change that matters to it (default 20%)
  --compare-min-change D the smallest change of a duration that matters to it
  --agent-image IMAGE    the agent's image (default: the scenario's agent.image, else
                         docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}
${HELP_HELP}
${CLUSTER_HELP.replace("namespace (default: the scenario's, else the context's, else default)", "the Job's namespace, where results are kept (default: the scenario's, else default)")}

Exit status: 0 printed, 2 invalid scenario or usage, 3 refused (a plan that cannot run).
`;

const FLAGS = {
  schedule: text(),
  name: name(INSTANCE_NAME, "a name for the manifests (a DNS label of at most 52 characters)"),
  image: text(),
  keep: wholeNumber({ min: 1, max: 1000 }),
  pushgateway: text(),
  "compare-to-last": boolean(),
  "compare-threshold": percent({ takes: "a number of percent from 0 to 100 (20 or 20%): the smallest change that matters" }),
  "compare-min-change": minChangeFlag(),
  "agent-image": text(),
  ...PULL_POLICY_FLAG,
};

/** What the runner is told besides its scenario: each given flag, as given. */
function runArgs(values: FlagValues<typeof FLAGS>): string[] {
  const out: string[] = [];
  if (values.keep !== undefined) out.push("--record-keep", String(values.keep));
  if (values.pushgateway !== undefined) out.push("--pushgateway", values.pushgateway);
  if (values["compare-to-last"]) out.push("--compare-to-last");
  if (values["compare-threshold"] !== undefined) out.push("--compare-threshold", `${values["compare-threshold"]}%`);
  if (values["compare-min-change"] !== undefined) out.push("--compare-min-change", `${values["compare-min-change"]}ms`);
  if (values["agent-image"] !== undefined) out.push("--agent-image", values["agent-image"]);
  if (values["pull-policy"] !== undefined) out.push("--pull-policy", values["pull-policy"]);
  return out;
}

/** The usual kinds from a table; any other through the cluster's discovery (connected once, when first needed). */
function kindResolver(ctx: VerbContext): { resolve: (v: string, k: string) => Promise<ApiResource | undefined>; close: () => void } {
  let cluster: Promise<Cluster> | undefined;
  return {
    resolve: async (apiVersion, kind) => {
      const known = knownResource(apiVersion, kind);
      if (known !== undefined) return known;
      cluster ??= connectFromFlags(ctx.globals, ctx.io);
      return (await cluster).apiResource(apiVersion, kind);
    },
    close: () => void cluster?.then((c) => c.close()).catch(() => undefined),
  };
}

/** Every name the scenario's templates take from the environment (each looked up as if it were set). */
function envNames(scenario: Scenario): string[] {
  const everySet = new Proxy<Record<string, string>>({}, { get: (_t, key) => (typeof key === "string" ? "set" : undefined) });
  return templateSecrets(scenario, everySet).map((s) => s.name);
}

export const run = defineVerb(
  {
    name: "job",
    help: HELP,
    flags: FLAGS,
    positionals: { missing: "needs a scenario FILE", one: "takes one FILE" },
    example: "chaos-run job scenarios/nginx-latency.yaml -n chaos | kubectl apply -f -",
  },
  async ({ ctx, values, positionals }) => {
    const file = positionals[0] ?? "";
    for (const flag of ["compare-threshold", "compare-min-change"] as const) {
      if (values[flag] !== undefined && !values["compare-to-last"]) {
        throw new UsageError(`--${flag} is for --compare-to-last, which is not given`, { hint: "chaos-run job FILE --schedule CRON --compare-to-last" });
      }
    }
    const problem = values.schedule === undefined ? undefined : scheduleProblem(values.schedule);
    if (problem !== undefined) throw new UsageError(`--schedule ${JSON.stringify(values.schedule)}: ${problem}`, { hint: 'e.g. --schedule "*/30 * * * *"' });
    const result = readScenarioFile(file);
    if (result.scenario === undefined) {
      writeDiagnostics(ctx, [toFileDiagnostics(result)], "text");
      return ExitCode.Invalid;
    }
    const scenario = result.scenario;
    const namespace = ctx.globals.namespace ?? scenario.target.namespace ?? "default";
    const targetNamespace = scenario.target.namespace ?? namespace;
    let plan: ReturnType<typeof planOffline>;
    try {
      plan = planOffline(scenario, { namespace: targetNamespace, agentImage: values["agent-image"], pullPolicy: values["pull-policy"] });
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      return writePlanError(ctx, file, result, e, "text");
    }
    const kinds = kindResolver(ctx);
    try {
      const grants = await runnerGrants({ plan, needs: needsOf(plan), targetNamespace, namespace, resolve: kinds.resolve, compareToLast: values["compare-to-last"] });
      const instance = values.name ?? defaultInstanceName(scenario.metadata.name);
      const manifests = jobManifests({
        name: instance,
        namespace,
        targetNamespace,
        scenarioName: scenario.metadata.name,
        scenarioText: result.text,
        image: values.image ?? DEFAULT_RUNNER_IMAGE,
        version: version(),
        schedule: values.schedule?.trim(),
        rbac: deriveRbac(grants),
        ...runnerDeadlines(plan, ENGINE_DEFAULTS),
        envNames: envNames(scenario),
        runArgs: runArgs(values),
      });
      ctx.io.stdout.write(
        manifestsYaml(
          `chaos-run job ${file} (chaos-run ${version()}): kubectl apply -f -\nThe runner records each run: Events on the target pods, a result ConfigMap (chaos-run history -n ${namespace}).`,
          manifests,
        ),
      );
      return ExitCode.Ok;
    } finally {
      kinds.close();
    }
  },
);
