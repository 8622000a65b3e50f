// Preflight: everything that can be known to fail is checked before anything is touched, and a
// failure says the fix. Nothing here writes to the cluster.
import { CouldNotRunError } from "../errors.js";
import {
  NOBODY,
  POD_SECURITY_LEVELS,
  admits,
  enforcedLevel,
  killCapabilities,
  levelOf,
  nonRootSecurity,
  refusals,
  rootSecurity,
  securityWords,
  stressSecurity,
  type AddedContainerSecurity,
  type PodSecurityLevel,
  type PodUsers,
} from "../faults/index.js";
import { formatDuration } from "../expect/format.js";
import type { AccessCheck, ApiResource, Cluster, PodInfo } from "../kube/types.js";
import type { PodRef } from "./events.js";
import { asksPodAgents, probeRunsOf } from "../plan/plan.js";
import type { Plan, PlannedProbeRun } from "../plan/types.js";
import { defaultApiVersion } from "../scenario/kinds.js";
import { renderTemplate, usesTarget } from "../scenario/template.js";
import type { EventSink } from "./events.js";
import { faultsTravel } from "./first-fault.js";

export interface PreflightNeeds {
  /** probes run in a chaos-tools pod that chaos-run creates and deletes */
  readonly toolsPod: boolean;
  /** agents are added (else only existing ones are used) */
  readonly injectAgents: boolean;
  /** kill agents are added (one per kill step and pod, with SYS_PTRACE or KILL) */
  readonly killAgents?: boolean | undefined;
  /** stress agents are added (one per stress step and pod, no capability, the pod's user where it or the namespace demands non-root) */
  readonly stressAgents?: boolean | undefined;
  /** pods are deleted through the API (podDelete), and their controllers watched */
  readonly deletePods?: boolean | undefined;
  /** the target pods are found by a label selector (a list of the namespace's pods), not by name */
  readonly selectsPods?: boolean | undefined;
  /** the target is a Service or workload, read for its selector: `service/web`, `deployment/web` */
  readonly via?: string | undefined;
  /** a fault travels with fresh agents (the first step's, a stress step's), whose logs tell it is held (first-fault.ts) */
  readonly readsAgentLogs?: boolean | undefined;
}

/** The resource a target's `service/NAME` or `deployment/NAME` is read from. */
const VIA_RESOURCES: Readonly<Record<string, { readonly group: string; readonly resource: string }>> = {
  service: { group: "", resource: "services" },
  deployment: { group: "apps", resource: "deployments" },
  statefulset: { group: "apps", resource: "statefulsets" },
  daemonset: { group: "apps", resource: "daemonsets" },
  replicaset: { group: "apps", resource: "replicasets" },
};

/** The read of a Service or workload target (by its name), as an access check. */
export function viaRead(via: string, namespace: string): AccessCheck[] {
  const [kind = "", name] = via.split("/");
  const read = VIA_RESOURCES[kind];
  return read === undefined ? [] : [{ verb: "get", group: read.group === "" ? undefined : read.group, resource: read.resource, namespace, name }];
}

/** A resource as kubectl names it: `pods`, `deployments.apps`. */
function resourceName(check: AccessCheck): string {
  return check.group === undefined || check.group === "" ? check.resource : `${check.resource}.${check.group}`;
}

/** `patch pods/ephemeralcontainers`, `list deployments.apps`; with `… in namespace X` / `… cluster-wide` when its namespace is not `implied`. */
function describe(check: AccessCheck, implied: string | undefined): string {
  const where = check.namespace === implied ? "" : check.namespace === "" ? " cluster-wide" : ` in namespace ${check.namespace}`;
  const name = check.name === undefined ? "" : ` "${check.name}"`;
  return `${check.verb} ${resourceName(check)}${check.subresource === undefined ? "" : `/${check.subresource}`}${name}${where}`;
}

/** Every probe run of the plan: steady state, probe steps, and probes during faults. */
function probeRuns(plan: Plan): PlannedProbeRun[] {
  return [...plan.steadyState, ...plan.steps.flatMap((s) => (s.kind === "probe" ? [s.run] : s.kind === "fault" ? s.during : []))];
}

