// The kernel lab: the same lab inside a UML kernel that has sch_netem. A netem
// delay added in a pod's namespace (from a debug container of the agent image,
// through kubectl) shows up in ab's measurements from the tools pod.
import { beforeAll, describe, expect, it } from "vitest";
import { abMedian, getPod, inKernelLab, kubectl, kubectlOk, nginxAndTools, waitFor } from "../support/lab.js";

const ns = "kernel-lab";

const medianMs = (ip: string): Promise<number> => abMedian(ns, "tools", `http://${ip}/`);

beforeAll(async () => {
  expect(inKernelLab, "the kernel tier runs inside UML: npm run test:kernel").toBe(true);
  await nginxAndTools(ns);
});

describe("netem inside the kernel lab", () => {
  it("adds ≈100 ms per request, and nothing once removed", async () => {
    const ip = (await getPod(ns, "nginx"))?.status.podIP ?? "";
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "chaos-agent", "-c", "netadmin", "--profile", "netadmin", "--", "sleep", "3600"]);
    await waitFor(
      "the debug container",
      async () => {
        const st = (await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name === "netadmin");
        return st?.state.running !== undefined ? st : undefined;
      },
      60_000,
    );
    const base = await medianMs(ip);
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "netadmin", "--", "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "100ms"]);
    const shown = await kubectlOk(["exec", "-n", ns, "nginx", "-c", "netadmin", "--", "tc", "qdisc", "show", "dev", "eth0"]);
    expect(shown).toMatch(/qdisc netem \S+ root .*delay 100ms/);
    const delayed = await medianMs(ip);
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "netadmin", "--", "tc", "qdisc", "del", "dev", "eth0", "root"]);
    const after = await medianMs(ip);
    const added = delayed - base;
    console.log(`kernel lab netem: baseline ${base.toFixed(2)} ms, delayed ${delayed.toFixed(2)} ms, after ${after.toFixed(2)} ms`);
    expect(added / 100).toBeGreaterThan(0.95);
    expect(added / 100).toBeLessThan(1.05);
    expect(Math.abs(after - base)).toBeLessThan(2);
  });

  it("the workload's own container cannot change the pod's network (it has no NET_ADMIN)", async () => {
    const r = await kubectl(["exec", "-n", ns, "nginx", "-c", "nginx", "--", "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });
});
