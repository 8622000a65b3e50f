// Targets as xk6-disruptor's users named them (issue 24): a Service, a workload, matchExpressions
// beside matchLabels — in the schema with located errors, resolved through the objects' own
// selectors (a Service's ports mapped to the pods' targetPort), refused when missing, and shown in
// the plan; the verbs' -p / --service / --workload / -l. The cluster tier does the same against
// a real API server: test/cluster/targets.test.ts.
import { describe, expect, it } from "vitest";
import { POD_FLAG, targetFlags, targetSelection } from "../../src/cli/common-flags.js";
import { GRPC_FLAGS, grpcParams } from "../../src/cli/grpc.js";
import { HTTP_FAULT_FLAGS, httpParams } from "../../src/cli/http.js";
import { PROXY_FAULT_FLAGS, proxyFaultShortcut } from "../../src/cli/proxy-fault.js";
import { readService, readWorkloadSelector, resolveTargets, targetPortOf } from "../../src/cli/targets.js";
import { readVerbArgs, type Flags } from "../../src/cli/verb.js";
import { needsOf, runAccess } from "../../src/engine/preflight.js";
import { CouldNotRunError, UsageError } from "../../src/errors.js";
import type { ObjectQuery } from "../../src/kube/types.js";
import { formatPlan } from "../../src/plan/format.js";
import { planOffline, planRun } from "../../src/plan/plan.js";
import { LineIndex, located } from "../../src/scenario/diagnostics.js";
import { validateSource } from "../../src/scenario/load.js";
import { selectorString } from "../../src/scenario/selector.js";
import type { Scenario } from "../../src/scenario/types.js";
import { cli } from "./compare-io.js";
import { pod, RecordingCluster } from "./recording-cluster.js";

function scenarioText(target: string, fault = "http: { port: 80, delay: 100ms }"): string {
  return `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: t }
target:
${target}
steps:
  - name: s
    fault: { ${fault} }
    duration: 10s
`;
}

/** The diagnostics of a scenario's target, located: [code, line, col, message]. */
function problems(target: string): [string, number, number, string][] {
  const text = scenarioText(target);
  const r = validateSource("t.yaml", text);
  const index = new LineIndex(text);
  return r.diagnostics.map((d) => located(d, index)).map((d) => [d.code, d.line, d.col, d.message]);
}

function scenario(target: string, fault?: string): Scenario {
  const r = validateSource("t.yaml", scenarioText(target, fault));
  if (r.scenario === undefined) throw new Error(JSON.stringify(r.diagnostics));
  return r.scenario;
}

describe("the schema's target", () => {
  it("takes a Service, a workload, matchExpressions", () => {
    expect(scenario("  service: web\n  mode: all").target.selection).toEqual({ kind: "service", name: "web" });
    expect(scenario("  workload: statefulset/db\n  mode: all").target.selection).toEqual({ kind: "workload", workload: "statefulset", name: "db" });
    const s = scenario("  selector: { app: web }\n  matchExpressions: [{ key: track, operator: NotIn, values: [canary] }]\n  mode: all");
    expect(s.target.selection).toEqual({ kind: "selector", matchLabels: { app: "web" }, matchExpressions: [{ key: "track", operator: "NotIn", values: ["canary"] }] });
  });

  it("refuses bad shapes, located", () => {
    expect(problems("  service: web\n  selector: { app: web }\n  mode: all")).toEqual([["conflicting-keys", 5, 3, "`service` cannot be used together with `selector`"]]);
    expect(problems("  service: web\n  workload: deployment/web\n  mode: all")).toEqual([["conflicting-keys", 6, 3, "`workload` cannot be used together with `service`"]]);
    expect(problems("  workload: cronjob/backup\n  mode: all")).toEqual([
      ["bad-value", 5, 13, "`cronjob/backup` is not a workload as KIND/NAME, KIND one of deployment, statefulset, daemonset, replicaset"],
    ]);
    expect(problems("  service: Web_1\n  mode: all")[0]?.slice(0, 3)).toEqual(["bad-value", 5, 12]);
    expect(problems("  matchExpressions: [{ key: a, operator: Has }]\n  mode: all")[0]?.slice(0, 3)).toEqual(["bad-enum", 5, 42]);
    expect(problems("  matchExpressions: [{ key: a, operator: In }]\n  mode: all")).toEqual([["bad-length", 5, 42, "`values` of operator In must have at least one value"]]);
    expect(problems("  matchExpressions:\n    - { key: a, operator: Exists, values: [x] }\n  mode: all")).toEqual([
      ["conflicting-keys", 6, 43, "`values` cannot be used together with `operator: Exists`"],
    ]);
    expect(problems("  matchExpressions: [{ key: -a, operator: Exists }]\n  mode: all")).toEqual([["bad-value", 5, 29, "`-a` is not a valid label key"]]);
  });
});

