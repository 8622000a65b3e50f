// The lab's registry stopped, as on an air-gapped node: pull policies behave as on any node, and
// chaos-run's agent runs from the node's own copy of its image. Stopping the registry takes it
// from every test that runs meanwhile, so this file runs alone (scripts/test-labs.mjs).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, kubectlOk, makeNamespace, repoRoot, run, waitFor, waitReady, type PodJson } from "../support/lab.js";

const ns = "air-gapped-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];

function agentStatus(pod: PodJson | undefined): { name: string; state: { running?: object; waiting?: { reason: string } } }[] {
  return (pod?.status.ephemeralContainerStatuses ?? []).filter((s) => s.name.startsWith("chaos-agent-"));
}

beforeAll(async () => {
  await makeNamespace(ns);
  await kubectlOk(["run", "tools", "-n", ns, "--image", "chaos-tools"]);
  await waitReady(ns, "tools", 60_000);
});

describe("pull policies, as on a real node", () => {
  afterAll(async () => {
    await run([join(repoRoot, "test/lab/registry"), "start"]);
  });

  it("with the registry stopped: Always fails to pull, IfNotPresent runs the image already on the node", async () => {
    // chaos-tools is on the node already (the tools pod runs it)
    const stop = await run([join(repoRoot, "test/lab/registry"), "stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    await kubectlOk(["run", "always", "-n", ns, "--image", "chaos-tools", "--image-pull-policy", "Always", "--", "sleep", "infinity"]);
    await kubectlOk(["run", "present", "-n", ns, "--image", "chaos-tools", "--image-pull-policy", "IfNotPresent", "--", "sleep", "infinity"]);
    await waitReady(ns, "present", 60_000);
    const reason = await waitFor(
      "always to fail its pull",
      async () => {
        const r = (await getPod(ns, "always"))?.status.containerStatuses?.[0]?.state.waiting?.reason;
        return r === "ErrImagePull" || r === "ImagePullBackOff" ? r : undefined;
      },
      60_000,
    );
    expect(reason).toMatch(/ErrImagePull|ImagePullBackOff/);
    await kubectlOk(["delete", "pod", "always", "present", "-n", ns, "--wait=false"]);
  });
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
