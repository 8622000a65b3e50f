// The runner's faults, measured in the kernel lab (UML, real sch_netem): the seed's disrupt
// command while ab -k runs from the tools pod, loss measured with ping, a port-80 partition, a
// port-scoped and an IPv6-scoped delay, and an existing root qdisc restored exactly afterwards.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { abMedian, getPod, inKernelLab, kubeconfig, kubectl, kubectlOk, nginxAndTools, repoRoot, waitFor } from "../support/lab.js";

const ns = "kernel-faults";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const fixture = (name: string): string => join(repoRoot, "test/fixtures/lab", name);
let v4 = "";
let v6 = "";

const medianOf = (url: string): Promise<number> => abMedian(ns, "tools", url, 20);

/** Everything on nginx's eth0, read through a debug container of the lab's inspection image. */
async function qdiscs(): Promise<string> {
  return kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", "tc", "qdisc", "show", "dev", "eth0"]);
}

async function httpCode(url: string): Promise<string> {
  const r = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", url]);
  return r.stdout.trim() || "000";
}

beforeAll(async () => {
  expect(inKernelLab, "the kernel tier runs inside UML: npm run test:kernel").toBe(true);
  await nginxAndTools(ns);
  await kubectlOk(["debug", "-n", ns, "nginx", "--image", "lab-inspect", "-c", "inspect", "--profile", "netadmin", "--", "sleep", "infinity"]);
  await waitFor(
    "the inspect container",
    async () => ((await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name === "inspect")?.state.running !== undefined ? true : undefined),
    60_000,
  );
  const ips = (await getPod(ns, "nginx"))?.status.podIPs ?? [];
  v4 = ips.find((i) => !i.ip.includes(":"))?.ip ?? "";
  v6 = ips.find((i) => i.ip.includes(":"))?.ip ?? "";
  expect(v4).toMatch(/^198\.18\./);
  expect(v6).toMatch(/^fd00:c612::/);
});

describe("disrupt -p nginx -d 100 -r 15 --detach (the seed's command, handed to the agent)", () => {
  it("adds 100 ms ± 5 % while it lasts, then nothing of ours remains and latency is back to baseline", async () => {
    const base = await medianOf(`http://${v4}/`);
    const r = await chaosRun(["disrupt", "-p", "nginx", "-d", "100", "-r", "15", "--detach", ...asAdmin]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`fault applied; the agent reverts it in 15s by itself. To end it early: chaos-run sweep -n ${ns}\n`);
    const during = await medianOf(`http://${v4}/`);
    const added = during - base;
    console.log(`disrupt: baseline ${base.toFixed(2)} ms, during ${during.toFixed(2)} ms, added ${added.toFixed(2)} ms (ratio ${(added / 100).toFixed(3)})`);
    expect(added / 100).toBeGreaterThan(0.95);
    expect(added / 100).toBeLessThan(1.05);
    // the agent's lease ends it: no netem on eth0 afterwards
    await waitFor("the agent to revert the disrupt", async () => (/netem/.test(await qdiscs()) ? undefined : true), 30_000, 500);
    expect(await qdiscs()).not.toMatch(/netem|prio/);
    const after = await medianOf(`http://${v4}/`);
    // 10 ms: a tenth of the fault, above the noise of a UML kernel sharing its host
    expect(Math.abs(after - base)).toBeLessThan(10);
  });

  it("restores a root qdisc the pod already had, exactly (held in the foreground, then reverted by the runner; --wait is the default's old name)", async () => {
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "8001:", "tbf", "rate", "100mbit", "burst", "64kb", "latency", "50ms"]);
    const before = (await qdiscs()).replace(/refcnt \d+ /, "");
    expect(before).toMatch(/qdisc tbf 8001: root/);
    const r = await chaosRun(["disrupt", "-p", "nginx", "-d", "50", "-r", "2", "--wait", ...asAdmin]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("fault applied for 2s and reverted.\n");
    expect((await qdiscs()).replace(/refcnt \d+ /, "")).toBe(before);
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", "tc", "qdisc", "del", "dev", "eth0", "root"]);
  });
});

