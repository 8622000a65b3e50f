// The runner against the host lab (a real node: kubelet, containerd, the agent image; real
// iptables in the pods' namespaces): injection next to existing ephemeral containers, a port-scoped partition, and
// the revert guarantees — normal end, Ctrl-C, SIGKILL (the agent's lease), a pod deleted
// mid-run — plus RBAC and Pod Security refusals that touch nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { agentProcess, chaosObjects, leastPrivilege, storedSecurity, type StoredSecurity } from "../support/host.js";
import { getPod, kubeconfig, kubectl, kubectlOk, limitedKubeconfig, makeNamespace, nginxAndTools, repoRoot, viewerKubeconfig, waitFor, waitReady, type PodJson } from "../support/lab.js";

const ns = "runner-test";
const short = join(repoRoot, "test/fixtures/lab/partition-port80.yaml");
const long = join(repoRoot, "test/fixtures/lab/partition-long.yaml");
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];

function agentsOf(pod: PodJson | undefined): string[] {
  return (pod?.spec.ephemeralContainers ?? []).map((c) => c.name).filter((n) => n.startsWith("chaos-agent-"));
}

/** What chaos-run left in a pod's network namespace: iptables CHAOS- lines and CHAOS- nftables tables, read from the node. */
const chaosRules = chaosObjects;

/** curl from the tools pod: the HTTP code, or "000" when the connection fails. */
async function httpCode(namespace: string, url: string): Promise<string> {
  const r = await kubectl(["exec", "-n", namespace, "tools", "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", url]);
  return r.stdout.trim() || "000";
}

beforeAll(async () => {
  await nginxAndTools(ns);
});

describe("install", () => {
  it("adds the agent next to a kubectl debug container (the seed's bug), then reuses it", async () => {
    await kubectlOk(["run", "debugged", "-n", ns, "--image", "nginx"]);
    await waitReady(ns, "debugged");
    await kubectlOk(["debug", "-n", ns, "debugged", "--image", "chaos-tools", "-c", "dbg", "--profile", "general", "--", "sleep", "3600"]);
    const first = await chaosRun(["install", "-p", "debugged", ...asAdmin]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe("chaos agent installed.\n");
    const pod = await getPod(ns, "debugged");
    expect(pod?.spec.ephemeralContainers?.map((c) => c.name)).toContain("dbg");
    expect(agentsOf(pod)).toHaveLength(1);
    // kubectl's global flags before the verb, as kubectl takes them
    const again = await chaosRun([...asAdmin, "install", "-p", "debugged"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/reused \(already running\)/);
    expect(agentsOf(await getPod(ns, "debugged"))).toHaveLength(1);
  });

  it("gives the agent an explicit pull policy, user and capabilities, whatever the pod's own securityContext", async () => {
    // a workload that runs as a non-root user (nginx could not bind :80 as uid 1000)
    await kubectlOk([
      "run",
      "nonroot",
      "-n",
      ns,
      "--image",
      "chaos-tools",
      "--overrides",
      JSON.stringify({ spec: { securityContext: { runAsUser: 1000, runAsNonRoot: true } } }),
      "--",
      "sleep",
      "infinity",
    ]);
    await waitReady(ns, "nonroot", 60_000);
    const r = await chaosRun(["install", "-p", "nonroot", ...asAdmin]);
    expect(r.code, r.stderr).toBe(0);
    const agent = (await getPod(ns, "nonroot"))?.spec.ephemeralContainers?.find((c) => c.name.startsWith("chaos-agent-")) as unknown as {
      imagePullPolicy?: string;
      securityContext?: StoredSecurity;
      env?: { name: string; value: string }[];
      stdin?: boolean;
      tty?: boolean;
    };
    expect(agent.imagePullPolicy).toBe("IfNotPresent");
    expect(agent.securityContext).toEqual(leastPrivilege(["NET_ADMIN", "NET_RAW"], { runAsUser: 0, runAsNonRoot: false }));
    expect(agent.env?.map((e) => e.name).sort()).toEqual(["CHAOS_AGENT_NAME", "CHAOS_AGENT_REQUESTS", "CHAOS_RUN_ID"]);
    // a stdin for the line a run holds to it, no terminal
    expect(agent.stdin).toBe(true);
    expect(agent.tty ?? false).toBe(false);
    // and it works there: a partition applied (capabilities effective as root) and reverted
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-nonroot-"));
    const file = join(dir, "nonroot.yaml");
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: nonroot }\ntarget: { pods: [nonroot], mode: all }\nsteps:\n  - name: drop port 9\n    fault: { partition: {}, to: { port: 9, protocol: tcp } }\n    duration: 1s\n`,
    );
    const fault = await chaosRun([file, ...asAdmin, "--report-dir", join(dir, "report")]);
    rmSync(dir, { recursive: true, force: true });
    expect(fault.code, fault.stderr).toBe(0);
    expect(fault.stderr).toMatch(/in effect in pod runner-test\/nonroot/);
    expect(fault.stderr).toMatch(/reverted in pod runner-test\/nonroot/);
  });

  it("refuses a hostNetwork pod, touching nothing (exit 3)", async () => {
    // a real hostNetwork pod of the lab's node (a sleeper: nothing of it listens on the host)
    await kubectlOk([
      "run",
      "on-host",
      "-n",
      ns,
      "--image",
      "chaos-tools",
      "--overrides",
      JSON.stringify({ spec: { hostNetwork: true, terminationGracePeriodSeconds: 1 } }),
      "--",
      "sleep",
      "infinity",
    ]);
    await waitReady(ns, "on-host", 60_000);
    const r = await chaosRun(["disrupt", "-p", "on-host", "-d", "100", "-r", "5", ...asAdmin]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("pod on-host uses the node's network (hostNetwork: true)");
    expect(agentsOf(await getPod(ns, "on-host"))).toEqual([]);
  });

  it("says which pod is missing, and touches nothing", async () => {
    const r = await chaosRun(["install", "-p", "no-such-pod", ...asAdmin]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`pod no-such-pod not found in namespace ${ns} (nothing was touched)`);
  });
});

describe("a partition scoped to port 80", () => {
  it("cuts port 80 while it lasts, leaves 8080 alone, and is gone afterwards", async () => {
    const ip = (await getPod(ns, "nginx"))?.status.podIP ?? "";
    expect(await httpCode(ns, `http://${ip}/`)).toBe("200");
    const run = startChaosRun([short, ...asAdmin]);
    await run.waitFor(/in effect in pod runner-test\/nginx/);
    // side by side: all three inside the fault's window
    const [cut, other, rules] = await Promise.all([httpCode(ns, `http://${ip}:80/`), httpCode(ns, `http://${ip}:8080/`), chaosRules(ns, "nginx")]);
    expect(cut).toBe("000");
    expect(other).toBe("200");
    expect(rules.length).toBeGreaterThan(0);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/reverted in pod runner-test\/nginx/);
    expect(await httpCode(ns, `http://${ip}/`)).toBe("200");
    expect(await chaosRules(ns, "nginx")).toEqual([]);
  });
});

