// The flags several verbs share, declared once with their line of help: the target pods, the
// agent's image and pull policy, a fault's duration, --detach, the window a recovery is watched.
import { UsageError } from "../errors.js";
import { PULL_POLICIES, WORKLOAD_KINDS, type TargetSelection, type WorkloadKind } from "../scenario/types.js";
import { boolean, choice, duration, labelSelector, podNames, required, text, type Flag } from "./flags.js";

/** -p, --service, --workload, -l: one of them says which pods (on disrupt, -l is --loss: --selector only). */
export function targetFlags(o: { readonly selectorShort: boolean }): {
  pod: Flag<string[]>;
  service: Flag<string | undefined>;
  workload: Flag<string | undefined>;
  selector: ReturnType<typeof labelSelector>;
} {
  return { pod: podNames(), service: text(), workload: text(), selector: labelSelector(o.selectorShort ? "l" : undefined) };
}
export const POD_FLAG = targetFlags({ selectorShort: true });
export const POD_HELP = `  -p, --pod POD          target pod (repeat, or comma-separate, for several); or instead:
  --service NAME         the pods of this Service (its selector); a --port of the Service's is
                         mapped to the pods' targetPort
  --workload KIND/NAME   the pods of a deployment, statefulset, daemonset or replicaset
  -l, --selector SEL     the pods matching a label selector, in kubectl's syntax
                         (app=web,tier in (a,b),!canary)`;
/** disrupt's: its -l is --loss, as pod-chaos had it */
export const POD_HELP_SELECTOR_LONG = POD_HELP.replace("  -l, --selector SEL ", "  --selector SEL     ");

const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** kubectl's short names of the workload kinds */
const WORKLOAD_ALIASES: Readonly<Record<string, WorkloadKind>> = { deploy: "deployment", sts: "statefulset", ds: "daemonset", rs: "replicaset" };

function workloadOf(text: string): TargetSelection {
  const [kind = "", name = "", ...rest] = text.split("/");
  const lower = kind.toLowerCase();
  const workload = WORKLOAD_KINDS.find((k) => k === lower) ?? WORKLOAD_ALIASES[lower];
  if (workload === undefined || rest.length > 0 || !OBJECT_NAME.test(name) || name.length > 253) {
    throw new UsageError(`--workload takes KIND/NAME, KIND one of ${WORKLOAD_KINDS.join(", ")}, not ${JSON.stringify(text)}`, { hint: "--workload deployment/web" });
  }
  return { kind: "workload", workload, name };
}

/** Which pods a verb targets: exactly one of -p, --service, --workload, -l. */
export function targetSelection(
  values: { readonly pod: readonly string[]; readonly service: string | undefined; readonly workload: string | undefined; readonly selector: ReturnType<ReturnType<typeof labelSelector>["read"]> },
  verb: string,
): TargetSelection {
  const given = [
    values.pod.length > 0 ? "-p" : "",
    values.service !== undefined ? "--service" : "",
    values.workload !== undefined ? "--workload" : "",
    values.selector !== undefined ? "-l" : "",
  ].filter((g) => g !== "");
  if (given.length === 0) throw new UsageError(`${verb} needs a pod: -p POD (or --service NAME, --workload KIND/NAME, -l SELECTOR)`, { hint: `chaos-run ${verb} -p nginx` });
  if (given.length > 1) throw new UsageError(`${verb} takes one target: ${given.join(" and ")} cannot be used together`);
  if (values.service !== undefined) {
    if (!SERVICE_NAME.test(values.service) || values.service.length > 63) throw new UsageError(`${JSON.stringify(values.service)} is not a Service name`);
    return { kind: "service", name: values.service };
  }
  if (values.workload !== undefined) return workloadOf(values.workload);
  if (values.selector !== undefined) return { kind: "selector", matchLabels: {}, matchExpressions: values.selector };
  return { kind: "pods", names: values.pod };
}

export const PULL_POLICY_FLAG = { "pull-policy": choice(PULL_POLICIES) };

/** compare's --min-change and run's and job's --compare-min-change: the smallest change of a duration that matters, ms. */
export function minChangeFlag(): Flag<number | undefined> {
  return duration({ plain: "milliseconds", min: 0, max: 3_600_000 });
}
export const PULL_POLICY_HELP = `  --pull-policy P        imagePullPolicy of the agent (and tools pod): IfNotPresent (default:
                         an image loaded into the nodes is used as it is), Always or Never`;

/** --agent-image and --pull-policy */
export const AGENT_FLAGS = { "agent-image": text(), ...PULL_POLICY_FLAG };
export const AGENT_HELP = `  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}`;

/** `-r 30` (seconds, as the verbs always took it), `-r 30s`, `-r 1.5m`; in milliseconds */
export const DURATION_FLAG = { duration: required(duration({ short: "r", plain: "seconds", min: 1, max: 24 * 3600, whole: true }), "needs a duration: -r SECONDS") };
export const DURATION_HELP = "  -r, --duration S       how long: seconds (30), or a duration (30s, 1.5m)";

export const DETACH_FLAG = { detach: boolean() };

/** How long a kill or a pod deletion is watched for the recovery, in milliseconds. */
export const WINDOW_FLAG = { window: duration({ short: "w", plain: "seconds", min: 1, max: 3600, whole: true }) };

export const HELP_HELP = "  -h, --help             this help";