/**
 * The names a k8s probe's `name` reads: itself, or filled in for each target pod; undefined when
 * it cannot be filled in before the run (the probe then says why when it runs), and the whole
 * resource is checked instead.
 */
function namesRead(template: string, pods: readonly PodInfo[], env: Readonly<Record<string, string | undefined>>): string[] | undefined {
  try {
    if (!usesTarget(template)) return [renderTemplate(template, { env })];
    if (pods.length === 0) return undefined;
    return [...new Set(pods.map((p) => renderTemplate(template, { target: { ip: p.ip ?? "", name: p.name }, env })))];
  } catch {
    return undefined;
  }
}

/** How a kind is resolved to the resource the API server serves it as: discovery (the preflight), or a table of the usual kinds (`chaos-run job`, offline). */
export type KindResolver = (apiVersion: string, kind: string) => Promise<ApiResource | undefined>;

/**
 * What the k8s probes read, as access checks: each kind resolved through discovery (a kind the
 * API server does not serve is refused here, before anything is touched). They read with the
 * caller's own permissions, in the namespace they name or the run's; a read by name is checked
 * for that name (for each target pod's, when the name is theirs), as the API server will judge it.
 */
export async function probeReads(plan: Plan, resolve: KindResolver, namespace: string, pods: readonly PodInfo[], env: Readonly<Record<string, string | undefined>>): Promise<AccessCheck[]> {
  const checks = new Map<string, AccessCheck>();
  for (const run of probeRuns(plan)) {
    if (run.spec.kind !== "k8s") continue;
    const k = run.spec.k8s;
    const apiVersion = k.apiVersion ?? defaultApiVersion(k.kind) ?? "v1";
    const served = await resolve(apiVersion, k.kind);
    if (served === undefined) {
      throw new CouldNotRunError(`probe ${run.probe}: the API server has no kind ${k.kind} in ${apiVersion} (nothing was touched)`, {
        hint: "kubectl api-resources lists the kinds and their apiVersion: set the probe's apiVersion",
      });
    }
    const base = { group: served.group, resource: served.resource, namespace: served.namespaced ? (k.namespace ?? namespace) : "" };
    const names = k.name === undefined ? [] : namesRead(k.name, pods, env);
    const reads: AccessCheck[] = k.name === undefined ? [{ verb: "list", ...base }] : names === undefined ? [{ verb: "get", ...base }] : names.map((name) => ({ verb: "get", ...base, name }));
    for (const check of reads) checks.set(`${check.verb} ${check.group} ${check.resource} ${check.namespace} ${check.name ?? ""}`, check);
  }
  return [...checks.values()];
}

/** What the plan will do, as the preflight checks it: a tools pod for its probes, the agents it adds, the pods it deletes. */
export function needsOf(plan: Plan): PreflightNeeds {
  const faultSteps = plan.steps.flatMap((st) => (st.kind === "fault" ? [st] : []));
  return {
    toolsPod: plan.steadyState.length > 0 || plan.steps.some((st) => st.kind === "probe" || (st.kind === "fault" && st.during.length > 0)),
    injectAgents: plan.agent.needed ?? (faultSteps.length > 0 || plan.steps.length === 0 || asksPodAgents(probeRunsOf(plan))),
    killAgents: faultSteps.some((st) => st.fault.delivery === "kill-agent"),
    stressAgents: faultSteps.some((st) => st.fault.delivery === "stress-agent"),
    deletePods: faultSteps.some((st) => st.fault.delivery === "api"),
    selectsPods: plan.target.selector !== undefined || plan.target.via !== undefined,
    via: plan.target.via,
    readsAgentLogs: faultsTravel(plan),
  };
}

/** The run adds containers to the target pods (its agent, kill or stress agents). */
function addsContainers(needs: PreflightNeeds): boolean {
  return needs.injectAgents || needs.killAgents === true || needs.stressAgents === true;
}

/** The run reads its namespace's Pod Security labels (a container it adds or creates must be admitted); without the right, that is checked as each is added. */
export function readsNamespace(needs: PreflightNeeds): boolean {
  return addsContainers(needs) || needs.toolsPod;
}

/**
 * Every permission a run needs in its namespace besides its k8s probes' reads: what the preflight
 * checks, and what `chaos-run job` grants the runner's ServiceAccount (src/deploy/rbac.ts), from
 * this one list. The pods are read, and followed on the namespace's one pod watch from the
 * preflight on (a target going away; each added container awaited), so `watch` always.
 */
