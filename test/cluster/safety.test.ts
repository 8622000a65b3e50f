// Safe on real clusters, on the real node (an air-gapped node: air-gapped.test.ts): an IPv6-only target works end to end (its URL bracketed,
// its partition only in the family it has), a namespace that enforces the "restricted" Pod
// Security level takes stress, a pod deletion and probes (a network fault is refused there
// before anything is touched), and every container chaos-run adds asks for least privilege, as
// the API server stores it.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun } from "../support/chaos.js";
import { agentProcess, leastPrivilege, storedSecurity } from "../support/host.js";
import { getPod, isReady, kubeconfig, kubectl, kubectlOk, makeNamespace, repoRoot, run, waitFor, waitReady, type PodJson } from "../support/lab.js";

const ns = "safety-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const reports = mkdtempSync(join(tmpdir(), "chaos-run-safety-"));

function journalOf(name: string): Journal {
  const dir = readdirSync(reports).find((d) => d.startsWith(`${name}-`));
  if (dir === undefined) throw new Error(`no journal of ${name} in ${reports}`);
  return JSON.parse(readFileSync(join(reports, dir, "journal.json"), "utf8")) as Journal;
}

beforeAll(async () => {
  await makeNamespace(ns);
  await kubectlOk(["run", "tools", "-n", ns, "--image", "chaos-tools"]);
  await waitReady(ns, "tools", 60_000);
});

afterAll(() => {
  rmSync(reports, { recursive: true, force: true });
});

describe("an IPv6-only target (RuntimeClass ipv6-only)", () => {
  it("is probed at its bracketed address and partitioned in IPv6 only; expectations hold end to end", async () => {
    // a retry starts from a fresh pod
    await kubectl(["delete", "pod", "web6", "-n", ns, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
    await kubectlOk(["run", "web6", "-n", ns, "--image", "nginx", "--overrides", JSON.stringify({ spec: { runtimeClassName: "ipv6-only" } })]);
    const pod = await waitReady(ns, "web6", 60_000);
    const ip = pod.status.podIP ?? "";
    expect(ip).toMatch(/^fd00:c612:1::[0-9a-f]+$/);
    expect(pod.status.podIPs?.map((p) => p.ip)).toEqual([ip]);
    const r = await chaosRun([join(repoRoot, "test/fixtures/lab/probe-partition-v6.yaml"), ...asAdmin, "--report-dir", reports]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const j = journalOf("probe-partition-v6");
    expect(j.probes.length).toBeGreaterThanOrEqual(4);
    for (const p of j.probes) expect(p.argv.at(-1)).toBe(`http://[${ip}]/`);
    expect(j.faults.map((f) => f.families)).toEqual([[6]]);
    // its rules match IPv6 only: an nftables table of its own (made over netlink, its nft script
    // recorded), or ip6tables-restore where the node has no nf_tables
    const commands = j.faults.flatMap((f) => f.applyCommands);
    const nft = commands.filter((c) => c.argv[0] === "(netlink)" && c.argv[1] === "nft").map((c) => c.stdin ?? "");
    const restores = commands.map((c) => c.argv[0] ?? "").filter((a) => a.includes("restore"));
    expect(nft.length + restores.length, JSON.stringify(commands)).toBeGreaterThanOrEqual(1);
    expect(restores.every((a) => a.startsWith("ip6tables-"))).toBe(true);
    expect(nft.every((script) => script.includes("meta nfproto ipv6") && !script.includes("meta nfproto ipv4"))).toBe(true);
    expect(j.faults.every((f) => f.revertConfirmed === true)).toBe(true);
    // nothing of the fault is left: port 80 answers again over IPv6
    await waitFor(
      "web6 to answer",
      async () => {
        const code = await run(["kubectl", "--kubeconfig", kubeconfig, "exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", `http://[${ip}]/`]);
        return code.stdout.trim() === "200" ? true : undefined;
      },
      10_000,
      500,
    );
  }, 180_000);
});

/**
 * nginx as the "restricted" level has it: not root (www-data), every capability dropped, no
 * escalation, RuntimeDefault seccomp; port 80 through the net.ipv4.ip_unprivileged_port_start
 * sysctl (a safe one), its pid file and temporary files in emptyDirs.
 */
function restrictedWeb(namespace: string): string {
  const pod = {
    securityContext: { runAsNonRoot: true, runAsUser: 33, runAsGroup: 33, seccompProfile: { type: "RuntimeDefault" }, sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }] },
    terminationGracePeriodSeconds: 2,
    containers: [
      {
        name: "nginx",
        image: "nginx",
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "10m", memory: "16Mi" } },
        volumeMounts: [
          { name: "run", mountPath: "/run" },
          { name: "lib", mountPath: "/var/lib/nginx" },
        ],
      },
    ],
    volumes: [
      { name: "run", emptyDir: {} },
      { name: "lib", emptyDir: {} },
    ],
  };
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace },
    spec: { replicas: 1, selector: { matchLabels: { app: "web-r" } }, template: { metadata: { labels: { app: "web-r" } }, spec: pod } },
  });
}

