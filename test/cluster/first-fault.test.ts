// The first fault travels with the agent, on the host lab's real node: a fresh pod (with an
// ephemeral container of its own already: the seed's bug must not return) gets one agent
// container that holds the run's first fault from its start — given in its environment, no exec
// applies it — confirmed by the reply it writes to its log, in effect while the step lasts, reverted when it
// ends. The agent refuses a bad first request as it refuses a bad exec request, and a valid one it
// cannot apply is the run's apply failure, in the agent's own words.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { chaosObjects } from "../support/host.js";
import { getPod, kubeconfig, kubectl, kubectlOk, makeNamespace, repoRoot, waitFor, waitReady } from "../support/lab.js";

const ns = "first-fault-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const reports = mkdtempSync(join(tmpdir(), "chaos-first-fault-"));

interface EphemeralJson {
  name: string;
  env?: { name: string; value?: string }[];
  stdin?: boolean;
}
interface StatusJson {
  name: string;
  state: { running?: object; terminated?: { exitCode: number; reason?: string; message?: string } };
}
interface FullPod {
  spec: { ephemeralContainers?: EphemeralJson[] };
  status: { podIP?: string; ephemeralContainerStatuses?: StatusJson[] };
}

async function podJson(name: string): Promise<FullPod> {
  return JSON.parse(await kubectlOk(["get", "pod", name, "-n", ns, "-o", "json"])) as FullPod;
}

/** curl from the tools pod: the HTTP code, or "000" when the connection fails. */
async function httpCode(url: string): Promise<string> {
  const r = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", url]);
  return r.stdout.trim() || "000";
}