export function runAccess(needs: PreflightNeeds, namespace: string): AccessCheck[] {
  const checks: AccessCheck[] = [
    { verb: "get", resource: "pods", namespace },
    { verb: "watch", resource: "pods", namespace },
    { verb: "create", resource: "pods", subresource: "exec", namespace },
    // an exec over a websocket (client-node's) is an HTTP GET, which the API server authorizes as
    // get pods/exec (newer ones check create as well): a Role with create alone is refused at the first exec
    { verb: "get", resource: "pods", subresource: "exec", namespace },
  ];
  if (addsContainers(needs)) checks.push({ verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace });
  // a fresh agent's first reply, read from its log instead of asked by exec (without the right: by exec)
  if (needs.readsAgentLogs === true && addsContainers(needs)) checks.push({ verb: "get", resource: "pods", subresource: "log", namespace, optional: true });
  // a line held to each pod's agent for its applies, renewals and reverts (agent-line.ts), an attach: a
  // websocket, authorized as get and (newer API servers) create; without the rights, by exec
  if (needs.injectAgents)
    checks.push({ verb: "create", resource: "pods", subresource: "attach", namespace, optional: true }, { verb: "get", resource: "pods", subresource: "attach", namespace, optional: true });
  if (needs.toolsPod) checks.push({ verb: "create", resource: "pods", namespace }, { verb: "delete", resource: "pods", namespace });
  // by selector, and a deleted pod's replacement found among the namespace's pods
  if (needs.selectsPods === true || needs.deletePods === true) checks.push({ verb: "list", resource: "pods", namespace });
  if (needs.deletePods === true && !needs.toolsPod) checks.push({ verb: "delete", resource: "pods", namespace });
  // a Service or workload target: read for its selector (a Service's named ports: the pods' own, with list pods)
  if (needs.via !== undefined) checks.push(...viaRead(needs.via, namespace));
  return checks;
}

/** The runner's own pod (a run inside the cluster) among the candidates a target was chosen from: refused, whatever the choice. */
function refuseRunnerPod(plan: Plan, namespace: string, runner: PodRef | undefined, emit: EventSink, now: () => number): void {
  if (runner === undefined) return;
  const matched = runner.namespace === namespace && (plan.target.candidates ?? plan.target.pods.map((p) => p.name)).includes(runner.name);
  emit({ type: "preflight", at: now(), check: "runner", ok: !matched, detail: `this run's own pod is ${runner.namespace}/${runner.name}` });
  if (!matched) return;
  throw new CouldNotRunError(
    `the target ${plan.target.selector === undefined ? "names" : `selector ${plan.target.selector} matches`} this run's own pod ${runner.namespace}/${runner.name}: a run never targets itself (nothing was touched)`,
    {
      hint: "narrow the target (a label the runner's pod does not carry), or run the scenario from another namespace",
    },
  );
}

/** The margin an agent's TTL must leave beyond the run's timeline (probes and reverts take time too). */
export const TTL_MARGIN_MS = 60_000;

