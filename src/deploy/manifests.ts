// The manifests that run a scenario inside the cluster, from its plan (`chaos-run job`): a
// ConfigMap with the scenario; a ServiceAccount with exactly the rights the run checks for (a Role
// per namespace, a ClusterRole only for a probe's read of a cluster-scoped kind); and a Job, or a
// CronJob whose runs never overlap (concurrencyPolicy Forbid: a tick that comes while a run still
// goes is started when it ends, within startingDeadlineSeconds, else dropped; it says nothing of
// other Jobs on the same pods — their agents refuse a conflicting fault of another live run). The runner is a well-behaved workload: app.kubernetes.io labels,
// requests and limits, non-root with a read-only root file system, every capability dropped,
// the runtime's seccomp profile. Pure: objects in, objects out (yaml.ts writes them).
import type { DerivedRbac, ExplainedRule } from "./rbac.js";

/** A manifest and the comment written above it. */
export interface Manifest {
  readonly comment: string;
  readonly object: Readonly<Record<string, unknown>>;
}

export interface JobInput {
  /** the instance: names every object (`--name`, default chaos-run-<scenario>) */
  readonly name: string;
  /** where the runner runs, and its results are kept */
  readonly namespace: string;
  readonly targetNamespace: string;
  readonly scenarioName: string;
  readonly scenarioText: string;
  readonly image: string;
  readonly version: string;
  /** a CronJob's schedule; undefined: a Job */
  readonly schedule: string | undefined;
  readonly rbac: DerivedRbac;
  /** the run's longest possible life, and then the time its SIGTERM takes (reverts, the record) */
  readonly activeDeadlineSeconds: number;
  readonly terminationGracePeriodSeconds: number;
  /** the names the scenario's templates take from the environment: from the Secret <name>-env */
  readonly envNames: readonly string[];
  /** what the runner is told besides the scenario, its namespace and --record (--pushgateway, --agent-image…) */
  readonly runArgs: readonly string[];
}

/** Where the scenario is mounted in the runner. */
export const SCENARIO_DIR = "/etc/chaos-run";
export const SCENARIO_KEY = "scenario.yaml";
/** A Job's pods and an evicted runner's logs: a day; the result ConfigMap is what stays. */
export const TTL_AFTER_FINISHED_SECONDS = 86_400;
/** What the runner asks for and may use (`npm run bench -- in-cluster` measures its peak). */
export const RUNNER_RESOURCES = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "256Mi" } } as const;
/** The image's user (Dockerfile.runner): a uid no distribution gives a name. */
export const RUNNER_UID = 65532;

function labels(input: JobInput, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "chaos-run",
    "app.kubernetes.io/instance": input.name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "chaos-run",
    "app.kubernetes.io/version": input.version,
    "chaos-run.dev/scenario": input.scenarioName,
  };
}

function meta(input: JobInput, name: string, component: string, namespace?: string): Record<string, unknown> {
  return { name, ...(namespace === undefined ? {} : { namespace }), labels: labels(input, component) };
}

/** Rules as a Role holds them, each with its reason (yaml.ts writes the reasons as comments). */
function rules(list: readonly ExplainedRule[]): Record<string, unknown>[] {
  return list.map((r) => ({ ...r.rule, "#": r.why }));
}

function rbacManifests(input: JobInput): Manifest[] {
  const subject = { kind: "ServiceAccount", name: input.name, namespace: input.namespace };
  const out: Manifest[] = [];
  // the targets' namespace first, then the runner's, then any other a probe reads in
  const rank = (ns: string): number => (ns === input.targetNamespace ? 0 : ns === input.namespace ? 1 : 2);
  for (const [ns, list] of [...input.rbac.namespaced].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))) {
    const what = ns === input.targetNamespace ? "of the run, in its targets' namespace" : ns === input.namespace ? "to record the run's result" : `of the probes' reads in namespace ${ns}`;
    out.push({
      comment: `The rights ${what}: derived from the plan (the checks its preflight makes), and no more.`,
      object: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(input, input.name, "rbac", ns), rules: rules(list) },
    });
    out.push({
      comment: "",
      object: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: meta(input, input.name, "rbac", ns),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: input.name },
        subjects: [subject],
      },
    });
  }
  if (input.rbac.cluster.length === 0) return out;
  const clusterName = `${input.name}-${input.namespace}`;
  out.push({
    comment: "A probe reads a cluster-scoped kind: that read, cluster-wide, and nothing else.",
    object: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: meta(input, clusterName, "rbac"), rules: rules(input.rbac.cluster) },
  });
  out.push({
    comment: "",
    object: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: meta(input, clusterName, "rbac"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterName },
      subjects: [subject],
    },
  });
  return out;
}

