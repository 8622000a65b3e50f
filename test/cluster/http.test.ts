// HTTP faults on the real node: the agent's proxy in front of nginx's port 80 (a real nat
// redirect in the pod's namespace — the host kernel's nf_tables, a table of the fault's own that
// expires in the kernel — and its sock_destroy for the connections from before), measured with
// ab from the tools pod and with a keep-alive client of this process (the host reaches the pods
// over the lab's bridge); the revert guarantees — Ctrl-C, SIGKILL of the runner (the lease), an
// error on another pod, the agent's death (sweep), the agent's and the runner's death together
// (the kernel) — each checked in the pod's own tables and sockets; and the catalog's checkout
// scenario, PASS and FAIL.
import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { getPod, kubeconfig, kubectl, kubectlOk, nginxAndTools, repoRoot, waitFor, waitReady } from "../support/lab.js";

const ns = "http-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const long = join(repoRoot, "test/fixtures/lab/http-long.yaml");
const inspectImage = "lab-inspect";
const reports = mkdtempSync(join(tmpdir(), "chaos-run-http-"));

/** Runs argv in the pod's inspection container (the lab's inspection image: iptables, ss, tc, nft). */
async function inspect(pod: string, argv: readonly string[]): Promise<string> {
  const p = await getPod(ns, pod);
  if (!(p?.spec.ephemeralContainers ?? []).some((c) => c.name === "inspect")) {
    await kubectlOk(["debug", "-n", ns, pod, "--image", inspectImage, "-c", "inspect", "--profile", "netadmin", "--", "sleep", "infinity"]);
    await waitFor(
      "the inspect container",
      async () => ((await getPod(ns, pod))?.status.ephemeralContainerStatuses?.find((s) => s.name === "inspect")?.state.running !== undefined ? true : undefined),
      60_000,
    );
  }
  const r = await kubectl(["exec", "-n", ns, pod, "-c", "inspect", "--", ...argv]);
  return r.code === 0 ? r.stdout : "";
}

/** Every CHAOS- line of the pod's rules: both families, both iptables backends, every table; and the nftables tables named CHAOS-. */
async function chaosRules(pod: string): Promise<string[]> {
  const lines: string[] = [];
  for (const tool of ["iptables-nft-save", "ip6tables-nft-save", "iptables-legacy-save", "ip6tables-legacy-save"]) lines.push(...(await inspect(pod, [tool])).split("\n"));
  lines.push(...(await inspect(pod, ["nft", "list", "tables"])).split("\n").map((t) => `nft ${t}`));
  return lines.filter((l) => l.includes("CHAOS-"));
}

/** The pod's rules that redirect, as nft lists them: a fault's own table's and iptables-nft's alike (one exec: for polling). */
async function redirects(pod: string): Promise<string[]> {
  return (await inspect(pod, ["nft", "list", "ruleset"])).split("\n").filter((l) => /redirect to|REDIRECT/.test(l));
}

/** Sockets of the pod on a local port: listening, and established. */
async function socketsOn(pod: string, port: string): Promise<string> {
  const listening = await inspect(pod, ["ss", "-t", "-l", "-n", "-H", "sport", "=", `:${port}`]);
  const established = await inspect(pod, ["ss", "-t", "-n", "-H", "state", "established", "sport", "=", `:${port}`]);
  return (listening + established).trim();
}

function proxyPortOf(output: string): string {
  const m = /proxy :(\d+)/.exec(output);
  if (m?.[1] === undefined) throw new Error(`no proxy port in:\n${output}`);
  return m[1];
}

async function podIp(pod: string): Promise<string> {
  const ip = (await getPod(ns, pod))?.status.podIP;
  if (ip === undefined) throw new Error(`pod ${pod} has no IP`);
  return ip;
}

/** One GET over a keep-alive agent: the status and the local port of the connection it used. */
function get(agent: http.Agent, host: string, path = "/"): Promise<{ status: number; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port: 80, path, agent, timeout: 5000 }, (res) => {
      const localPort = res.socket.localPort ?? 0;
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, localPort }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timed out")));
  });
}