/** A pod of nginx, labelled `run=LABEL`, Ready, with a kubectl debug container already (the seed's bug: an agent added next to it). */
async function freshPod(name: string, label: string): Promise<void> {
  await kubectl(["delete", "pod", name, "-n", ns, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
  await kubectlOk(["run", name, "-n", ns, "--image", "nginx", "--labels", `run=${label}`]);
  await waitReady(ns, name);
  await kubectlOk(["debug", "-n", ns, name, "--image", "chaos-tools", "-c", "dbg", "--profile", "general", "--", "sleep", "3600"]);
  await waitFor(`${name}'s debug container running`, async () => ((await podJson(name)).status.ephemeralContainerStatuses?.find((c) => c.name === "dbg")?.state.running ? true : undefined), 60_000);
}

beforeAll(async () => {
  await makeNamespace(ns);
  await kubectlOk(["run", "tools", "-n", ns, "--image", "chaos-tools", "--", "sleep", "infinity"]);
  await waitReady(ns, "tools", 60_000);
}, 120_000);

afterAll(() => rmSync(reports, { recursive: true, force: true }));

describe("the first fault travels with the agent", () => {
  it("a fresh pod: one agent container holding the fault from its start, no exec apply, in effect, then reverted", async () => {
    await freshPod("fresh", "fresh");
    const ip = (await getPod(ns, "fresh"))?.status.podIP ?? "";
    expect(await httpCode(`http://${ip}/`)).toBe("200");
    const run = startChaosRun([join(repoRoot, "test/fixtures/lab/first-fault.yaml"), ...asAdmin, "--report-dir", reports]);
    await run.waitFor(/in effect in pod first-fault-test\/fresh/, 120_000);
    const [cut, rules] = await Promise.all([httpCode(`http://${ip}:80/`), chaosObjects(ns, "fresh")]);
    expect(cut).toBe("000");
    expect(rules.length).toBeGreaterThan(0);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(await httpCode(`http://${ip}/`)).toBe("200");
    expect(await chaosObjects(ns, "fresh")).toEqual([]);

    // one agent, added next to the debug container, with the step's apply in its environment
    const pod = await podJson("fresh");
    const agents = (pod.spec.ephemeralContainers ?? []).filter((c) => c.name.startsWith("chaos-agent-"));
    expect((pod.spec.ephemeralContainers ?? []).map((c) => c.name)).toContain("dbg");
    expect(agents).toHaveLength(1);
    const first = JSON.parse(agents[0]?.env?.find((e) => e.name === "CHAOS_AGENT_FIRST_REQUEST")?.value ?? "null") as { op: string; fault: { id: string } } | null;
    expect(first?.op).toBe("apply");

    // the journal: the fault came with the agent, its apply's commands from the agent's reply, reverted on time
    const runDir =
      readdirSync(reports)
        .filter((d) => d.startsWith("first-fault-"))
        .sort()
        .at(-1) ?? "";
    const journal = JSON.parse(readFileSync(join(reports, runDir, "journal.json"), "utf8")) as {
      faults: { faultId: string; withAgent?: boolean; confirmedFrom?: string; applyCommands: { argv: string[] }[]; appliedAt: string; revertedAt: string; revertConfirmed: boolean }[];
    };
    const f = journal.faults[0];
    // confirmed by the apply's reply in the agent's log, read without an exec
    expect(f).toMatchObject({ faultId: first?.fault.id, withAgent: true, confirmedFrom: "log", revertConfirmed: true });
    expect(f?.applyCommands.map((c) => c.argv.join(" ")).join("\n")).toMatch(/nft/);
    const heldMs = Date.parse(f?.revertedAt ?? "") - Date.parse(f?.appliedAt ?? "");
    expect(heldMs).toBeGreaterThanOrEqual(8000);
    expect(heldMs).toBeLessThan(8000 + 3000);

    // the agent's own words: it held the fault from its start, and no exec applied it again
    const logs = await kubectlOk(["logs", "-n", ns, "fresh", "-c", agents[0]?.name ?? ""]);
    expect(logs).toContain(`first request: holding ${first?.fault.id} until the runner renews it`);
    expect(logs).toMatch(new RegExp(`^chaos-agent first reply: \\{.*"id":"${first?.fault.id}"`, "m"));
    expect(logs).not.toMatch(/apply \S+ again/);

    // its renewals (a 3 s lease: one a second) and its revert came on the line the runner held to
    // its stdin, each answered there, where each used to be an exec
    expect(agents[0]?.stdin).toBe(true);
    const byLine = [...logs.matchAll(/^chaos-agent line reply: \S+ (\{.*\})$/gm)].map((m) => JSON.parse(m[1] ?? "{}") as { op: string; ok: boolean; fault?: { id: string } });
    expect(byLine.filter((r) => r.op === "renew" && r.ok && r.fault?.id === first?.fault.id).length, logs).toBeGreaterThanOrEqual(3);
    expect(
      byLine.filter((r) => r.op === "revert" && r.ok),
      logs,
    ).toHaveLength(1);
  }, 180_000);

  it("a valid first request the agent cannot apply: the agent ends saying why, which is the run's apply failure, and nothing is left", async () => {
    await freshPod("nowhere", "nowhere");
    const r = await chaosRun([join(repoRoot, "test/fixtures/lab/first-fault-eth9.yaml"), ...asAdmin]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /step 1 \(cut eth9\): the agent in pod first-fault-test\/nowhere could not apply .*: the agent chaos-agent-\S+ started with it and ended \(Error 1\): \S+ chaos-agent: first request \(apply \S+\) failed: no-interface: no interface "eth9"/,
    );
    expect(await chaosObjects(ns, "nowhere")).toEqual([]);
  }, 180_000);

  it("a bad first request: the agent exits 2 before it serves, its reason the termination message, and holds nothing", async () => {
    await kubectl(["delete", "pod", "bad", "-n", ns, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
    await kubectlOk(["run", "bad", "-n", ns, "--image", "nginx"]);
    await waitReady(ns, "bad");
    const request = JSON.stringify({ protocol: 1, op: "apply", runId: "someoneelse", fault: { id: "someoneelse-s1", leaseMs: 30000, spec: { kind: "partition" } } });
    await kubectlOk([
      "debug",
      "-n",
      ns,
      "bad",
      "--image",
      "chaos-agent:latest",
      "--image-pull-policy",
      "IfNotPresent",
      "-c",
      "chaos-agent-bad",
      "--profile",
      "netadmin",
      "--env",
      "CHAOS_AGENT_NAME=chaos-agent-bad",
      "--env",
      "CHAOS_RUN_ID=badrun",
      "--env",
      `CHAOS_AGENT_FIRST_REQUEST=${request}`,
    ]);
    const ended = await waitFor("the bad agent's end", async () => (await podJson("bad")).status.ephemeralContainerStatuses?.find((c) => c.name === "chaos-agent-bad")?.state.terminated, 60_000);
    expect(ended.exitCode).toBe(2);
    const logs = await kubectlOk(["logs", "-n", ns, "bad", "-c", "chaos-agent-bad"]);
    expect(logs).toContain(`CHAOS_AGENT_FIRST_REQUEST: bad-request: the first request is of run "someoneelse"; this agent serves run "badrun"; nothing was done`);
    expect(logs).not.toMatch(/serving on/);
    expect(await chaosObjects(ns, "bad")).toEqual([]);
  }, 120_000);
});