async function readyPod(namespace: string, label: string): Promise<string> {
  return waitFor(
    `a Ready pod ${label} in ${namespace}`,
    async () => {
      const r = await kubectl(["get", "pods", "-n", namespace, "-l", label, "-o", "json"]);
      if (r.code !== 0) return undefined;
      const items = (JSON.parse(r.stdout) as { items: PodJson[] }).items;
      return items.find((p) => isReady(p) && p.metadata.name !== "")?.metadata.name;
    },
    90_000,
    500,
  );
}

describe('a namespace that enforces the "restricted" Pod Security level', () => {
  const strict = "safety-restricted";
  const asStrict = ["--kubeconfig", kubeconfig, "-n", strict];

  beforeAll(async () => {
    await makeNamespace(strict, "restricted");
    const r = await run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: restrictedWeb(strict) });
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
  }, 120_000);

  it("takes a stress (as the pod's user), probes (a tools pod as nobody) and a pod deletion; refuses a netem at preflight, naming the level; touches nothing then", async () => {
    const pod = await readyPod(strict, "app=web-r");
    const file = join(reports, "restricted.yaml");
    const scenario = (steps: string): string =>
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: restricted }\ntarget: { selector: { app: web-r }, mode: all }\nprobes:\n  web:\n    http: { url: "http://{{ target.ip }}/", requests: 5 }\nsteadyState:\n  - probe: web\n    expect: { errorRatio: 0 }\nsteps:\n${steps}`;
    writeFileSync(file, scenario(`  - name: burn\n    fault: { stress: { cpu: { workers: 1, load: "20%" }, memory: { size: 16Mi } } }\n    duration: 4s\n    expect: { cpu.load: { above: 5% } }\n`));
    const stressed = await chaosRun([file, ...asStrict, "--report-dir", reports, "--keep-tools"]);
    expect(stressed.code, stressed.stderr + stressed.stdout).toBe(0);
    const added = await storedSecurity(strict, pod);
    const stressAgent = [...added.keys()].find((n) => n.startsWith("chaos-stress-")) ?? "";
    expect(added.get(stressAgent)).toEqual(leastPrivilege([], { runAsUser: 33, runAsGroup: 33, runAsNonRoot: true }));
    const tools = (await kubectl(["get", "pods", "-n", strict, "-l", "app.kubernetes.io/name=chaos-tools", "-o", "jsonpath={.items[0].metadata.name}"])).stdout.trim();
    expect((await storedSecurity(strict, tools)).get("tools")).toEqual(leastPrivilege([], { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true }));
    await kubectlOk(["delete", "pod", tools, "-n", strict, "--wait=false"]);
    // a network fault needs NET_ADMIN as root: refused before anything is touched, saying which level admits it
    const before = [...(await storedSecurity(strict, pod)).keys()];
    const netem = await chaosRun(["disrupt", "-p", pod, "-d", "100", "-r", "5", ...asStrict]);
    expect(netem.code, netem.stderr).toBe(3);
    expect(netem.stderr).toContain(`namespace ${strict} enforces Pod Security "restricted"`);
    expect(netem.stderr).toMatch(/"restricted" refuses it: it adds NET_ADMIN; runs as root \(runAsUser 0\); "privileged" admits it/);
    expect(netem.stderr).toContain(`kubectl label namespace ${strict} pod-security.kubernetes.io/enforce=privileged --overwrite`);
    expect([...(await storedSecurity(strict, pod)).keys()]).toEqual(before);
    // a pod deletion adds no container: its Deployment replaces the pod, and the probes measure the new one
    writeFileSync(file, scenario("  - name: delete\n    fault: { podDelete: { gracePeriod: 0s } }\n    duration: 30s\n    expect: { recovery.time: { below: 30s } }\n"));
    const deleted = await chaosRun([file, ...asStrict, "--report-dir", reports]);
    expect(deleted.code, deleted.stderr + deleted.stdout).toBe(0);
    expect(deleted.stderr).toMatch(/was replaced by web-/);
  }, 300_000);
});

describe("every container chaos-run adds, as the API server stores it", () => {
  it("drops ALL capabilities and adds back only what its fault needs, no privilege escalation, RuntimeDefault seccomp: the pod's agent, a kill agent, a stress agent, the agent sweep adds", async () => {
    await kubectl(["delete", "pod", "every", "-n", ns, "--ignore-not-found", "--wait=true"]);
    await kubectlOk([
      "run",
      "every",
      "-n",
      ns,
      "--image",
      "nginx",
      "--overrides",
      JSON.stringify({ spec: { containers: [{ name: "every", image: "nginx", resources: { limits: { cpu: "1", memory: "128Mi" } } }] } }),
    ]);
    await waitReady(ns, "every", 60_000);
    // the pod's agent, left holding a partition; then killed from the node: sweep adds a fresh one
    const held = await chaosRun(["disconnect", "-p", "every", "-r", "60", "--detach", ...asAdmin]);
    expect(held.code, held.stderr).toBe(0);
    const agent = [...(await storedSecurity(ns, "every")).keys()].find((n) => n.startsWith("chaos-agent-")) ?? "";
    process.kill(agentProcess(agent) ?? 0, "SIGKILL");
    await waitFor(
      "the agent's container to end",
      async () => ((await getPod(ns, "every"))?.status.ephemeralContainerStatuses?.find((s) => s.name === agent)?.state.terminated !== undefined ? true : undefined),
      30_000,
      200,
    );
    const swept = await chaosRun(["sweep", ...asAdmin]);
    expect(swept.code, swept.stderr + swept.stdout).toBe(0);
    expect(swept.stdout).toMatch(/safety-test\/every: its agent \S+ \(Error, exit 137\) died; added (chaos-agent-\S+) to revert what it left/);
    const sweepAgent = /added (chaos-agent-\S+) to revert/.exec(swept.stdout)?.[1] ?? "";
    // a kill agent (SIGKILL to the main process, an init: ptrace) and a stress agent
    const killed = await chaosRun(["kill", "-p", "every", ...asAdmin]);
    expect(killed.code, killed.stderr).toBe(0);
    const stressed = await chaosRun(["stress", "-p", "every", "--cpu", "1", "--load", "10", "-r", "2", ...asAdmin]);
    expect(stressed.code, stressed.stderr).toBe(0);
    const stored = await storedSecurity(ns, "every");
    const named = (prefix: string): string => [...stored.keys()].find((n) => n.startsWith(prefix)) ?? "";
    const root = { runAsUser: 0, runAsNonRoot: false };
    expect(stored.get(agent)).toEqual(leastPrivilege(["NET_ADMIN", "NET_RAW"], root));
    expect(stored.get(sweepAgent)).toEqual(leastPrivilege(["NET_ADMIN", "NET_RAW"], root));
    expect(stored.get(named("chaos-kill-"))).toEqual(leastPrivilege(["SYS_PTRACE"], root));
    expect(stored.get(named("chaos-stress-"))).toEqual(leastPrivilege([], root));
  }, 300_000);
});

describe("an admission policy that denies the agent", () => {
  const denied = "safety-admission";
  const policy = (name: string): string => `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${name} }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["pods/ephemeralcontainers"] }
  validations:
    - expression: "!has(object.spec.ephemeralContainers) || object.spec.ephemeralContainers.all(c, !c.name.startsWith('chaos-agent'))"
      message: "no chaos agents in this namespace (test policy)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${name} }