/** A Deployment's two pods and a canary, a Service `web` (port 80 → targetPort http) over app=web. */
function lab(): RecordingCluster {
  const ports = [{ name: "http", containerPort: 8080 }];
  const cluster = new RecordingCluster([pod("web-a", { labels: { app: "web" } }), pod("web-b", { labels: { app: "web" } }), pod("canary", { labels: { app: "web", track: "canary" } })]);
  const objects: Record<string, unknown> = {
    "Service/web": { spec: { selector: { app: "web" }, ports: [{ name: "web", port: 80, targetPort: "http" }] } },
    "Service/external": { spec: { ports: [{ port: 80 }] } },
    "Deployment/web": { spec: { selector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "track", operator: "DoesNotExist" }] } } },
  };
  cluster.objects = (q: ObjectQuery) => {
    if (q.kind === "Pod") return [...cluster.pods.values()].map((p) => ({ metadata: { name: p.name }, spec: { containers: [{ name: "web", ports }] } }));
    const o = objects[`${q.kind}/${q.name ?? ""}`];
    return o === undefined ? [] : [o];
  };
  return cluster;
}

const warn = (): void => undefined;

describe("resolving a Service or workload", () => {
  it("a Service: its selector's pods, its port mapped through the named targetPort, said in the plan", async () => {
    const cluster = lab();
    const r = await resolveTargets(cluster, scenario("  service: web\n  mode: all"), "default", warn);
    expect(r.pods.map((p) => p.name).sort()).toEqual(["canary", "web-a", "web-b"]);
    const step = r.scenario.steps[0];
    expect(step?.kind === "fault" && step.fault.kind === "http" ? step.fault.http.port : undefined).toBe(8080);
    const plan = planRun(
      r.scenario,
      r.pods.map((p) => ({ name: p.name })),
      { namespace: "default" },
    );
    expect(plan.target.resolution).toEqual(["service/web → selector app=web → 3 running pods", "port 80 (web) → targetPort http → 8080"]);
    expect(formatPlan(plan, "t.yaml")).toContain(
      "Target: namespace default, service/web (selector app=web), mode all\n  service/web → selector app=web → 3 running pods\n  port 80 (web) → targetPort http → 8080\n",
    );
    // the preflight checks (and chaos-run job grants) the read of that Service, by name
    expect(runAccess(needsOf(plan), "default")).toContainEqual({ verb: "get", group: undefined, resource: "services", namespace: "default", name: "web" });
  });

  it("a workload: its spec.selector, matchExpressions included (the canary is left out)", async () => {
    const r = await resolveTargets(lab(), scenario("  workload: deployment/web\n  mode: all"), "default", warn);
    expect(r.pods.map((p) => p.name).sort()).toEqual(["web-a", "web-b"]);
    expect(r.scenario.target.resolved?.lines).toEqual(["deployment/web → selector app=web,!track → 2 running pods"]);
    const plan = planRun(
      r.scenario,
      r.pods.map((p) => ({ name: p.name })),
    );
    expect(runAccess(needsOf(plan), "default")).toContainEqual({ verb: "get", group: "apps", resource: "deployments", namespace: "default", name: "web" });
  });

  it("matchExpressions beside matchLabels: a pod they exclude is not a target", async () => {
    const r = await resolveTargets(lab(), scenario("  selector: { app: web }\n  matchExpressions: [{ key: track, operator: NotIn, values: [canary] }]\n  mode: all"), "default", warn);
    expect(r.pods.map((p) => p.name).sort()).toEqual(["web-a", "web-b"]);
  });

  it("a missing Service, a Service without a selector, a missing workload: refused (exit 3) before anything is touched", async () => {
    for (const [target, message] of [
      ["  service: nope\n  mode: all", "service nope not found in namespace default (nothing was touched)"],
      ["  service: external\n  mode: all", "service external has no selector"],
      ["  workload: daemonset/web\n  mode: all", "daemonset web not found in namespace default (nothing was touched)"],
    ] as const) {
      const cluster = lab();
      const e = await resolveTargets(cluster, scenario(target), "default", warn).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CouldNotRunError);
      expect((e as CouldNotRunError).message).toContain(message);
      expect(cluster.calls.filter((c) => !["get-objects", "list-pods", "can-i"].includes(c.op))).toEqual([]);
    }
  });

  it("a Service it may not read: refused as the preflight would, before reading it", async () => {
    const cluster = lab();
    cluster.denied = ["get services"];
    const e = await resolveTargets(cluster, scenario("  service: web\n  mode: all"), "default", warn).catch((x: unknown) => x);
    expect((e as CouldNotRunError).message).toBe('may not get services "web" in namespace default: the target\'s Service is read for its selector (nothing was touched)');
    expect(cluster.accessChecks).toEqual(['get services "web"']);
    expect(cluster.calls.filter((c) => c.op !== "can-i")).toEqual([]);
  });

  it("a port that is not the Service's stays the pods' own; a targetPort served on different ports is refused", async () => {
    const r = await resolveTargets(lab(), scenario("  service: web\n  mode: all", "http: { port: 9000, delay: 100ms }"), "default", warn);
    expect(r.scenario.target.resolved?.lines[1]).toBe("port 9000 is not one of the Service's ports (80/web): taken as the pods' own port");
    const ports = new Map([
      ["a", new Map([["http", 8080]])],
      ["b", new Map([["http", 9090]])],
    ]);
    expect(() => targetPortOf({ name: undefined, port: 80, targetPort: "http" }, ["a", "b"], ports)).toThrow("served on different ports by the pods (a: 8080, b: 9090)");
    expect(() => targetPortOf({ name: undefined, port: 80, targetPort: "http" }, ["a", "c"], ports)).toThrow("pod c has no container port named http");
    expect(targetPortOf({ name: undefined, port: 80, targetPort: 8081 }, ["a", "b"], ports)).toBe(8081);
  });

  it("a fault's port by the Service's name: mapped the same; an unknown name refused; without target.service, located", async () => {
    const r = await resolveTargets(lab(), scenario("  service: web\n  mode: all", "http: { port: web, delay: 100ms }"), "default", warn);
    const step = r.scenario.steps[0];
    expect(step?.kind === "fault" && step.fault.kind === "http" ? [step.fault.http.port, step.servicePort] : undefined).toEqual([8080, undefined]);
    expect(r.scenario.target.resolved?.lines[1]).toBe("port web (80) → targetPort http → 8080");
    const netem = await resolveTargets(lab(), scenario("  service: web\n  mode: all", "netem: { delay: 10ms }, to: { port: web }"), "default", warn);
    const scoped = netem.scenario.steps[0];
    expect(scoped?.kind === "fault" && scoped.fault.kind === "netem" ? scoped.fault.scope?.port : undefined).toBe(8080);
    const e = await resolveTargets(lab(), scenario("  service: web\n  mode: all", "http: { port: admin, delay: 100ms }"), "default", warn).catch((x: unknown) => x);
    expect((e as Error).message).toBe("/steps/0: the Service has no port named admin (its ports: 80/web) (nothing was touched)");
    // offline, the plan says the name and when it is mapped
    expect(formatPlan(planOffline(scenario("  service: web\n  mode: all", "http: { port: web, delay: 100ms }")), "t.yaml")).toContain(
      "http on port web (the Service's, mapped to the pods' targetPort at run time)",
    );
    const text = scenarioText("  selector: { app: web }\n  mode: all", "http: { port: web, delay: 100ms }");
    const index = new LineIndex(text);
    expect(
      validateSource("t.yaml", text)
        .diagnostics.map((d) => located(d, index))
        .map((d) => [d.code, d.line, d.col, d.message]),
    ).toEqual([["needs-key", 9, 28, "`port: web` needs `target.service`"]]);
    expect(problems("  service: web\n  mode: all")).toEqual([]);
    // a Service's port name is a DNS label: `8080-80` (kubectl create service) is one, `web-` is not
    const named = (port: string): string[] => validateSource("t.yaml", scenarioText("  service: web\n  mode: all", `http: { port: ${port}, delay: 100ms }`)).diagnostics.map((d) => d.message);
    expect(named("8080-80")).toEqual([]);
    expect(named('"8080"')).toEqual([]);
    expect(named("web-").join("\n")).toContain("a Service's port name (a DNS label");
  });

  it("reads a Service's and a workload's selector as the API server gives them", () => {
    expect(readService({ spec: { ports: [{ port: 80 }] } })).toEqual({ selector: undefined, ports: [{ name: undefined, port: 80, targetPort: 80 }] });
    expect(readWorkloadSelector({ spec: { selector: { matchExpressions: [{ key: "app", operator: "In", values: ["a", "b"] }] } } })).toEqual([{ key: "app", operator: "In", values: ["a", "b"] }]);
    expect(readWorkloadSelector({ spec: { selector: {} } })).toBeUndefined();
  });

  it("offline: the plan says the Service is read at run time", () => {
    const text = formatPlan(planOffline(scenario("  service: web\n  mode: one")), "t.yaml");
    expect(text).toContain("Target: namespace (from the kubeconfig context), service/web, mode one\n  service/web → its selector, read at run time\n  pod <pod of service/web #1>");
  });
});