export async function preflight(
  plan: Plan,
  cluster: Cluster,
  namespace: string,
  pods: readonly PodInfo[],
  needs: PreflightNeeds,
  env: Readonly<Record<string, string | undefined>>,
  emit: EventSink,
  now: () => number,
  runner?: PodRef | undefined,
): Promise<PodSecurityLevel | undefined> {
  refuseRunnerPod(plan, namespace, runner, emit, now);
  const checks = runAccess(needs, namespace);
  const reads = await probeReads(plan, (apiVersion, kind) => cluster.apiResource(apiVersion, kind), namespace, pods, env);
  const all = [...checks, ...reads];
  const answers = await Promise.all(all.map(async (c) => ({ check: c, allowed: await cluster.canI(c) })));
  const optionalDenied = answers.filter((a) => !a.allowed && a.check.optional === true).map((a) => a.check);
  for (const sub of new Set(optionalDenied.map((c) => c.subresource))) {
    const which = optionalDenied.filter((c) => c.subresource === sub);
    emit({
      type: "warning",
      at: now(),
      message: `${cluster.identity.user || "this user"} may not ${which.map((c) => describe(c, namespace)).join(", ")} in namespace ${namespace}: ${sub === "attach" ? "the agents' applies, renewals and reverts go by exec instead, an exec each, where a line held to each agent would carry them" : "the faults that travel with the agents are confirmed by exec instead, one more exec a pod"} (deploy/rbac.yaml grants it)`,
    });
  }
  const denied = answers.filter((a) => !a.allowed && a.check.optional !== true).map((a) => a.check);
  // "may not A, B in namespace NS" when all of them are in the run's namespace; else each says where
  const implied = denied.every((c) => c.namespace === namespace) ? namespace : undefined;
  const say = (c: AccessCheck): string => describe(c, implied);
  emit({
    type: "preflight",
    at: now(),
    check: "rbac",
    ok: denied.length === 0,
    detail: denied.length === 0 ? `allowed: ${answers.flatMap((a) => (a.allowed ? [say(a.check)] : [])).join(", ")}` : `denied: ${denied.map(say).join(", ")}`,
  });
  if (denied.length > 0) {
    const user = cluster.identity.user || "<you>";
    const hints: string[] = [];
    if (denied.some((c) => checks.includes(c))) {
      hints.push(`grant the ClusterRole in deploy/rbac.yaml: kubectl apply -f deploy/rbac.yaml && kubectl create rolebinding chaos-run --clusterrole chaos-run --user ${user} -n ${namespace}`);
    }
    const probeDenied = denied.filter((c) => reads.includes(c));
    if (probeDenied.length > 0) {
      const resources = [...new Set(probeDenied.map(resourceName))].join(",");
      const bindings = [...new Set(probeDenied.map((c) => c.namespace))].map((ns) =>
        ns === ""
          ? `kubectl create clusterrolebinding chaos-run-probe-reads --clusterrole chaos-run-probe-reads --user ${user}`
          : `kubectl create rolebinding chaos-run-probe-reads --clusterrole chaos-run-probe-reads --user ${user} -n ${ns}`,
      );
      hints.push(`the k8s probes read with your own permissions: kubectl create clusterrole chaos-run-probe-reads --verb get,list --resource ${resources} && ${bindings.join(" && ")}`);
    }
    const where = implied === undefined ? "" : ` in namespace ${namespace}`;
    throw new CouldNotRunError(`${cluster.identity.user || "this user"} may not ${denied.map(say).join(", ")}${where} (nothing was touched)`, { hint: hints.join("; ") });
  }

  const level = readsNamespace(needs) ? podSecurity(plan, needs, namespace, pods, await cluster.namespaceLabels(namespace), emit, now) : undefined;

  const needed = plan.timelineMs + TTL_MARGIN_MS;
  const ttlOk = plan.agent.ttlMs >= needed;
  emit({ type: "preflight", at: now(), check: "agent-ttl", ok: ttlOk, detail: `ttl ${formatDuration(plan.agent.ttlMs)}, run ${formatDuration(plan.timelineMs)}` });
  if (!ttlOk) {
    throw new CouldNotRunError(
      `agent.ttl ${formatDuration(plan.agent.ttlMs)} is shorter than the run's timeline ${formatDuration(plan.timelineMs)} plus ${formatDuration(TTL_MARGIN_MS)}: the agent would revert mid-run`,
      {
        hint: `set agent.ttl to at least ${formatDuration(needed)} in the scenario`,
      },
    );
  }
  return level;
}

/** What of a pod decides the user a stress agent runs as. */
export function podUsers(pod: PodInfo): PodUsers {
  return { runAsNonRoot: pod.security.runAsNonRoot, runAsUser: pod.security.runAsUser, runAsGroup: pod.security.runAsGroup, containerUsers: pod.containers.map((c) => c.runAsUser) };
}

/** What the pod's own securityContext would have done to an added container, had chaos-run not set its own. */
function inherited(pod: PodInfo): string | undefined {
  const s = pod.security;
  const facts: string[] = [];
  if (s.runAsUser !== undefined && s.runAsUser !== 0) facts.push(`runAsUser ${s.runAsUser} (capabilities would not be effective)`);
  if (s.runAsNonRoot === true) facts.push("runAsNonRoot: true (a root agent would not start)");
  if (facts.length === 0) return undefined;
  return `pod ${pod.name} sets ${facts.join(" and ")} at pod level; each added container's own securityContext overrides it for that container alone`;
}

