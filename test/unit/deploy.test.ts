// chaos-run job: the manifests that run a scenario inside the cluster, against golden files
// (test/fixtures/deploy/; UPDATE_GOLDEN=1 rewrites them), and the runner's RBAC derived from the
// checks its run makes — for every scenario of the catalog, each check the preflight and the
// recorder make is granted by the derived Roles, and nothing they do not make.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { runCli } from "../../src/cli/cli.js";
import type { CliIO } from "../../src/cli/io.js";
import { knownResource, RESOLVED_KINDS } from "../../src/deploy/kinds.js";
import { defaultInstanceName, scheduleProblem } from "../../src/deploy/names.js";
import { deriveRbac, explain, type DerivedRbac } from "../../src/deploy/rbac.js";
import { runnerGrants } from "../../src/deploy/runner-plan.js";
import { needsOf, probeReads, runAccess } from "../../src/engine/preflight.js";
import type { AccessCheck } from "../../src/kube/types.js";
import { planOffline } from "../../src/plan/plan.js";
import { recordAccess } from "../../src/results/access.js";
import { KNOWN_KINDS } from "../../src/scenario/kinds.js";
import { readScenarioFile } from "../../src/scenario/load.js";

const root = join(import.meta.dirname, "../..");
const golden = join(root, "test/fixtures/deploy");

/** `chaos-run ARGS` in this process; what it printed and its exit status. */
async function chaosRun(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: { write: (s) => void out.push(s) }, stderr: { write: (s) => void err.push(s) }, stdoutIsTTY: false, stderrIsTTY: false, env: {}, cwd: root };
  const code = await runCli(args, io);
  return { code, out: out.join(""), err: err.join("") };
}

function matchesGolden(name: string, actual: string): void {
  const path = join(golden, name);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("chaos-run job", () => {
  it("a Job for the seed scenario: the golden manifests, each kubectl-valid YAML", async () => {
    const r = await chaosRun(["job", "scenarios/nginx-latency.yaml", "-n", "chaos"]);
    expect(r.code, r.err).toBe(0);
    matchesGolden("nginx-latency.job.yaml", r.out);
    const kinds = parseAllDocuments(r.out).map((d) => (d.toJS() as { kind?: string } | null)?.kind);
    expect(kinds).toEqual(["ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Role", "RoleBinding", "Job"]);
  });

  it("a CronJob whose probes read elsewhere: a Role per namespace, a ClusterRole for the cluster-scoped read, the token from a Secret; each run judged against the last good one, which its Role may read", async () => {
    const r = await chaosRun([
      "job",
      "test/fixtures/deploy/shop-web-kill.yaml",
      "--schedule",
      "*/30 * * * *",
      "-n",
      "chaos",
      "--keep",
      "5",
      "--pushgateway",
      "http://pushgateway.monitoring:9091",
      "--compare-to-last",
      "--compare-threshold",
      "25%",
      "--compare-min-change",
      "1ms",
      "--name",
      "shop-kill",
    ]);
    expect(r.code, r.err).toBe(0);
    matchesGolden("shop-web-kill.cronjob.yaml", r.out);
  });

  it("the runner is a well-behaved workload: labels, requests and limits, non-root, read-only, no capability, a grace period for the reverts", async () => {
    const docs = parseAllDocuments((await chaosRun(["job", "scenarios/pod-delete.yaml"])).out).map((d) => d.toJS() as Record<string, never>);
    const job = docs.find((d) => (d as { kind?: string }).kind === "Job") as unknown as {
      metadata: { namespace: string; labels: Record<string, string> };
      spec: {
        backoffLimit: number;
        activeDeadlineSeconds: number;
        template: { spec: { terminationGracePeriodSeconds: number; securityContext: object; containers: { securityContext: object; resources: object }[] } };
      };
    };
    expect(job.metadata.labels).toMatchObject({ "app.kubernetes.io/name": "chaos-run", "app.kubernetes.io/instance": "chaos-run-pod-delete", "app.kubernetes.io/managed-by": "chaos-run" });
    expect(job.spec.backoffLimit).toBe(0);
    const pod = job.spec.template.spec;
    // a step's revert and the teardown's, each within the 30 s revert deadline, then the record
    expect(pod.terminationGracePeriodSeconds).toBe(90);
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers[0]?.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "256Mi" } });
  });

  it("refuses what Kubernetes would refuse at apply time, before printing anything", async () => {
    const bad = await chaosRun(["job", "scenarios/nginx-latency.yaml", "--schedule", "every minute"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--schedule "every minute": a schedule has five fields');
    expect(bad.out).toBe("");
    const threshold = await chaosRun(["job", "scenarios/nginx-latency.yaml", "--compare-threshold", "30"]);
    expect(threshold.code).toBe(2);
    expect(threshold.err).toContain("--compare-threshold is for --compare-to-last, which is not given");
    const floor = await chaosRun(["job", "scenarios/nginx-latency.yaml", "--compare-min-change", "1ms"]);
    expect(floor.code).toBe(2);
    expect(floor.err).toContain("--compare-min-change is for --compare-to-last, which is not given");
    const name = await chaosRun(["job", "scenarios/nginx-latency.yaml", "--name", "Chaos_Run"]);
    expect(name.code).toBe(2);
    expect(name.err).toContain('"Chaos_Run" is not a name for the manifests');
    expect(scheduleProblem("@hourly")).toBeUndefined();
    expect(scheduleProblem("CRON_TZ=UTC 0 * * * *")).toContain("spec.timeZone");
    expect(defaultInstanceName("a".repeat(63))).toMatch(/^chaos-run-a+-[0-9a-f]{5}$/);
    expect(defaultInstanceName("a".repeat(63)).length).toBeLessThanOrEqual(52);
  });
});