describe("revert, whatever happens", () => {
  it("Ctrl-C during a 60 s fault: reverted within 2 s, exit 130", async () => {
    const run = startChaosRun([long, ...asAdmin]);
    await run.waitFor(/in effect in pod runner-test\/nginx/);
    const sent = performance.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.endedAt - sent).toBeLessThan(2000);
    expect(done.stderr).toMatch(/reverted in pod runner-test\/nginx/);
    expect(await chaosRules(ns, "nginx")).toEqual([]);
  });

  it("SIGTERM: reverted, exit 143", async () => {
    const run = startChaosRun([long, ...asAdmin]);
    await run.waitFor(/in effect in pod runner-test\/nginx/);
    run.child.kill("SIGTERM");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(143);
    expect(await chaosRules(ns, "nginx")).toEqual([]);
  });

  it("SIGKILL of the runner: the agent reverts by itself within its lease + 1 s", async () => {
    const run = startChaosRun([long, ...asAdmin]);
    await run.waitFor(/in effect in pod runner-test\/nginx/);
    expect((await chaosRules(ns, "nginx")).length).toBeGreaterThan(0);
    const killed = performance.now();
    run.child.kill("SIGKILL");
    await run.done;
    await waitFor("the agent's own revert", async () => ((await chaosRules(ns, "nginx")).length === 0 ? true : undefined), 10_000, 100);
    const leaseMs = 3000;
    expect(performance.now() - killed).toBeLessThan(leaseMs + 1000 + 300 /* polling and exec round trip */);
  });

  it("a target pod deleted mid-run: a clear message, the other pod still reverted, exit 3", async () => {
    await kubectlOk(["run", "nginx-b", "-n", ns, "--image", "nginx", "--labels", "run=nginx"]);
    await waitReady(ns, "nginx-b");
    const run = startChaosRun([short, ...asAdmin]);
    await run.waitFor(
      /in effect in pod runner-test\/nginx-b[^\n]*\n(.|\n)*in effect in pod runner-test\/nginx\b|in effect in pod runner-test\/nginx\b[^\n]*\n(.|\n)*in effect in pod runner-test\/nginx-b/,
    );
    await kubectlOk(["delete", "pod", "nginx-b", "-n", ns, "--wait=false"]);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(3);
    expect(done.stderr).toMatch(/target pod runner-test\/nginx-b was (deleted|terminating) during the run/);
    expect(done.stderr).toMatch(/target pod runner-test\/nginx-b went away during step 1 \(cut port 80\); the other pods were reverted/);
    expect(done.stderr).toMatch(/fault \S+: reverted in pod runner-test\/nginx\n/);
    expect(await chaosRules(ns, "nginx")).toEqual([]);
  });
});