function verbValues<F extends Flags>(flags: F, ...args: string[]) {
  const r = readVerbArgs({ name: "http", help: "", flags, positionals: "none" }, args);
  if (r === "help") throw new Error("help");
  return r.values;
}

describe("the verbs' targets", () => {
  it("-p, --service, --workload (kubectl's short kinds too), -l in kubectl's syntax", () => {
    expect(targetSelection(verbValues(POD_FLAG, "-p", "a,b"), "http")).toEqual({ kind: "pods", names: ["a", "b"] });
    expect(targetSelection(verbValues(POD_FLAG, "--service", "web"), "http")).toEqual({ kind: "service", name: "web" });
    expect(targetSelection(verbValues(POD_FLAG, "--workload", "sts/db"), "http")).toEqual({ kind: "workload", workload: "statefulset", name: "db" });
    const sel = targetSelection(verbValues(POD_FLAG, "-l", "app=web,track notin (canary),!legacy"), "http");
    expect(sel.kind === "selector" ? selectorString(sel.matchExpressions ?? []) : "").toBe("app=web,track notin (canary),!legacy");
    // disrupt's -l is --loss: its selector is --selector
    expect(Object.keys(targetFlags({ selectorShort: false }))).toEqual(["pod", "service", "workload", "selector"]);
    expect(targetFlags({ selectorShort: false }).selector.option.short).toBeUndefined();
  });

  it("refuses none, two, a bad selector (located), a kind it does not know", () => {
    const refusal = (...args: string[]): string => {
      try {
        targetSelection(verbValues(POD_FLAG, ...args), "http");
      } catch (e) {
        if (e instanceof UsageError) return e.message;
        throw e;
      }
      return "accepted";
    };
    expect(refusal()).toBe("http needs a pod: -p POD (or --service NAME, --workload KIND/NAME, -l SELECTOR)");
    expect(refusal("-p", "a", "--service", "web")).toBe("http takes one target: -p and --service cannot be used together");
    expect(refusal("-l", "app=web,zone in (a")).toBe('-l/--selector "app=web,zone in (a": `)` or `,` was expected (at column 19)');
    expect(refusal("--workload", "cronjob/x")).toBe('--workload takes KIND/NAME, KIND one of deployment, statefulset, daemonset, replicaset, not "cronjob/x"');
    expect(refusal("--service", "Web")).toBe('"Web" is not a Service name');
  });
});