/** The newest journal a run wrote under dir. */
function journalIn(
  dir: string,
  name: string,
): {
  probes: { probe: string; step: number | null; metrics: Record<string, number | null> }[];
  faults: { step: number; observed: { kind: string; metrics: Record<string, number | null>; detail: string } | null; expiresInKernel?: boolean }[];
} {
  const runDir = readdirSync(dir)
    .filter((d) => d.startsWith(`${name}-`))
    .sort()
    .at(-1);
  if (runDir === undefined) throw new Error(`no ${name} run in ${dir}`);
  return JSON.parse(readFileSync(join(dir, runDir, "journal.json"), "utf8")) as ReturnType<typeof journalIn>;
}

beforeAll(async () => {
  await nginxAndTools(ns);
});

afterAll(() => rmSync(reports, { recursive: true, force: true }));

describe("http faults measured", () => {
  it("503 to 30% of 1,000 requests within binomial bounds; 100 ms measured/configured 1.00 ± 0.05; an excluded path sees neither", async () => {
    const dir = join(reports, "faults");
    const r = await chaosRun([join(repoRoot, "test/fixtures/lab/http-faults.yaml"), ...asAdmin, "--report-dir", dir], {});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const j = journalIn(dir, "http-faults");
    const many = j.probes.find((p) => p.probe === "many");
    const non2xx = many?.metrics["non2xxResponses"] ?? -1;
    // binomial(1000, 0.3): mean 300, standard deviation 14.5
    expect(non2xx).toBeGreaterThanOrEqual(228);
    expect(non2xx).toBeLessThanOrEqual(372);
    for (const p of j.probes.filter((x) => x.probe === "excluded")) expect(p.metrics["non2xxResponses"]).toBe(0);
    // the proxy's own counts, in the journal: every 503 it answered is one ab saw
    const counted = j.faults.find((f) => f.step === 1)?.observed;
    expect(counted?.kind).toBe("http");
    expect(counted?.metrics["errors"]).toBe(non2xx);
    expect(counted?.metrics["faulted"]).toBeGreaterThanOrEqual(1000);
    expect(counted?.detail).toMatch(/^the proxy read \d+ requests on \d+ connections: \d+ faulted, \d+ answered with the error$/);
    // the lab's node has nf_tables: the agent said each fault would end in the kernel by itself
    expect(j.faults.map((f) => f.expiresInKernel)).toEqual(j.faults.map(() => true));
    const ratio = /step 3 \(delay\): latency\.p50 \+[\d.]+ms on nginx \(probe web[^)]*\); configured delay 100ms: measured\/configured ([\d.]+)/.exec(r.stdout + r.stderr);
    expect(ratio?.[1], r.stdout).toBeDefined();
    expect(Math.abs(Number(ratio?.[1]) - 1)).toBeLessThanOrEqual(0.05);
    const excludedDuringDelay = j.probes.filter((x) => x.probe === "excluded").at(-1);
    expect(excludedDuringDelay?.metrics["latency.p50"]).toBeLessThan(20);
    expect(await chaosRules("nginx")).toEqual([]);
  });
});

describe("keep-alive connections", () => {
  it("a client holding a keep-alive connection from before the fault sees it; after the revert (Ctrl-C) it sees none, and the port answers directly", async () => {
    const host = await podIp("nginx");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await get(agent, host);
      expect(before.status).toBe(200);
      expect((await get(agent, host)).localPort).toBe(before.localPort); // one connection, kept
      const run = startChaosRun([long, ...asAdmin]);
      const applied = await run.waitFor(/in effect in pod http-test\/nginx[^\n]*\n/);
      const port = proxyPortOf(applied);
      expect(applied).toContain("1 connection opened before the fault reset (sock_destroy)");
      // the same client, a moment later (its event loop sees the reset of its idle connection and
      // drops it): it reconnects, through the proxy
      await new Promise((r) => setTimeout(r, 200));
      const during = await get(agent, host);
      expect(during.status).toBe(503);
      expect(during.localPort).not.toBe(before.localPort);
      expect(await socketsOn("nginx", port)).toMatch(new RegExp(`:${port}\\s`));
      run.child.kill("SIGINT");
      const done = await run.done;
      expect(done.code, done.stderr).toBe(130);
      expect(done.stderr).toMatch(/reverted in pod http-test\/nginx/);
      // the proxy closed the client's connection (its event loop sees it a moment later): it
      // reconnects, to nginx directly
      await new Promise((r) => setTimeout(r, 200));
      const after = await get(agent, host);
      expect(after.status).toBe(200);
      expect(after.localPort).not.toBe(during.localPort);
      expect(await chaosRules("nginx")).toEqual([]);
      expect(await socketsOn("nginx", port)).toBe("");
      // the client's connection ends at nginx's port 80 in the pod: no proxy in the path
      const direct = await inspect("nginx", ["ss", "-t", "-n", "-H", "state", "established", "sport", "=", ":80"]);
      expect(direct).toMatch(new RegExp(`:80\\s+\\S+:${after.localPort}\\b`));
    } finally {
      agent.destroy();
    }
  });
});

