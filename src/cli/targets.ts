// The target pods as the cluster has them, running and not terminating: named pods (each must
// exist), the pods a selector matches, or those of a Service or a workload — found through the
// object's own selector (a Service's spec.selector, a workload's spec.selector), read before
// anything is touched. A fault's port on a Service target may be one of the Service's ports: it is
// mapped to the port the pods serve it on (its targetPort; a named one looked up in each pod's
// containers). How a Service or workload was resolved goes into the plan, in words.
import { CouldNotRunError } from "../errors.js";
import { viaRead } from "../engine/preflight.js";
import type { Fault } from "../faults/types.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import { targetSelector, targetVia } from "../plan/targets.js";
import { fromLabelSelector, isLabelKey, isLabelValue, matches, SELECTOR_OPERATORS, selectorString, type Requirement, type Selector } from "../scenario/selector.js";
import type { Scenario, Step, WorkloadKind } from "../scenario/types.js";

/** The API kind of each workload a target may name. */
const WORKLOAD_API: Readonly<Record<WorkloadKind, { readonly apiVersion: string; readonly kind: string }>> = {
  deployment: { apiVersion: "apps/v1", kind: "Deployment" },
  statefulset: { apiVersion: "apps/v1", kind: "StatefulSet" },
  daemonset: { apiVersion: "apps/v1", kind: "DaemonSet" },
  replicaset: { apiVersion: "apps/v1", kind: "ReplicaSet" },
};

/** A Service's port: `port` is what clients call, `targetPort` what the pods serve it on (a number, or a name of a container's port). */
export interface ServicePort {
  readonly name: string | undefined;
  readonly port: number;
  readonly targetPort: number | string;
}

export interface ResolvedTargets {
  /** the scenario, its target resolved (a Service's or workload's selector, in words) and its faults' Service ports mapped */
  readonly scenario: Scenario;
  readonly pods: PodInfo[];
}

type Json = Readonly<Record<string, unknown>>;