describe("the verbs' --port by the Service's port name", () => {
  const HTTP = { ...POD_FLAG, ...HTTP_FAULT_FLAGS, ...PROXY_FAULT_FLAGS };
  const GRPC = GRPC_FLAGS;

  it("with --service, a name is the Service's port, mapped to the pods' targetPort as a scenario's is", async () => {
    const values = verbValues(HTTP, "--service", "web", "--port", "web", "--delay", "100", "-r", "30");
    const s = proxyFaultShortcut("http", values, (iface) => ({ kind: "http", http: httpParams(values), interface: iface }), "default").scenario;
    expect(s.steps[0]).toMatchObject({ servicePort: "web", fault: { kind: "http", http: { port: 0 } } });
    const r = await resolveTargets(lab(), s, "default", warn);
    const step = r.scenario.steps[0];
    expect(step?.kind === "fault" && step.fault.kind === "http" ? [step.fault.http.port, step.servicePort] : undefined).toEqual([8080, undefined]);
    expect(r.scenario.target.resolved?.lines[1]).toBe("port web (80) → targetPort http → 8080");
    // a number stays a number, with no name to map
    const byNumber = verbValues(GRPC, "--service", "web", "--port", "80", "--delay", "100", "-r", "30");
    const g = proxyFaultShortcut("grpc", byNumber, (iface) => ({ kind: "grpc", grpc: grpcParams(byNumber), interface: iface }), "default").scenario;
    expect(g.steps[0]).toMatchObject({ fault: { kind: "grpc", grpc: { port: 80 } } });
    expect(g.steps[0]).not.toHaveProperty("servicePort");
    // a name of digits and '-', as `kubectl create service clusterip web --tcp 8080:80` makes one
    const kubectlNamed = verbValues(HTTP, "--service", "web", "--port", "8080-80", "--delay", "100", "-r", "30");
    const k = proxyFaultShortcut("http", kubectlNamed, (iface) => ({ kind: "http", http: httpParams(kubectlNamed), interface: iface }), "default").scenario;
    expect(k.steps[0]).toMatchObject({ servicePort: "8080-80" });
  });

  it("a name without --service, or a port that is neither: usage errors (exit 2), as the scenario refuses them", async () => {
    for (const [verb, args, message] of [
      ["http", ["-p", "web-a", "--port", "web", "--delay", "100", "-r", "30"], "--port web: a port by name is one of the Service's ports, with --service NAME; give the pods' port by number"],
      ["grpc", ["-l", "app=web", "--port", "grpc", "--delay", "100", "-r", "30"], "--port grpc: a port by name is one of the Service's ports, with --service NAME"],
      ["http", ["--service", "web", "--port", "Web_1", "--delay", "100", "-r", "30"], '--port takes a port number from 1 to 65535, or the name of one of the Service\'s ports, not "Web_1"'],
      ["grpc", ["--service", "web", "--port", "65536", "--delay", "100", "-r", "30"], 'not "65536"'],
      ["http", ["--service", "web", "--port", "p".repeat(64), "--delay", "100", "-r", "30"], `not "${"p".repeat(64)}"`],
      ["http", ["--service", "web", "--port", "web-", "--delay", "100", "-r", "30"], 'not "web-"'],
    ] as const) {
      const r = await cli([verb, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
    }
  });
});