describe("a client that never reads", () => {
  it("20,000 pipelined GETs answered with a 4 KiB error and none read: the revert is on time, then the port answers directly and no rule is left", async () => {
    const host = await podIp("nginx");
    const durationS = 10;
    const run = startChaosRun(["http", "-p", "nginx", "--port", "80", "--error-rate", "100", "--error-body", "e".repeat(4096), "-r", String(durationS), ...asAdmin]);
    const applied = await run.waitFor(/in effect in pod http-test\/nginx[^\n]*\n/);
    const appliedAt = performance.now();
    const port = proxyPortOf(applied);
    // one connection; the answers fill the proxy's socket and the client's, and the proxy's next
    // write waits (issue 19: it did so holding the lock the revert needs, and the revert wedged)
    const client = net.connect({ host, port: 80 });
    client.on("error", () => undefined);
    client.pause();
    await new Promise((resolve) => client.once("connect", resolve));
    client.write("GET / HTTP/1.1\r\nHost: nginx\r\n\r\n".repeat(20_000));
    try {
      const done = await run.done;
      expect(done.code, done.stderr + done.stdout).toBe(0);
      // the duration, then the revert: the proxy's drain (1 s) and a reset of what is left
      expect((done.endedAt - appliedAt) / 1000).toBeLessThan(durationS + 10);
      expect(await chaosRules("nginx")).toEqual([]);
      expect(await socketsOn("nginx", port)).toBe("");
      const code = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", `http://${host}/`]);
      expect(code.stdout).toBe("200");
    } finally {
      client.destroy();
    }
  }, 120_000);
});

