// Safe on real clusters, on the real node: an air-gapped node runs `:latest` images with the
// default pull policy (IfNotPresent), and an IPv6-only target works end to end (its URL
// bracketed, its partition only in the family it has).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, kubectl, kubectlOk, makeNamespace, repoRoot, run, waitFor, waitReady, type PodJson } from "../support/lab.js";

const ns = "safety-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const reports = mkdtempSync(join(tmpdir(), "chaos-run-safety-"));

function agentStatus(pod: PodJson | undefined): { name: string; state: { running?: object; waiting?: { reason: string } } }[] {
  return (pod?.status.ephemeralContainerStatuses ?? []).filter((s) => s.name.startsWith("chaos-agent-"));
}

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

describe("an air-gapped node", () => {
  afterAll(async () => {
    await run([join(repoRoot, "test/lab/registry"), "start"]);
  });

  it("runs the agent from the node's own copy of chaos-agent:latest (default pull policy IfNotPresent); Always fails, saying why", async () => {
    // the node gets chaos-agent:latest once, while the registry answers
    await kubectlOk(["run", "first", "-n", ns, "--image", "chaos-tools", "--", "sleep", "infinity"]);
    await waitReady(ns, "first", 60_000);
    const warm = await chaosRun(["install", "-p", "first", ...asAdmin]);
    expect(warm.code, warm.stderr).toBe(0);
    // then the node is cut off from every registry
    expect((await run([join(repoRoot, "test/lab/registry"), "stop"])).code).toBe(0);
    await kubectlOk(["run", "second", "-n", ns, "--image", "chaos-tools", "--image-pull-policy", "IfNotPresent", "--", "sleep", "infinity"]);
    await waitReady(ns, "second", 60_000);
    const airGapped = await chaosRun(["install", "-p", "second", ...asAdmin]);
    expect(airGapped.code, airGapped.stderr).toBe(0);
    expect(agentStatus(await getPod(ns, "second")).map((s) => s.state.running !== undefined)).toEqual([true]);
    // asked to pull every time, the agent cannot start: exit 3 with the reason and the fix
    await kubectlOk(["run", "third", "-n", ns, "--image", "chaos-tools", "--image-pull-policy", "IfNotPresent", "--", "sleep", "infinity"]);
    await waitReady(ns, "third", 60_000);
    const always = await chaosRun(["install", "-p", "third", "--pull-policy", "Always", ...asAdmin]);
    expect(always.code).toBe(3);
    expect(always.stderr).toMatch(/cannot start: (ErrImagePull|ImagePullBackOff)/);
    expect(always.stderr).toMatch(/hint: .*pull/);
  }, 180_000);
});

describe("an IPv6-only target (RuntimeClass ipv6-only)", () => {
  it("is probed at its bracketed address and partitioned in ip6tables only; expectations hold end to end", async () => {
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
    const restores = j.faults
      .flatMap((f) => f.applyCommands)
      .map((c) => c.argv[0] ?? "")
      .filter((a) => a.includes("restore"));
    expect(restores.length).toBeGreaterThanOrEqual(1);
    expect(restores.every((a) => a.startsWith("ip6tables-"))).toBe(true);
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