spec:
  policyName: ${name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${denied} } }
`;

  it("exits 3 with the API's words and says nothing may remain: the fault that was to travel with the agent was never held", async () => {
    await makeNamespace(denied);
    await kubectlOk(["run", "web", "-n", denied, "--image", "nginx"]);
    await waitReady(denied, "web", 60_000);
    // cluster-scoped: one left by an earlier try goes first, and this one goes in every case
    const removePolicy = (): Promise<string> => kubectlOk(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", denied, "--ignore-not-found"]);
    await removePolicy();
    try {
      const applied = await run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: policy(denied) });
      expect(applied.code, applied.stderr).toBe(0);
      // the policy takes a moment to be enforced: until the patch of an agent, dry-run, is refused
      const patch = JSON.stringify({ spec: { ephemeralContainers: [{ name: "chaos-agent-probe", image: "nginx" }] } });
      await waitFor(
        "the policy to deny an agent",
        async () => {
          const r = await kubectl(["patch", "pod", "web", "-n", denied, "--subresource", "ephemeralcontainers", "--type", "strategic", "-p", patch, "--dry-run=server"]);
          return r.code !== 0 && r.stderr.includes("no chaos agents") ? true : undefined;
        },
        30_000,
        500,
      );
      const r = await chaosRun(["disconnect", "-p", "web", "-r", "2", "--kubeconfig", kubeconfig, "-n", denied]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain("an admission policy of the cluster refused to let chaos-run add the agent to pod safety-admission/web");
      expect(r.stderr).toContain("no chaos agents in this namespace (test policy)");
      expect(r.stderr).toMatch(/hint: the policy named above is the cluster's own/);
      expect(r.stderr).not.toMatch(/may remain|could not be confirmed reverted/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // nothing was added, to hold the fault or to revert it
      expect((await getPod(denied, "web"))?.spec.ephemeralContainers ?? []).toEqual([]);
    } finally {
      await removePolicy();
      await kubectl(["delete", "namespace", denied, "--wait=false"]);
    }
  }, 120_000);
});

describe("the stress guard, in the lab", () => {
  it("refuses memory and CPU beyond a pod's limit, or its request without one, before anything is touched (exit 3, located in the file); the opt-in runs it", async () => {
    await kubectl(["delete", "pod", "capped", "uncapped", "-n", ns, "--ignore-not-found", "--wait=true"]);
    await kubectlOk([
      "run",
      "capped",
      "-n",
      ns,
      "--image",
      "nginx",
      "--overrides",
      JSON.stringify({ spec: { containers: [{ name: "capped", image: "nginx", resources: { limits: { cpu: "500m", memory: "64Mi" } } }] } }),
    ]);
    await kubectlOk([
      "run",
      "uncapped",
      "-n",
      ns,
      "--image",
      "nginx",
      "--overrides",
      JSON.stringify({ spec: { containers: [{ name: "uncapped", image: "nginx", resources: { requests: { cpu: "100m", memory: "32Mi" } } }] } }),
    ]);
    await waitReady(ns, "capped", 60_000);
    await waitReady(ns, "uncapped", 60_000);
    const ephemeral = async (pod: string): Promise<number> => (await getPod(ns, pod))?.spec.ephemeralContainers?.length ?? 0;
    const huge = await chaosRun(["stress", "-p", "capped", "--memory", "1Ti", "-r", "5", ...asAdmin]);
    expect(huge.code, huge.stderr).toBe(3);
    expect(huge.stderr).toContain("1Ti of memory is beyond pod capped's memory limit of 64Mi: the pod's cgroup OOM-kills at its limit, so more measures nothing (nothing was touched)");
    expect(huge.stderr).toContain("--allow-beyond-limit");
    const beyondRequest = await chaosRun(["stress", "-p", "uncapped", "--memory", "256Mi", "-r", "5", ...asAdmin]);
    expect(beyondRequest.code, beyondRequest.stderr).toBe(3);
    expect(beyondRequest.stderr).toContain("256Mi of memory is beyond pod uncapped's memory request of 32Mi: it has no memory limit");
    expect([await ephemeral("capped"), await ephemeral("uncapped")]).toEqual([0, 0]);
    // in a scenario file: located at the workers, the line and column of the file
    const file = join(reports, "cpu-beyond.yaml");
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: cpu-beyond }\ntarget: { pods: [capped], mode: all }\nsteps:\n  - name: burn\n    fault:\n      stress:\n        cpu: { workers: 2 }\n    duration: 2s\n`,
    );
    const located = await chaosRun([file, ...asAdmin, "--report-dir", reports]);
    expect(located.code, located.stderr).toBe(3);
    expect(located.stderr).toMatch(/cpu-beyond\.yaml:9:\d+: error\[stress-bound\]: step 1 \(burn\): 2 CPU workers at 100% \(2 CPUs\) is beyond pod capped's cpu limit of 500m/);
    expect(await ephemeral("capped")).toBe(0);
    // asked for on purpose: it runs (and the pod's cgroup holds it to its limit)
    const optIn = await chaosRun(["stress", "-p", "capped", "--cpu", "2", "-r", "2", "--allow-beyond-limit", ...asAdmin]);
    expect(optIn.code, optIn.stderr).toBe(0);
    expect(await ephemeral("capped")).toBe(1);
  }, 240_000);
});