describe("revert, whatever happens", () => {
  it("SIGKILL of the runner: the agent removes the rules and stops the proxy within its lease + 1 s", async () => {
    const run = startChaosRun([long, ...asAdmin]);
    const applied = await run.waitFor(/in effect in pod http-test\/nginx[^\n]*\n/);
    const port = proxyPortOf(applied);
    const agentName = /agent (chaos-agent-\w+): (running|reused \(already running\)) in pod http-test\/nginx\b/.exec(run.output())?.[1];
    expect(agentName).toBeDefined();
    expect((await redirects("nginx")).length).toBeGreaterThan(0);
    const killed = Date.now();
    run.child.kill("SIGKILL");
    await run.done;
    await waitFor("the agent's own revert", async () => ((await redirects("nginx")).length === 0 ? true : undefined), 15_000, 100);
    // when the agent was done, by its own log (same machine, same clock): rules gone, proxy stopped
    const log = await kubectlOk(["logs", "-n", ns, "nginx", "-c", agentName ?? ""]);
    const line = log.split("\n").find((l) => /reverted \S+ \(lease-lapsed\):/.test(l));
    expect(line, log).toBeDefined();
    expect(line).toContain(`proxy :${port} stopped`);
    const at = Date.parse(line?.split(" ")[0] ?? "");
    const leaseMs = 3000;
    expect(at - killed).toBeLessThanOrEqual(leaseMs + 1000);
    expect(await chaosRules("nginx")).toEqual([]);
    expect(await socketsOn("nginx", port)).toBe("");
    const code = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", `http://${await podIp("nginx")}/`]);
    expect(code.stdout).toBe("200");
  });

  it("an error on another pod (its port held by a live fault of another run): the pod that was faulted is reverted, exit 3", async () => {
    await kubectlOk(["run", "nginx-b", "-n", ns, "--image", "nginx", "--labels", "run=nginx-b"]);
    await waitReady(ns, "nginx-b");
    // another run holds nginx-b's port 80, handed to its agent
    const other = await chaosRun(["http", "-p", "nginx-b", "--port", "80", "--delay", "10", "-r", "120", "--detach", ...asAdmin]);
    expect(other.code, other.stderr).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-http-two-"));
    const file = join(dir, "two.yaml");
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: http-two }\ntarget: { pods: [nginx, nginx-b], mode: all }\nsteps:\n  - name: both fail\n    fault: { http: { port: 80, errorRate: "50%" } }\n    duration: 30s\n`,
    );
    const r = await chaosRun([file, ...asAdmin, "--report-dir", join(dir, "r")]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/could not apply http on port 80: 500 to 50% of requests: conflict: port 80 is already redirected by fault \S+ of run \S+/);
    expect(r.stderr).toMatch(/reverted in pod http-test\/nginx\b/);
    expect(await chaosRules("nginx")).toEqual([]);
    // the other run's fault is still there, untouched; sweep ends it
    expect((await chaosRules("nginx-b")).length).toBeGreaterThan(0);
    const sweep = await chaosRun(["sweep", ...asAdmin]);
    expect(sweep.code, sweep.stderr + sweep.stdout).toBe(0);
    expect(await chaosRules("nginx-b")).toEqual([]);
  });

  it("the agent dies: its proxy goes with it, its rules stay for their lease (the port refuses); sweep adds a fresh agent that reverts them", async () => {
    // a pod of its own, so that no other agent of an earlier test runs there
    await kubectlOk(["run", "nginx-d", "-n", ns, "--image", "nginx", "--labels", "run=nginx-d"]);
    await waitReady(ns, "nginx-d");
    const r = await chaosRun(["http", "-p", "nginx-d", "--port", "80", "--delay", "10", "-r", "120", "--detach", ...asAdmin]);
    expect(r.code, r.stderr).toBe(0);
    const agentName = /agent (chaos-agent-\w+): running in pod http-test\/nginx-d\b/.exec(r.stderr)?.[1];
    expect(agentName, r.stderr).toBeDefined();
    // the agent's serve process, on this machine (the node): found by the name in its environment
    process.kill(agentPid(agentName ?? ""), "SIGKILL");
    await waitFor("the agent's container to end", async () => {
      const s = (await getPod(ns, "nginx-d"))?.status.ephemeralContainerStatuses?.find((c) => c.name === agentName);
      return s?.state.terminated !== undefined ? true : undefined;
    });
    const ip = await podIp("nginx-d");
    const curl = (): Promise<string> => kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", `http://${ip}/`]).then((x) => x.stdout.trim());
    expect(await curl()).toBe("000"); // redirected to a proxy that is gone: refused
    expect((await chaosRules("nginx-d")).length).toBeGreaterThan(0);
    const sweep = await chaosRun(["sweep", ...asAdmin]);
    expect(sweep.code, sweep.stderr + sweep.stdout).toBe(0);
    expect(sweep.stdout).toMatch(new RegExp(`http-test/nginx-d: its agent ${agentName ?? ""} .*died; added chaos-agent-\\w+ to revert what it left`));
    expect(await chaosRules("nginx-d")).toEqual([]);
    expect(await curl()).toBe("200");
  });
});