describe("permissions", () => {
  it("works with the documented least-privilege role (deploy/rbac.yaml)", async () => {
    const r = await chaosRun([short, "--kubeconfig", limitedKubeconfig, "-n", ns]);
    expect(r.code, r.stderr).toBe(0);
    expect(await chaosRules(ns, "nginx")).toEqual([]);
  });

  it("a k8s probe that would read what the role does not grant (configmaps; one configmap by name; a kind not served): exit 3 before anything is touched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-probe-reads-"));
    const scenario = (name: string, probe: string): string => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: probe-reads }\ntarget: { selector: { run: nginx }, mode: all }\nprobes:\n  svc: ${probe}\nsteps:\n  - name: cut port 80\n    fault: { partition: {}, to: { port: 80 } }\n    duration: 2s\n    during:\n      - probe: svc\n        expect: { objects: 1 }\n`,
      );
      return file;
    };
    // a Role that grants one configmap by name (resourceNames): the read of that one is allowed, another is not
    await kubectl(["delete", "role,rolebinding,configmap", "chaos-run-read-web", "web", "-n", ns, "--ignore-not-found"]);
    await kubectlOk(["create", "configmap", "web", "--from-literal", "k=v", "-n", ns]);
    await kubectlOk(["create", "role", "chaos-run-read-web", "--verb", "get", "--resource", "configmaps", "--resource-name", "web", "-n", ns]);
    await kubectlOk(["create", "rolebinding", "chaos-run-read-web", "--role", "chaos-run-read-web", "--user", "chaos-runner", "-n", ns]);
    const named = await chaosRun([scenario("web", "{ k8s: { kind: ConfigMap, name: web } }"), "--kubeconfig", limitedKubeconfig, "-n", ns]);
    expect(named.code, named.stderr + named.stdout).toBe(0);
    const before = agentsOf(await getPod(ns, "nginx")).length;
    // deploy/rbac.yaml grants reads of workloads (apps, batch) and of a Service by name (targets), not of configmaps
    const denied = await chaosRun([scenario("configmaps", "{ k8s: { kind: ConfigMap, selector: { app: web } } }"), "--kubeconfig", limitedKubeconfig, "-n", ns]);
    expect(denied.code, denied.stderr).toBe(3);
    expect(denied.stderr).toMatch(/may not list configmaps in namespace runner-test \(nothing was touched\)/);
    expect(denied.stderr).toContain("kubectl create clusterrole chaos-run-probe-reads --verb get,list --resource configmaps");
    const otherName = await chaosRun([scenario("other", "{ k8s: { kind: ConfigMap, name: other } }"), "--kubeconfig", limitedKubeconfig, "-n", ns]);
    expect(otherName.code, otherName.stderr).toBe(3);
    expect(otherName.stderr).toMatch(/may not get configmaps "other" in namespace runner-test \(nothing was touched\)/);
    await kubectl(["delete", "role,rolebinding", "chaos-run-read-web", "-n", ns]);
    const unserved = await chaosRun([scenario("rollout", "{ k8s: { kind: Rollout, apiVersion: argoproj.io/v1alpha1, name: web } }"), ...asAdmin]);
    rmSync(dir, { recursive: true, force: true });
    expect(unserved.code, unserved.stderr).toBe(3);
    expect(unserved.stderr).toContain("probe svc: the API server has no kind Rollout in argoproj.io/v1alpha1 (nothing was touched)");
    expect(agentsOf(await getPod(ns, "nginx")).length).toBe(before);
    expect(await chaosRules(ns, "nginx")).toEqual([]);
  });

  it("without pods/ephemeralcontainers: exit 3, names the permission, touches nothing", async () => {
    await kubectl(["delete", "clusterrole,clusterrolebinding", "chaos-run-no-ephemeral", "--ignore-not-found"]);
    await kubectlOk(["create", "clusterrole", "chaos-run-no-ephemeral", "--verb=get,list,watch", "--resource=pods"]);
    await kubectlOk(["create", "clusterrolebinding", "chaos-run-no-ephemeral", "--clusterrole", "chaos-run-no-ephemeral", "--user", "chaos-viewer"]);
    await kubectlOk(["run", "untouched", "-n", ns, "--image", "nginx", "--labels", "run=untouched"]);
    await waitReady(ns, "untouched");
    const r = await chaosRun(["install", "-p", "untouched", "--kubeconfig", viewerKubeconfig, "-n", ns]);
    // the viewer is shared by the tier's files: leave it bound to nothing again
    await kubectlOk(["delete", "clusterrolebinding,clusterrole", "chaos-run-no-ephemeral"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/may not .*patch pods\/ephemeralcontainers.* in namespace runner-test \(nothing was touched\)/);
    expect(r.stderr).toContain("deploy/rbac.yaml");
    expect(agentsOf(await getPod(ns, "untouched"))).toEqual([]);
  });

  it("under Pod Security baseline: exit 3 with the label to change, touches nothing", async () => {
    const strict = await makeNamespace("runner-test-baseline", "baseline");
    await kubectlOk(["run", "web", "-n", strict, "--image", "nginx"]);
    await waitReady(strict, "web");
    const r = await chaosRun(["install", "-p", "web", "--kubeconfig", kubeconfig, "-n", strict]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`namespace ${strict} enforces Pod Security "baseline"`);
    expect(r.stderr).toContain(`kubectl label namespace ${strict} pod-security.kubernetes.io/enforce=privileged --overwrite`);
    expect(agentsOf(await getPod(strict, "web"))).toEqual([]);
  });
});

describe("sweep", () => {
  it("reverts what a disrupt-style hand-off left to an agent", async () => {
    // a fault handed to the agent's lease: the partition's own fixture, killed after applying,
    // leaves CHAOS rules for up to the lease; sweep removes them at once
    const run = startChaosRun([long, ...asAdmin]);
    await run.waitFor(/in effect in pod runner-test\/nginx/);
    run.child.kill("SIGKILL");
    await run.done;
    const r = await chaosRun(["sweep", ...asAdmin]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/runner-test\/nginx chaos-agent-\S+: reverted 1 fault/);
    expect(await chaosRules(ns, "nginx")).toEqual([]);
    const again = await chaosRun(["sweep", ...asAdmin]);
    expect(again.stdout).not.toMatch(/reverted/);
  });
});

describe("an agent that dies holding an HTTP fault", () => {
  it("SIGKILLed from the node under an error fault: a fresh agent reverts it at once, port 80 answers nginx directly within 10 s, and the run exits 3 saying so", async () => {
    const ip = (await getPod(ns, "nginx"))?.status.podIP ?? "";
    const url = `http://${ip}/`;
    expect(await httpCode(ns, url)).toBe("200");
    const run = startChaosRun(["http", "-p", "nginx", "--port", "80", "--error-rate", "100", "-r", "40", ...asAdmin]);
    const ready = await run.waitFor(/agent (chaos-agent-[a-z0-9-]+): (running|reused)/, 90_000);
    const name = /agent (chaos-agent-[a-z0-9-]+)/.exec(ready)?.[1] ?? "";
    await run.waitFor(/in effect in pod runner-test\/nginx/, 30_000);
    await waitFor("the injected errors", async () => ((await httpCode(ns, url)) === "500" ? true : undefined), 10_000, 200);
    const pid = agentProcess(name);
    expect(pid, `the process of ${name} on the node`).toBeDefined();
    process.kill(pid ?? 0, "SIGKILL");
    const killedAt = performance.now();
    // its REDIRECT now points at a port nobody listens on: refused, until the fresh agent reverts it
    await waitFor("port 80 to answer nginx directly", async () => ((await httpCode(ns, url)) === "200" ? true : undefined), 10_000, 100);
    console.log(`agent SIGKILLed under an HTTP error fault: port 80 answered nginx again ${((performance.now() - killedAt) / 1000).toFixed(1)} s later`);
    const done = await run.done;
    expect(done.code, done.stderr + done.stdout).toBe(3);
    const said = new RegExp(`its agent ${name} died \\((Error|OOMKilled), exit 137\\) at \\d\\d:\\d\\d:\\d\\d; a fresh agent (chaos-agent-[a-z0-9-]+) reverted what it held [\\d.]+ s later`).exec(
      done.stderr,
    );
    expect(said, done.stderr).not.toBeNull();
    expect(done.stderr).not.toContain("chaos-run sweep");
    expect(await chaosRules(ns, "nginx")).toEqual([]);
    // the fresh agent asked for what the dead one had, and no more
    expect((await storedSecurity(ns, "nginx")).get(said?.[2] ?? "")).toEqual(leastPrivilege(["NET_ADMIN", "NET_RAW"], { runAsUser: 0, runAsNonRoot: false }));
  }, 180_000);
});