describe("disrupt in the foreground (the default)", () => {
  it("holds the fault with a countdown; Ctrl-C reverts it within 2 s and exits 130", async () => {
    const run = startChaosRun(["disrupt", "-p", "nginx", "-d", "100", "-r", "120", ...asAdmin]);
    await run.waitFor(/holding netem delay 100ms; all traffic on nginx: \d+m?\d*s left \(Ctrl-C reverts it now\)/, 120_000);
    expect(await qdiscs()).toMatch(/netem/);
    const sent = performance.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.endedAt - sent).toBeLessThan(2000);
    expect(await qdiscs()).not.toMatch(/netem|prio/);
  });
});

describe("loss", () => {
  it("drops 20 % of packets: ping's loss within binomial bounds", async () => {
    const r = await chaosRun(["disrupt", "-p", "nginx", "-l", "20", "-r", "20", "--detach", ...asAdmin]);
    expect(r.code, r.stderr).toBe(0);
    const n = 300;
    const out = (await kubectl(["exec", "-n", ns, "tools", "--", "ping", "-n", "-q", "-c", String(n), "-i", "0.005", "-W", "1", v4], kubeconfig, 60_000)).stdout;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    expect(m, out).not.toBeNull();
    const lost = Number(m?.[1]) - Number(m?.[2]);
    // netem drops the echo replies at nginx's egress: lost ~ Binomial(300, 0.2): mean 60, sd 6.9;
    // ±4 sd keeps a false alarm below 1 in 10,000
    const sd = Math.sqrt(n * 0.2 * 0.8);
    console.log(`loss: ${lost}/${n} lost (expected ${n * 0.2} ± ${(4 * sd).toFixed(1)})`);
    expect(Math.abs(lost - n * 0.2)).toBeLessThan(4 * sd);
    expect((await chaosRun(["sweep", ...asAdmin])).code).toBe(0);
  });
});

describe("scoped faults", () => {
  it("a partition of port 80: port 80 unreachable, 8080 still served; gone afterwards", async () => {
    const run = startChaosRun([fixture("partition-port80-hold.yaml"), ...asAdmin]);
    await run.waitFor(/in effect in pod kernel-faults\/nginx/, 120_000);
    expect(await httpCode(`http://${v4}/`)).toBe("000");
    expect(await httpCode(`http://${v4}:8080/`)).toBe("200");
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(130);
    expect(await httpCode(`http://${v4}/`)).toBe("200");
  });

  it("netem on port 80 only: +100 ms on :80, nothing on :8080", async () => {
    const base80 = await medianOf(`http://${v4}/`);
    const base8080 = await medianOf(`http://${v4}:8080/`);
    const run = startChaosRun([fixture("netem-port80.yaml"), ...asAdmin]);
    await run.waitFor(/in effect in pod kernel-faults\/nginx/, 120_000);
    const d80 = await medianOf(`http://${v4}/`);
    const d8080 = await medianOf(`http://${v4}:8080/`);
    run.child.kill("SIGINT");
    expect((await run.done).code).toBe(130);
    console.log(`port scope: :80 ${base80.toFixed(2)} → ${d80.toFixed(2)} ms, :8080 ${base8080.toFixed(2)} → ${d8080.toFixed(2)} ms`);
    expect((d80 - base80) / 100).toBeGreaterThan(0.95);
    expect((d80 - base80) / 100).toBeLessThan(1.05);
    expect(Math.abs(d8080 - base8080)).toBeLessThan(10); // a tenth of the fault: UML noise, not a leak
    expect(await qdiscs()).not.toMatch(/netem|prio/);
  });

  it("netem towards an IPv6 CIDR: +100 ms over IPv6, nothing over IPv4", async () => {
    const base6 = await medianOf(`http://[${v6}]/`);
    const base4 = await medianOf(`http://${v4}/`);
    const run = startChaosRun([fixture("netem-v6.yaml"), ...asAdmin]);
    await run.waitFor(/in effect in pod kernel-faults\/nginx/, 120_000);
    const d6 = await medianOf(`http://[${v6}]/`);
    const d4 = await medianOf(`http://${v4}/`);
    run.child.kill("SIGINT");
    expect((await run.done).code).toBe(130);
    console.log(`IPv6 scope: v6 ${base6.toFixed(2)} → ${d6.toFixed(2)} ms, v4 ${base4.toFixed(2)} → ${d4.toFixed(2)} ms`);
    expect((d6 - base6) / 100).toBeGreaterThan(0.95);
    expect((d6 - base6) / 100).toBeLessThan(1.05);
    expect(Math.abs(d4 - base4)).toBeLessThan(10); // a tenth of the fault: UML noise, not a leak
  });
});