describe("nobody left to revert", () => {
  it("the runner and the agent die together: the kernel ends the redirect within the lease + 1 s, and the port answers nginx with no agent", async () => {
    if ((await getPod(ns, "nginx-k")) === undefined) await kubectlOk(["run", "nginx-k", "-n", ns, "--image", "nginx", "--labels", "run=nginx-k"]);
    await waitReady(ns, "nginx-k");
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-http-dead-"));
    const file = join(dir, "dead.yaml");
    const leaseMs = 3000;
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1\nkind: Scenario\nmetadata: { name: http-dead }\ntarget: { pods: [nginx-k], mode: all }\nagent: { lease: 3s }\nsteps:\n  - name: port 80 fails\n    fault: { http: { port: 80, errorRate: "100%", errorCode: 503 } }\n    duration: 60s\n`,
    );
    const run = startChaosRun([file, ...asAdmin, "--report-dir", join(dir, "r")]);
    try {
      const applied = await run.waitFor(/in effect in pod http-test\/nginx-k[^\n]*\n/);
      expect(applied).toContain("(nftables, IPv4");
      expect(applied).toContain("the kernel ends it by itself in");
      const agentName = /agent (chaos-agent-\w+): running in pod http-test\/nginx-k\b/.exec(run.output())?.[1];
      expect(agentName, run.output()).toBeDefined();
      const ip = await podIp("nginx-k");
      const curl = (): Promise<string> => kubectl(["exec", "-n", ns, "tools", "--", "curl", "-s", "-m", "1", "-o", "/dev/null", "-w", "%{http_code}", `http://${ip}/`]).then((x) => x.stdout.trim());
      expect(await curl()).toBe("503");
      // both at once: nobody renews, nobody reverts, nobody adds a fresh agent
      const agentPidNow = agentPid(agentName ?? "");
      const killed = Date.now();
      run.child.kill("SIGKILL");
      process.kill(agentPidNow, "SIGKILL");
      await run.done;
      // meanwhile the redirect outlives the proxy: refused
      expect(await curl()).toBe("000");
      await waitFor("port 80 answering nginx again", async () => ((await curl()) === "200" ? true : undefined), 15_000, 100);
      const took = Date.now() - killed;
      console.log(`MEASURE port 80 answered nginx ${took} ms after the runner and the agent died (lease ${leaseMs} ms + 1 s)`);
      // the last renewal came before the deaths; a curl through kubectl exec takes its own time
      expect(took).toBeLessThanOrEqual(leaseMs + 1000 + 1500);
      // the table is left, inert, until a sweep (or the next agent's start) removes it
      expect(await chaosRules("nginx-k")).toEqual([expect.stringMatching(/^nft table inet CHAOS-/)]);
      const sweep = await chaosRun(["sweep", ...asAdmin]);
      expect(sweep.code, sweep.stderr + sweep.stdout).toBe(0);
      expect(await chaosRules("nginx-k")).toEqual([]);
    } finally {
      run.child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The pid (on this machine) of the agent named name: its serve process's environment says so. */
function agentPid(name: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (env.includes(`CHAOS_AGENT_NAME=${name}`) && cmd.includes("serve")) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error(`no serve process of ${name} on this machine`);
}

describe("the catalog: the checkout page when payment returns 503 to 20% of requests", () => {
  beforeAll(async () => {
    await kubectlOk(["run", "payment", "-n", ns, "--image", "nginx", "--labels", "app=payment"]);
    await waitReady(ns, "payment");
    const conf = readFileSync(join(repoRoot, "test/fixtures/lab/checkout.nginx.conf"), "utf8").replaceAll("@PAYMENT@", await podIp("payment"));
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-checkout-"));
    writeFileSync(join(dir, "nginx.conf"), conf);
    await kubectlOk(["create", "configmap", "checkout-nginx", "-n", ns, `--from-file=nginx.conf=${join(dir, "nginx.conf")}`]);
    rmSync(dir, { recursive: true, force: true });
    const overrides = {
      spec: {
        containers: [{ name: "checkout", image: "nginx", volumeMounts: [{ name: "conf", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf" }] }],
        volumes: [{ name: "conf", configMap: { name: "checkout-nginx" } }],
      },
    };
    await kubectlOk(["run", "checkout", "-n", ns, "--image", "nginx", "--labels", "app=checkout", "--overrides", JSON.stringify(overrides)]);
    await waitReady(ns, "checkout");
  }, 180_000);

  it("PASS: checkout retries payment's 503s, its users see (almost) none (exit 0)", async () => {
    const r = await chaosRun([join(repoRoot, "scenarios/checkout-payment-503.yaml"), ...asAdmin, "--report-dir", join(reports, "catalog")], { CHECKOUT_HOST: await podIp("checkout") });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/PASS checkout-payment-503: 4 of 4 expectations held \(exit 0\)/);
    expect(await chaosRules("payment")).toEqual([]);
  }, 180_000);

  it("FAIL: without a retry, about one checkout in five fails (exit 1)", async () => {
    const r = await chaosRun([join(repoRoot, "scenarios/checkout-payment-503-fails.yaml"), ...asAdmin, "--report-dir", join(reports, "catalog")], { CHECKOUT_HOST: await podIp("checkout") });
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/FAIL checkout-payment-503-fails: 2 of 3 expectations held \(exit 1\)/);
    const j = journalIn(join(reports, "catalog"), "checkout-payment-503-fails");
    const during = j.probes.find((p) => p.step === 0);
    // binomial(400, 0.2): 80 ± 8
    expect(during?.metrics["non2xxResponses"]).toBeGreaterThan(40);
    expect(await chaosRules("payment")).toEqual([]);
  }, 180_000);
});