describe("the tools pod, its runner SIGKILLed", () => {
  it("has a bounded life — a command that ends by itself, the kubelet's deadline, restartPolicy Never — and sweep removes it once its run is gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-tools-"));
    const file = join(dir, "tools.yaml");
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: tools-life }\ntarget: { pods: [nginx], mode: all }\nprobes:\n  web:\n    ab: { url: "http://{{ target.ip }}/", requests: 5, concurrency: 1 }\nsteadyState:\n  - probe: web\n    expect: { failedRequests: 0 }\nsteps:\n  - name: idle\n    wait: 120s\n`,
    );
    const run = startChaosRun([file, ...asAdmin, "--report-dir", join(dir, "report")]);
    const created = await run.waitFor(/tools pod runner-test\/(chaos-tools-[a-z0-9-]+): created/, 90_000);
    await run.waitFor(/step 1 idle/, 60_000);
    run.child.kill("SIGKILL");
    await run.done;
    rmSync(dir, { recursive: true, force: true });
    const name = /(chaos-tools-[a-z0-9-]+)/.exec(created)?.[1] ?? "";
    const pod = (await getPod(ns, name)) as unknown as {
      metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
      spec: { restartPolicy?: string; activeDeadlineSeconds?: number; containers: { command?: string[]; securityContext?: StoredSecurity }[] };
    };
    const deadline = pod.spec.activeDeadlineSeconds ?? 0;
    // 120 s of timeline, 2 ab runs of at most 5 × 10 s, 1 injection of at most 120 s, and a margin of 5 min
    expect(deadline).toBe(120 + 2 * 50 + 120 + 300);
    expect(pod.spec.restartPolicy).toBe("Never");
    expect(pod.spec.containers[0]?.command).toEqual(["sleep", String(deadline)]);
    expect(pod.spec.containers[0]?.securityContext).toEqual(leastPrivilege([], { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true }));
    const expires = Date.parse(pod.metadata.annotations?.["chaos-run.dev/expires"] ?? "");
    expect(Math.abs(expires - (Date.now() + deadline * 1000))).toBeLessThan(60_000);
    // its run may still be going, as far as sweep can tell: left, saying until when
    const early = await chaosRun(["sweep", ...asAdmin]);
    expect(early.code, early.stderr + early.stdout).toBe(0);
    expect(early.stdout).toContain(`runner-test/${name} (tools pod of run ${pod.metadata.labels?.["chaos-run.dev/run"] ?? ""}): its run may still be going; left`);
    // the kubelet ends it at its deadline (shortened here: a pod's deadline may only come sooner)
    await kubectlOk(["patch", "pod", name, "-n", ns, "--type", "merge", "-p", JSON.stringify({ spec: { activeDeadlineSeconds: 1 } })]);
    await waitFor("the kubelet to end it", async () => ((await getPod(ns, name))?.status.phase === "Failed" ? true : undefined), 60_000, 500);
    const late = await chaosRun(["sweep", ...asAdmin]);
    expect(late.code, late.stderr + late.stdout).toBe(0);
    expect(late.stdout).toContain(`runner-test/${name} (tools pod of run`);
    expect(late.stdout).toContain("it ended (Failed): removed");
    await waitFor("the tools pod to go", async () => ((await getPod(ns, name)) === undefined ? true : undefined), 30_000, 500);
  }, 240_000);
});