/** Does the derived RBAC allow the check, as the API server's RBAC authorizer judges it? */
function allows(rbac: DerivedRbac, c: AccessCheck): boolean {
  const rules = c.namespace === "" ? rbac.cluster : [...(rbac.namespaced.get(c.namespace) ?? []), ...rbac.cluster];
  const resource = c.subresource === undefined ? c.resource : `${c.resource}/${c.subresource}`;
  return rules.some(
    ({ rule }) =>
      rule.apiGroups.includes(c.group ?? "") &&
      rule.resources.includes(resource) &&
      rule.verbs.includes(c.verb) &&
      (rule.resourceNames === undefined || (c.name !== undefined && rule.resourceNames.includes(c.name))),
  );
}

/** Every check each rule of the derived RBAC grants (verb × resource × name, where). */
function granted(rbac: DerivedRbac): string[] {
  const all = [...[...rbac.namespaced].flatMap(([ns, rules]) => rules.map((r) => ({ ns, r }))), ...rbac.cluster.map((r) => ({ ns: "", r }))];
  return all.flatMap(({ ns, r }) => r.rule.verbs.flatMap((v) => r.rule.resources.flatMap((res) => (r.rule.resourceNames ?? ["*"]).map((n) => `${ns}|${r.rule.apiGroups[0]}|${res}|${v}|${n}`))));
}

describe("the runner's RBAC, from the checks its run makes", () => {
  const files = [...readdirSync(join(root, "scenarios")).map((f) => join(root, "scenarios", f)), join(golden, "shop-web-kill.yaml")];

  it.each(files.map((f) => [f.slice(root.length + 1)]))("%s: every check the preflight and the recorder make is granted, and nothing else", async (file) => {
    const scenario = readScenarioFile(join(root, file)).scenario;
    if (scenario === undefined) throw new Error(`${file} is invalid`);
    const ns = scenario.target.namespace ?? "default";
    const plan = planOffline(scenario, { namespace: ns });
    const resolve = async (v: string, k: string) => knownResource(v, k);
    const rbac = deriveRbac(await runnerGrants({ plan, needs: needsOf(plan), targetNamespace: ns, namespace: "chaos", resolve }));
    const checks = [...runAccess(needsOf(plan), ns), ...(await probeReads(plan, resolve, ns, [], {})), ...recordAccess(ns, "chaos")];
    for (const c of checks) expect(allows(rbac, c), `${c.verb} ${c.resource}${c.subresource === undefined ? "" : `/${c.subresource}`} in ${c.namespace}`).toBe(true);
    // nothing beyond what was checked: every grant is some check (the Pod Security read aside, which the preflight makes without a review)
    const asked = new Set(checks.map((c) => `${c.namespace}|${c.group ?? ""}|${c.subresource === undefined ? c.resource : `${c.resource}/${c.subresource}`}|${c.verb}|${c.name ?? "*"}`));
    asked.add(`${ns}||namespaces|get|${ns}`);
    expect(granted(rbac).filter((g) => !asked.has(g))).toEqual([]);
    expect(granted(rbac).some((g) => g.includes("*|") || g.split("|")[3] === "*")).toBe(false);
  });

  it("merges verbs per resource, keeps a named read to its name, and a read of the whole resource covers the name", () => {
    const rbac = deriveRbac([
      explain({ verb: "get", resource: "pods", namespace: "a" }, ""),
      explain({ verb: "list", resource: "pods", namespace: "a" }, ""),
      explain({ verb: "get", group: "apps", resource: "deployments", namespace: "a", name: "web" }, "probe"),
      explain({ verb: "get", group: "apps", resource: "deployments", namespace: "a", name: "api" }, "probe"),
      explain({ verb: "get", resource: "pods", namespace: "a", name: "web-0" }, "probe"),
      explain({ verb: "list", resource: "nodes", namespace: "" }, "probe"),
    ]);
    expect(rbac.namespaced.get("a")?.map((r) => r.rule)).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
      { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["api", "web"], verbs: ["get"] },
    ]);
    expect(rbac.cluster.map((r) => r.rule)).toEqual([{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }]);
  });

  it("the table of usual kinds knows each kind the scenario language names, in its own group only", () => {
    expect(RESOLVED_KINDS).toEqual(KNOWN_KINDS);
    expect(knownResource("apps/v1", "Deployment")).toEqual({ group: "apps", resource: "deployments", namespaced: true });
    expect(knownResource("v1", "Node")).toEqual({ group: "", resource: "nodes", namespaced: false });
    expect(knownResource("argoproj.io/v1alpha1", "Deployment")).toBeUndefined();
    expect(knownResource("argoproj.io/v1alpha1", "Rollout")).toBeUndefined();
  });
});
