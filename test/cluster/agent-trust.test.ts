// Who may drive the agent, on the real node (issue 19, item 5). The lab's exploit: the agent's
// own binary, run from another container of the target pod with the agent container's
// environment, read the fault's id with `status` and reverted it — port 80 answered 200 while
// the runner believed the fault held. Now that container is a stranger: only the from-memory
// status agents ask each other is answered; revert, apply, sweep and a scanning status are
// refused and the fault stays in effect. And a process of the pod that squats the pod's lock
// name makes an apply fail at once, naming the problem, with nothing touched.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, kubectl, kubectlOk, nginxAndTools, repoRoot, waitFor } from "../support/lab.js";

const ns = "agent-trust-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const long = join(repoRoot, "test/fixtures/lab/http-held.yaml");
const agentImage = process.env["CHAOS_RUN_AGENT_IMAGE"] ?? "chaos-agent";

interface AgentReply {
  ok: boolean;
  error?: { code: string; message: string };
  faults?: { id: string; kind: string }[];
}

/** What the tools pod gets from nginx's port 80: the HTTP status. */
async function status80(): Promise<string> {
  const ip = (await getPod(ns, "nginx"))?.status.podIP ?? "";
  const r = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", `http://${ip}/`]);
  return r.stdout.trim();
}

/** The lab's inspection image (tc, ip, iptables, nft, sleep): the agent's own image has no shell and no sleep. */
const inspectImage = "lab-inspect";

/** Adds an ephemeral container to nginx's pod (once) and waits until it runs, however often asked. */
async function debugContainer(name: string, image: string, args: readonly string[]): Promise<void> {
  if (!((await getPod(ns, "nginx"))?.spec.ephemeralContainers ?? []).some((c) => c.name === name)) {
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", image, "-c", name, ...args]);
  }
  await waitFor(
    `the ${name} container`,
    async () => ((await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name === name)?.state.running !== undefined ? true : undefined),
    60_000,
  );
}

let intruders = 0;

/**
 * `chaos-agent request JSON` as the command of a new ephemeral container of the agent's image,
 * with the agent container's environment (what an intruder in the pod could copy): its exit
 * code and its reply, from its log.
 */
async function fromIntruder(env: readonly string[], request: object): Promise<{ code: number; reply: AgentReply }> {
  const name = `intruder-${++intruders}`;
  await kubectlOk(["debug", "-n", ns, "nginx", "--image", agentImage, "-c", name, ...env.flatMap((e) => ["--env", e]), "--", "chaos-agent", "request", JSON.stringify(request)]);
  const code = await waitFor(
    `the ${name} container to end`,
    async () => (await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name === name)?.state.terminated?.exitCode,
    60_000,
  );
  const log = await kubectlOk(["logs", "-n", ns, "nginx", "-c", name]);
  return { code, reply: JSON.parse(log) as AgentReply };
}

/** Every CHAOS- line of nginx's pod's rules (nftables' tables; both families, both backends of iptables), read from an inspection container. */
async function chaosRules(): Promise<string[]> {
  await debugContainer("inspect", inspectImage, ["--profile", "netadmin", "--", "sleep", "infinity"]);
  const lines: string[] = [];
  for (const tool of [["nft", "list", "ruleset"], ["iptables-nft-save"], ["ip6tables-nft-save"], ["iptables-legacy-save"], ["ip6tables-legacy-save"]]) {
    const r = await kubectl(["exec", "-n", ns, "nginx", "-c", "inspect", "--", ...tool]);
    expect(r.code, `${tool.join(" ")}: ${r.stderr}`).toBe(0);
    lines.push(...r.stdout.split("\n"));
  }
  return lines.filter((l) => l.includes("CHAOS-"));
}

beforeAll(async () => {
  await nginxAndTools(ns);
});