function record(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** A map of label key → value, when every entry is one. */
function labelMap(v: unknown): Record<string, string> | undefined {
  const r = record(v);
  if (r === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(r)) {
    if (typeof value !== "string" || !isLabelKey(k) || !isLabelValue(value)) return undefined;
    out[k] = value;
  }
  return out;
}

/** A Service's selector and ports, from the object the API server gave. */
export function readService(object: unknown): { selector: Selector | undefined; ports: ServicePort[] } {
  const spec = record(record(object)?.["spec"]);
  const labels = labelMap(spec?.["selector"]);
  const rawPorts = Array.isArray(spec?.["ports"]) ? (spec["ports"] as unknown[]) : [];
  const ports = rawPorts.flatMap((raw): ServicePort[] => {
    const p = record(raw);
    const port = p?.["port"];
    if (typeof port !== "number") return [];
    const target = p?.["targetPort"];
    const name = p?.["name"];
    return [{ name: typeof name === "string" ? name : undefined, port, targetPort: typeof target === "number" || typeof target === "string" ? target : port }];
  });
  return { selector: labels === undefined || Object.keys(labels).length === 0 ? undefined : fromLabelSelector(labels, []), ports };
}

function requirement(raw: unknown): Requirement | undefined {
  const e = record(raw);
  const key = e?.["key"];
  const operator = SELECTOR_OPERATORS.find((o) => o === e?.["operator"]);
  const values = Array.isArray(e?.["values"]) ? (e["values"] as unknown[]) : [];
  if (typeof key !== "string" || operator === undefined || !values.every((v) => typeof v === "string")) return undefined;
  return { key, operator, values: values as string[] };
}

/** A workload's spec.selector (matchLabels and matchExpressions); undefined when it has none that selects. */
export function readWorkloadSelector(object: unknown): Selector | undefined {
  const selector = record(record(record(object)?.["spec"])?.["selector"]);
  const labels = labelMap(selector?.["matchLabels"]) ?? {};
  const rawExpressions = Array.isArray(selector?.["matchExpressions"]) ? (selector["matchExpressions"] as unknown[]) : [];
  const expressions = rawExpressions.map(requirement);
  if (expressions.some((e) => e === undefined)) return undefined;
  const all = fromLabelSelector(labels, expressions as Requirement[]);
  return all.length === 0 ? undefined : all;
}

/** One object by name, or a refusal saying it is not there or may not be read (nothing was touched). */
async function readObject(cluster: Cluster, apiVersion: string, kind: string, namespace: string, name: string): Promise<unknown> {
  // read before the preflight (the plan needs its selector): its right is checked here, as the preflight would
  for (const check of viaRead(`${kind.toLowerCase()}/${name}`, namespace)) {
    if (await cluster.canI(check)) continue;
    throw new CouldNotRunError(`may not get ${check.resource} "${name}" in namespace ${namespace}: the target's ${kind} is read for its selector (nothing was touched)`, {
      hint: `grant get on ${check.resource}${check.group === undefined ? "" : `.${check.group}`} (deploy/rbac.yaml grants it)`,
    });
  }
  const [object] = await cluster.getObjects({ apiVersion, kind, namespace, name });
  if (object === undefined) {
    throw new CouldNotRunError(`${kind.toLowerCase()} ${name} not found in namespace ${namespace} (nothing was touched)`, {
      hint: `kubectl get ${kind.toLowerCase()}s -n ${namespace}`,
    });
  }
  return object;
}

/** Pods that exist, by name, each running; else a refusal (nothing was touched). */
async function namedPods(cluster: Cluster, names: readonly string[], namespace: string): Promise<PodInfo[]> {
  const pods = await Promise.all(names.map(async (name) => ({ name, pod: await cluster.getPod(namespace, name) })));
  const missing = pods.filter((p) => p.pod === undefined).map((p) => p.name);
  if (missing.length > 0) {
    throw new CouldNotRunError(`pod${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not found in namespace ${namespace} (nothing was touched)`, {
      hint: `kubectl get pods -n ${namespace}`,
    });
  }
  const found = pods.flatMap((p) => (p.pod === undefined ? [] : [p.pod]));
  const notRunning = found.filter((p) => p.phase !== "Running" || p.deleting);
  if (notRunning.length > 0) {
    throw new CouldNotRunError(
      `pod${notRunning.length > 1 ? "s" : ""} ${notRunning.map((p) => `${p.name} (${p.deleting ? "terminating" : p.phase})`).join(", ")} in namespace ${namespace} cannot take an agent: not running (nothing was touched)`,
    );
  }
  return found;
}

/** The running pods a selector matches (the API server's answer, checked against the selector again). */
async function selectedPods(cluster: Cluster, namespace: string, selector: Selector, warn: (m: string) => void): Promise<PodInfo[]> {
  const all = (await cluster.listPods(namespace, selectorString(selector))).filter((p) => matches(selector, p.labels));
  const running = all.filter((p) => p.phase === "Running" && !p.deleting);
  const skipped = all.filter((p) => !running.includes(p));
  if (skipped.length > 0) warn(`skipping pods that are not running: ${skipped.map((p) => `${p.name} (${p.deleting ? "terminating" : p.phase})`).join(", ")}`);
  return running;
}

/** The selector of the Service or workload a target names, and the Service's ports. */
async function viaSelector(cluster: Cluster, scenario: Scenario, namespace: string): Promise<{ selector: Selector; ports: ServicePort[] }> {
  const sel = scenario.target.selection;
  if (sel.kind === "service") {
    const service = readService(await readObject(cluster, "v1", "Service", namespace, sel.name));
    if (service.selector === undefined) {
      throw new CouldNotRunError(`service ${sel.name} has no selector: its endpoints are kept by hand or by another controller, and chaos-run cannot tell its pods (nothing was touched)`, {
        hint: "target its pods by `selector` or `pods` instead",
      });
    }
    return { selector: service.selector, ports: service.ports };
  }
  if (sel.kind !== "workload") throw new TypeError("viaSelector: not a Service or workload target");
  const api = WORKLOAD_API[sel.workload];
  const selector = readWorkloadSelector(await readObject(cluster, api.apiVersion, api.kind, namespace, sel.name));
  if (selector === undefined) {
    throw new CouldNotRunError(`${sel.workload} ${sel.name} has no selector chaos-run can read (nothing was touched)`, { hint: `kubectl get ${sel.workload} ${sel.name} -n ${namespace} -o yaml` });
  }
  return { selector, ports: [] };
}

/** The target pods, and the scenario with its Service or workload resolved. */
export async function resolveTargets(cluster: Cluster, scenario: Scenario, namespace: string, warn: (m: string) => void): Promise<ResolvedTargets> {
  const target = scenario.target;
  const sel = target.selection;
  if (sel.kind === "pods") return { scenario, pods: await namedPods(cluster, sel.names, namespace) };
  const written = targetSelector(target);
  if (sel.kind === "selector" && written !== undefined) return { scenario, pods: await selectedPods(cluster, namespace, written, warn) };
  const { selector, ports } = await viaSelector(cluster, scenario, namespace);
  const pods = await selectedPods(cluster, namespace, selector, warn);
  const lines = [`${targetVia(target) ?? ""} → selector ${selectorString(selector)} → ${pods.length} running pod${pods.length === 1 ? "" : "s"}`];
  const mapped = sel.kind === "service" ? await mapServicePorts(cluster, namespace, scenario.steps, ports, pods, selector) : { steps: scenario.steps, lines: [] };
  return { scenario: { ...scenario, steps: mapped.steps, target: { ...target, resolved: { selector, lines: [...lines, ...mapped.lines] } } }, pods };
}

/** The port a fault acts on, if it has one: an HTTP or gRPC fault's, or a network fault's scope's. */
export function faultPort(fault: Fault): number | undefined {
  if (fault.kind === "http") return fault.http.port;
  if (fault.kind === "grpc") return fault.grpc.port;
  if (fault.kind === "netem" || fault.kind === "partition") return fault.scope?.port;
  return undefined;
}

function withPort(fault: Fault, port: number): Fault {
  if (fault.kind === "http") return { ...fault, http: { ...fault.http, port } };
  if (fault.kind === "grpc") return { ...fault, grpc: { ...fault.grpc, port } };
  if ((fault.kind === "netem" || fault.kind === "partition") && fault.scope !== undefined) return { ...fault, scope: { ...fault.scope, port } };
  return fault;
}

/** The container ports of each pod, by name: what a named targetPort means in that pod. */
async function namedPorts(cluster: Cluster, namespace: string, selector: Selector): Promise<Map<string, Map<string, number>>> {
  const objects = await cluster.getObjects({ apiVersion: "v1", kind: "Pod", namespace, selector: selectorString(selector) });
  const out = new Map<string, Map<string, number>>();
  for (const o of objects) {
    const name = record(record(o)?.["metadata"])?.["name"];
    const containers = record(record(o)?.["spec"])?.["containers"];
    if (typeof name !== "string" || !Array.isArray(containers)) continue;
    const ports = new Map<string, number>();
    for (const c of containers) {
      const declared = record(c)?.["ports"];
      for (const p of Array.isArray(declared) ? (declared as unknown[]) : []) {
        const port = record(p);
        if (typeof port?.["name"] === "string" && typeof port["containerPort"] === "number") ports.set(port["name"], port["containerPort"]);
      }
    }
    out.set(name, ports);
  }
  return out;
}

/**
 * The port each pod serves a Service port on: its targetPort, a number, or a name looked up in the
 * pod's containers. One fault holds one port: pods that serve it on different ports, or a pod
 * without the named port, are refused (nothing was touched).
 */
export function targetPortOf(service: ServicePort, pods: readonly string[], podPorts: ReadonlyMap<string, ReadonlyMap<string, number>>): number {
  const target = service.targetPort;
  if (typeof target === "number") return target;
  const byPod = pods.map((pod) => ({ pod, port: podPorts.get(pod)?.get(target) }));
  const missing = byPod.filter((p) => p.port === undefined).map((p) => p.pod);
  if (missing.length > 0) {
    throw new CouldNotRunError(
      `service port ${service.port} → targetPort ${target}: pod${missing.length === 1 ? "" : "s"} ${missing.join(", ")} ha${missing.length === 1 ? "s" : "ve"} no container port named ${target} (nothing was touched)`,
    );
  }
  const numbers = [...new Set(byPod.map((p) => p.port))];
  if (numbers.length > 1 || numbers[0] === undefined) {
    const each = byPod.map((p) => `${p.pod}: ${p.port ?? "?"}`).join(", ");
    throw new CouldNotRunError(`service port ${service.port} → targetPort ${target} is served on different ports by the pods (${each}): one fault holds one port (nothing was touched)`, {
      hint: "target the pods that serve it on one port apart (a selector that tells them apart)",
    });
  }
  return numbers[0];
}

/** The Service's ports in words: `8080/web, 9090`. */
function portList(ports: readonly ServicePort[]): string {
  return ports.map((p) => `${p.port}${p.name === undefined ? "" : `/${p.name}`}`).join(", ") || "none";
}

/** Each fault's port that is one of the Service's ports, mapped to the pods' targetPort; in words for the plan. */
async function mapServicePorts(
  cluster: Cluster,
  namespace: string,
  steps: readonly Step[],
  ports: readonly ServicePort[],
  pods: readonly PodInfo[],
  selector: Selector,
): Promise<{ steps: Step[]; lines: string[] }> {
  const named = ports.some((p) => typeof p.targetPort === "string") ? await namedPorts(cluster, namespace, selector) : new Map<string, Map<string, number>>();
  const lines = new Set<string>();
  const mapped = steps.map((step): Step => {
    if (step.kind !== "fault") return step;
    const port = faultPort(step.fault);
    if (port === undefined) return step;
    const byName = step.servicePort;
    const service = byName === undefined ? ports.find((p) => p.port === port) : ports.find((p) => p.name === byName);
    if (service === undefined && byName !== undefined) {
      throw new CouldNotRunError(`${step.path}: the Service has no port named ${byName} (its ports: ${portList(ports)}) (nothing was touched)`, {
        hint: "name one of the Service's ports, or give the pods' port by number",
      });
    }
    if (service === undefined) {
      lines.add(`port ${port} is not one of the Service's ports (${portList(ports)}): taken as the pods' own port`);
      return step;
    }
    const to = targetPortOf(
      service,
      pods.map((p) => p.name),
      named,
    );
    const asked = byName === undefined ? `port ${port}${service.name === undefined ? "" : ` (${service.name})`}` : `port ${byName} (${service.port})`;
    lines.add(`${asked} → targetPort ${service.targetPort}${typeof service.targetPort === "string" ? ` → ${to}` : ""}`);
    return { ...step, servicePort: undefined, fault: withPort(step.fault, to) };
  });
  return { steps: mapped, lines: [...lines] };
}