const RESTRICTED = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };

function runnerContainer(input: JobInput): Record<string, unknown> {
  const field = (path: string) => ({ valueFrom: { fieldRef: { fieldPath: path } } });
  const secret = `${input.name}-env`;
  return {
    name: "chaos-run",
    image: input.image,
    imagePullPolicy: "IfNotPresent",
    args: ["run", `${SCENARIO_DIR}/${SCENARIO_KEY}`, "-n", input.targetNamespace, "--record", "--output", "plain", "--report-dir", "/tmp/chaos-run-report", ...input.runArgs],
    env: [
      // the runner's own pod: never a target (refused at preflight), and where its results go
      { name: "CHAOS_RUN_POD_NAME", ...field("metadata.name") },
      { name: "CHAOS_RUN_POD_NAMESPACE", ...field("metadata.namespace") },
      { name: "CHAOS_RUN_INSTANCE", value: input.name },
      ...input.envNames.map((name) => ({ name, valueFrom: { secretKeyRef: { name: secret, key: name } } })),
    ],
    resources: RUNNER_RESOURCES,
    securityContext: RESTRICTED,
    volumeMounts: [
      { name: "scenario", mountPath: SCENARIO_DIR, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
}

/** The runner's pod: SIGTERM (the Job deleted, its deadline) reverts every fault before the grace period ends. */
function podTemplate(input: JobInput): Record<string, unknown> {
  return {
    metadata: { labels: labels(input, "runner"), annotations: { "kubectl.kubernetes.io/default-container": "chaos-run" } },
    spec: {
      serviceAccountName: input.name,
      automountServiceAccountToken: true,
      enableServiceLinks: false,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: input.terminationGracePeriodSeconds,
      securityContext: { runAsNonRoot: true, runAsUser: RUNNER_UID, runAsGroup: RUNNER_UID, seccompProfile: { type: "RuntimeDefault" } },
      containers: [runnerContainer(input)],
      volumes: [
        { name: "scenario", configMap: { name: `${input.name}-scenario` } },
        { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
      ],
    },
  };
}

function jobSpec(input: JobInput): Record<string, unknown> {
  return {
    // a chaos experiment is not retried by the Job controller: a failed run says why, once
    backoffLimit: 0,
    activeDeadlineSeconds: input.activeDeadlineSeconds,
    ttlSecondsAfterFinished: TTL_AFTER_FINISHED_SECONDS,
    template: podTemplate(input),
  };
}

/** Where the values of the scenario's {{ env.NAME }} come from, when it has any. */
function secretNote(input: JobInput): string {
  if (input.envNames.length === 0) return "";
  const literals = input.envNames.map((n) => `--from-literal=${n}=...`).join(" ");
  return `\nIts {{ env.* }} values come from the Secret ${input.name}-env: kubectl create secret generic ${input.name}-env -n ${input.namespace} ${literals}`;
}

function workload(input: JobInput): Manifest {
  if (input.schedule === undefined) {
    return {
      comment: `Runs ${input.scenarioName} once. Deleting it mid-run reverts every fault (SIGTERM); to run it again, delete it and apply again.${secretNote(input)}`,
      object: { apiVersion: "batch/v1", kind: "Job", metadata: meta(input, input.name, "runner", input.namespace), spec: jobSpec(input) },
    };
  }
  return {
    comment: `Runs ${input.scenarioName} on "${input.schedule}", never two at once (a tick that comes while a run still goes waits for it to end, and is dropped when that is over 5 minutes late).${secretNote(input)}`,
    object: {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta(input, input.name, "runner", input.namespace),
      spec: {
        schedule: input.schedule,
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 300,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: { metadata: { labels: labels(input, "runner") }, spec: jobSpec(input) },
      },
    },
  };
}

/** Every manifest, in the order `kubectl apply -f -` creates them. */
export function jobManifests(input: JobInput): Manifest[] {
  return [
    {
      comment: `The scenario, as written (${input.scenarioName}).`,
      object: { apiVersion: "v1", kind: "ConfigMap", metadata: meta(input, `${input.name}-scenario`, "scenario", input.namespace), data: { [SCENARIO_KEY]: input.scenarioText } },
    },
    {
      comment: "The runner's identity: only the Roles below are bound to it.",
      object: { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(input, input.name, "rbac", input.namespace) },
    },
    ...rbacManifests(input),
    workload(input),
  ];
}