/** One container chaos-run will add, as it will be sent: for whom, and what it runs as. */
interface Added {
  /** `the agent (step 2 latency: netem …)`, `step 3 (burn)'s stress agent in pod web-a` */
  readonly what: string;
  readonly security: AddedContainerSecurity;
}

/** Every container the run will add, with the securityContext it will be sent with (per pod where that depends on the pod). */
function addedContainers(plan: Plan, needs: PreflightNeeds, pods: readonly PodInfo[], level: PodSecurityLevel): Added[] {
  const out: Added[] = [];
  const faults = plan.steps.flatMap((s) => (s.kind === "fault" ? [s] : []));
  const held = faults.filter((s) => s.fault.delivery === "agent").map((s) => `step ${s.index + 1} (${s.name}): ${s.fault.fault.kind}`);
  if (needs.injectAgents) out.push({ what: `the pod's agent${held.length > 0 ? ` (${held.join(", ")})` : ""}`, security: rootSecurity(plan.agent.capabilities) });
  for (const s of faults) {
    const f = s.fault;
    const step = `step ${s.index + 1} (${s.name})`;
    for (const p of pods) {
      if (f.delivery === "kill-agent")
        out.push({ what: `${step}'s kill agent in pod ${p.name} (${f.fault.signal})`, security: rootSecurity(killCapabilities(f.fault.signal, p.shareProcessNamespace !== true)) });
      if (f.delivery === "stress-agent") out.push({ what: `${step}'s stress agent in pod ${p.name}`, security: stressSecurity(podUsers(p), level) });
    }
  }
  if (needs.toolsPod) out.push({ what: "the probes' tools pod", security: nonRootSecurity(NOBODY) });
  return out;
}

/**
 * Each container the run adds, with the securityContext it will be sent with, against the level
 * the namespace enforces (Pod Security re-evaluates the whole pod when an ephemeral container is
 * added, and refuses it with a 403): what the level refuses of which container, the level that
 * admits it, and the label to change. Returns the enforced level (undefined: not readable).
 */
function podSecurity(
  plan: Plan,
  needs: PreflightNeeds,
  namespace: string,
  pods: readonly PodInfo[],
  labels: Readonly<Record<string, string>> | undefined,
  emit: EventSink,
  now: () => number,
): PodSecurityLevel | undefined {
  const notes = pods.map(inherited).filter((n): n is string => n !== undefined);
  if (labels === undefined) {
    emit({ type: "preflight", at: now(), check: "pod-security", ok: true, detail: [`cannot read namespace ${namespace}: Pod Security is checked when each container is added`, ...notes].join("; ") });
    return undefined;
  }
  const level = enforcedLevel(labels);
  const added = addedContainers(plan, needs, pods, level);
  const refused = added.filter((a) => !admits(level, levelOf(a.security)));
  const label = labels["pod-security.kubernetes.io/enforce"];
  emit({ type: "preflight", at: now(), check: "pod-security", ok: refused.length === 0, detail: [`namespace ${namespace} enforces ${label ?? "no level (privileged)"}`, ...notes].join("; ") });
  if (refused.length === 0) return level;
  const lines = refused.map((a) => `  ${a.what}: ${securityWords(a.security)} — "${level}" refuses it: it ${refusals(a.security, level).join("; ")}; "${levelOf(a.security)}" admits it`);
  const needed = POD_SECURITY_LEVELS.filter((l) => refused.every((a) => admits(l, levelOf(a.security))))[0] ?? "privileged";
  throw new CouldNotRunError(
    `namespace ${namespace} enforces Pod Security "${level}", which refuses ${refused.length === 1 ? "a container" : `${refused.length} containers`} this run adds (nothing was touched):\n${lines.join("\n")}`,
    {
      hint: `if the "${needed}" level is acceptable for this namespace: kubectl label namespace ${namespace} pod-security.kubernetes.io/enforce=${needed} --overwrite; otherwise run those faults in a namespace meant for them (stress, pod deletion and probes run under "restricted")`,
    },
  );
}