describe("a stranger at the agent's socket", () => {
  it("another container of the pod, with the agent's binary and environment, may read the fault's id but not revert it: the fault stays in effect", async () => {
    const run = startChaosRun([long, ...asAdmin]);
    try {
      await run.waitFor(/in effect in pod agent-trust-test\/nginx[^\n]*\n/);
      expect(await status80()).toBe("503");
      const agent = (await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name.startsWith("chaos-agent-"))?.name;
      if (agent === undefined) throw new Error("no agent in the pod");
      const runId = agent.slice("chaos-agent-".length);
      // its own mount namespace, the agent's environment
      const env = [`CHAOS_AGENT_NAME=${agent}`, `CHAOS_RUN_ID=${runId}`];

      // what agents ask each other is answered: the stranger learns the fault's id
      const peek = await fromIntruder(env, { protocol: 1, op: "status", runId, scanOrphans: false });
      expect(peek.code).toBe(0);
      const id = peek.reply.faults?.find((f) => f.kind === "http")?.id;
      expect(id).toBeDefined();
      // and can do nothing with it
      for (const request of [
        { protocol: 1, op: "revert", runId, faultId: id },
        { protocol: 1, op: "sweep", runId, own: true },
        { protocol: 1, op: "status", runId },
        { protocol: 1, op: "renew", runId, faultId: id, leaseMs: 1000 },
        { protocol: 1, op: "apply", runId, fault: { id: `${runId}-x9`, leaseMs: 60000, spec: { kind: "partition" } } },
      ]) {
        const r = await fromIntruder(env, request);
        // not told forbidden: the agent's log says whether it turned the stranger away, or found it too slow
        const why = r.code === 4 ? "" : `\nthe agent's log:\n${(await kubectl(["logs", "-n", ns, "nginx", "-c", agent, "--tail", "20"])).stdout}load: ${readFileSync("/proc/loadavg", "utf8")}`;
        expect(r.code, JSON.stringify(r.reply) + why).toBe(4);
        expect(r.reply.error?.code).toBe("forbidden");
        // the intruder's process is in a PID namespace of its own (PID 0 from the agent's); in a pod
        // that shares one it would be told by its mount namespace (agent/kerneltest shows both)
        expect(r.reply.error?.message).toMatch(/not visible from the agent's PID namespace|another mount namespace/);
      }
      // the fault holds: port 80 still fails, and the runner's own requests still go through
      expect(await status80()).toBe("503");
      run.child.kill("SIGINT");
      const done = await run.done;
      expect(done.code, done.stderr).toBe(130);
      expect(done.stderr).toMatch(/reverted in pod agent-trust-test\/nginx/);
      expect(await status80()).toBe("200");
    } finally {
      if (run.child.exitCode === null) {
        run.child.kill("SIGINT");
        await run.done;
      }
    }
  }, 180_000);
});

describe("a squatted lock", () => {
  it("a process of nginx's container binds @chaos-agent/v1/lock: the apply is refused at once, naming the problem, and nothing is touched", async () => {
    // perl-base is in every Debian image: bind the lock's abstract name, hold it until stdin closes
    const script = 'use Socket; socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!"; bind($s, pack_sockaddr_un("\\0chaos-agent/v1/lock")) or die "bind: $!"; $| = 1; print "bound\\n"; <STDIN>;';
    await waitFor("port 80 answering directly", async () => ((await status80()) === "200" ? true : undefined), 30_000);
    const squatter = spawn("kubectl", ["--kubeconfig", kubeconfig, "exec", "-i", "-n", ns, "nginx", "-c", "nginx", "--", "perl", "-e", script], { stdio: ["pipe", "pipe", "pipe"] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        squatter.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("bound")) resolve();
        });
        squatter.stderr.on("data", (d: Buffer) => reject(new Error(`the squatter: ${d.toString()}`)));
        squatter.on("exit", (code) => reject(new Error(`the squatter exited ${code}`)));
      });
      const r = await chaosRun(["http", "-p", "nginx", "--port", "80", "--error-rate", "100", "-r", "5", ...asAdmin]);
      expect(r.code, r.stderr + r.stdout).toBe(3);
      expect(r.stderr).toMatch(/the pod's chaos-agent lock @chaos-agent\/v1\/lock is squatted: its name is bound, and no live chaos-agent of this pod holds it or is taking it/);
      expect(r.stderr).toMatch(/nothing was done/);
      expect(await status80()).toBe("200");
      expect(await chaosRules()).toEqual([]);
    } finally {
      squatter.stdin.end();
      squatter.kill("SIGTERM");
    }
  }, 180_000);
});
