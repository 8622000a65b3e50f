// The agent's ownership of the kernel, in the kernel lab (real netem, iptables-legacy): two runs
// whose faults conflict (the second refuses, naming the first; the first's fault is untouched and
// reverted at its end), an agent whose process dies while it holds a netem and a partition (its
// objects are found and reverted by `chaos-run sweep`, and by the next run's agent; the pod's
// latency is back to its baseline), and a netem placed by hand before a run (still there,
// unchanged, after it).
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun, type Running } from "../support/chaos.js";
import { abMedian, getPod, inKernelLab, kubeconfig, kubectl, kubectlOk, labDir, nginxAndTools, repoRoot, run, waitFor } from "../support/lab.js";

const ns = "kernel-agent";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const fixture = (name: string): string => join(repoRoot, "test/fixtures/lab", name);
let ip = "";
let baseline = 0;

const median = (): Promise<number> => abMedian(ns, "tools", `http://${ip}/`, 20);

/** Everything on nginx's eth0 as tc shows it (refcnt dropped), read through a container of the lab's inspection image. */
async function qdiscs(): Promise<string> {
  return (await kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", "tc", "qdisc", "show", "dev", "eth0"])).replace(/ refcnt \d+/g, "");
}

/** The chaos-run chains and jumps in the pod's iptables (legacy: the only backend in this kernel). */
async function chaosRules(): Promise<string[]> {
  const lines: string[] = [];
  for (const tool of ["iptables-legacy", "ip6tables-legacy"]) {
    for (const table of ["filter", "nat"]) {
      const out = await kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", tool, "-w", "-t", table, "-S"]);
      lines.push(...out.split("\n").filter((l) => l.includes("CHAOS-")));
    }
  }
  return lines;
}

async function httpCode(url: string): Promise<string> {
  const r = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", url]);
  return r.stdout.trim() || "000";
}

/** The running chaos agents of nginx, by container name. */
async function liveAgents(): Promise<{ name: string; containerID: string }[]> {
  const pod = (await getPod(ns, "nginx")) as unknown as { status: { ephemeralContainerStatuses?: { name: string; containerID?: string; state: { running?: object } }[] } } | undefined;
  return (pod?.status.ephemeralContainerStatuses ?? [])
    .filter((s) => s.name.startsWith("chaos-agent-") && s.state.running !== undefined)
    .map((s) => ({ name: s.name, containerID: (s.containerID ?? "").replace(/^containerd:\/\//, "") }));
}

/** Kills a container's main process as the node sees it (what an OOM kill or `crictl stop` does). */
async function killContainer(containerID: string): Promise<void> {
  const r = await run(["ctr", "--address", join(labDir, "run", "containerd.sock"), "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", containerID]);
  expect(r.code, r.stderr).toBe(0);
}

async function inEffect(r: Running): Promise<void> {
  await r.waitFor(new RegExp(`in effect in pod ${ns}/nginx`), 180_000);
}

/** Two faults held by one agent (the second run reuses the first's agent), then the agents' processes killed. */
async function orphanNetemAndPartition(): Promise<string[]> {
  const a = startChaosRun([fixture("netem-hold.yaml"), ...asAdmin]);
  await inEffect(a);
  const b = startChaosRun([fixture("partition-8080-hold.yaml"), ...asAdmin]);
  await inEffect(b);
  // the runners die first (their leases would lapse, but the agent is about to die too)
  a.child.kill("SIGKILL");
  b.child.kill("SIGKILL");
  await Promise.all([a.done, b.done]);
  // every agent of the pod dies (an earlier drill's sweeper may still run beside the one that holds both)
  const agents = await liveAgents();
  expect(agents.length).toBeGreaterThanOrEqual(1);
  for (const agent of agents) await killContainer(agent.containerID);
  await waitFor("the agents' containers to end", async () => ((await liveAgents()).length === 0 ? true : undefined), 60_000, 500);
  // what it held stays in the kernel: nobody is left to revert it
  expect(await qdiscs()).toMatch(/qdisc netem c[0-9a-f]{3}: root .*delay 100ms/);
  expect((await chaosRules()).some((l) => l.includes("--ports 8080") || l.includes("--dport 8080") || l.includes("8080"))).toBe(true);
  expect(await httpCode(`http://${ip}:8080/`)).toBe("000");
  const held = await median();
  expect((held - baseline) / 100).toBeGreaterThan(0.9);
  return agents.map((a) => a.name);
}

async function expectBackToBaseline(): Promise<void> {
  expect(await qdiscs()).not.toMatch(/netem|prio/);
  expect(await chaosRules()).toEqual([]);
  expect(await httpCode(`http://${ip}:8080/`)).toBe("200");
  const after = await median();
  console.log(`baseline ${baseline.toFixed(2)} ms, after recovery ${after.toFixed(2)} ms`);
  expect(Math.abs(after - baseline)).toBeLessThan(2);
}

beforeAll(async () => {
  expect(inKernelLab, "the kernel tier runs inside UML: npm run test:kernel").toBe(true);
  await nginxAndTools(ns);
  await kubectlOk(["debug", "-n", ns, "nginx", "--image", "lab-inspect", "-c", "inspect", "--profile", "netadmin", "--", "sleep", "infinity"]);
  await waitFor(
    "the inspect container",
    async () => ((await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name === "inspect")?.state.running !== undefined ? true : undefined),
    120_000,
  );
  ip = (await getPod(ns, "nginx"))?.status.podIP ?? "";
  baseline = await median();
}, 300_000);

describe("two runs against one pod", () => {
  it("the second's netem is refused, naming the first run; the first's fault is untouched and reverted at its end", async () => {
    const first = startChaosRun([fixture("netem-hold.yaml"), ...asAdmin]);
    try {
      await inEffect(first);
      const runId = /run (\w+): netem-hold/.exec(first.output())?.[1] ?? "";
      expect(runId).not.toBe("");
      const tree = await qdiscs();
      const second = await chaosRun(["disrupt", "-p", "nginx", "-d", "50", "-r", "5", ...asAdmin]);
      expect(second.code, second.stderr).toBe(3);
      expect(second.stderr).toMatch(new RegExp(`conflict: eth0's root qdisc c[0-9a-f]{3}: belongs to fault ${runId}-s1 of run ${runId}`));
      // the first's netem is exactly as it was, and still delays
      expect(await qdiscs()).toBe(tree);
      expect(((await median()) - baseline) / 100).toBeGreaterThan(0.95);
    } finally {
      first.child.kill("SIGINT");
    }
    const done = await first.done;
    expect(done.code, done.stderr).toBe(130);
    expect(await qdiscs()).not.toMatch(/netem/);
  }, 300_000);
});

describe("an agent that dies while it holds a netem and a partition", () => {
  it("chaos-run sweep adds a fresh agent that finds both by their owner tags and reverts them; latency is back to baseline", async () => {
    const dead = await orphanNetemAndPartition();
    const sweep = await chaosRun(["sweep", ...asAdmin]);
    expect(sweep.code, sweep.stderr + sweep.stdout).toBe(0);
    for (const name of dead) expect(sweep.stdout).toMatch(new RegExp(`${ns}/nginx: its agents? .*${name} \\(Error, exit 137\\)`));
    expect(sweep.stdout).toMatch(/died; added chaos-agent-\S+ to revert what (it|they) left: reverted what dead agents left \(\d+ objects?\): .*fault /);
    await expectBackToBaseline();
  }, 300_000);

  it("the next run's agent finds them and reverts them before its own fault", async () => {
    await orphanNetemAndPartition();
    const next = await chaosRun([fixture("partition-port9.yaml"), ...asAdmin]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/the agent found (fault \S+|qdisc c[0-9a-f]{3}: \(netem\)[^,]*), left by an agent that is gone, and reverted it/);
    await expectBackToBaseline();
  }, 300_000);
});

describe("a netem placed by hand", () => {
  it("is still there, unchanged, after a run's own netem came and went", async () => {
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem", "delay", "30ms"]);
    const before = await qdiscs();
    expect(before).toMatch(/qdisc netem 1: root .*delay 30ms/);
    const byHand = await median();
    const r = await chaosRun(["disrupt", "-p", "nginx", "-d", "100", "-r", "5", ...asAdmin]);
    expect(r.code, r.stderr).toBe(0);
    expect(await qdiscs()).toBe(before);
    expect(Math.abs((await median()) - byHand)).toBeLessThan(2);
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "inspect", "--", "tc", "qdisc", "del", "dev", "eth0", "root"]);
  }, 300_000);
});
