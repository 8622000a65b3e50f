// The HTTP fault's proxy beside the reference: HAProxy, the event-driven C proxy most L7 load
// balancers are measured against, doing the same job in the same place. Two network namespaces
// this bench creates (a "pod" at 192.0.2.1 with eth0, a "peer" at 192.0.2.2, one veth between
// them: a pod's path without the rest of Kubernetes); in the pod a static HTTP server on port 80
// (HAProxy answering nginx's 615-byte page itself), and `ab -k` in the peer, three ways, rounds
// alternating:
//   direct    nothing in between;
//   agent     the real chaos-agent serving in the pod, an http fault applied through its protocol
//             (its own nat REDIRECT, its proxy; no delay, no errors: its own cost);
//   haproxy   HAProxy in the pod behind the same kind of REDIRECT, keep-alive both sides.
// The bars (throughput ≥ 0.90 of direct, added p50 ≤ 0.5 ms) are judged in the lab by
// `bench http`; this section shows where any proxy in the pod's path lands on this machine, and
// holds the agent's proxy to its own bar: at least 0.80 of the reference's throughput.
// Needs root (namespaces, iptables), ab, Go, and HAProxy (installed from Debian if missing).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAb } from "../dist/probes/ab.js";
import { median } from "./lib/lab.mjs";
import { agentRequest, buildAgent, have, must, podPair } from "./lib/netns.mjs";

const POD = "chaos-bench-pod";
const PEER = "chaos-bench-peer";
const POD_IP = "192.0.2.1"; // TEST-NET-1, inside the namespaces this bench creates: nothing else sees it
const PEER_IP = "192.0.2.2";
const HAPROXY_PORT = 15009;
const AGENT = "chaos-agent-bench";
const RUN_ID = "bench";
const ROUNDS = 5;
const LOADS = [
  { concurrency: 1, requests: 5000 },
  { concurrency: 16, requests: 20000 },
];
const BAR = 0.8;

function inPod(argv) {
  return ["ip", "netns", "exec", POD, ...argv];
}

const agentEnv = { ...process.env, CHAOS_AGENT_NAME: AGENT, CHAOS_RUN_ID: RUN_ID };

function ab(dir, { concurrency, requests }) {
  const csv = join(dir, "ab.csv");
  const argv = ["ip", "netns", "exec", PEER, "ab", "-k", "-r", "-n", String(requests), "-c", String(concurrency), "-s", "10", "-e", csv, `http://${POD_IP}/`];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", maxBuffer: 64 << 20 });
  // parseAb reads the percentiles where the lab's probes put them (-e /dev/stderr)
  const parsed = parseAb(r.stdout, `${r.stderr}${readFileSync(csv, "utf8")}`, r.status ?? 1, requests);
  if (!parsed.ok) throw new Error(`ab: ${parsed.error}`);
  const m = parsed.metrics;
  if (m.failedRequests) throw new Error(`ab: ${m.failedRequests} failed requests`);
  return { p50: m["latency.p50"], rps: m.requestsPerSecond };
}

const redirect = (op, port) => inPod(["iptables", "-w", "-t", "nat", op, "PREROUTING", "-p", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", String(port)]);

/** Children started in the bench's namespaces, each in a process group of its own, stopped together. */
function processes(log) {
  const children = [];
  const start = (name, argv, env = process.env) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
    let err = "";
    child.stderr.on("data", (b) => {
      err = (err + b).slice(-2000);
    });
    child.on("exit", (code) => {
      if (!child.stopping) log(`${name} exited (${code}): ${err.trim()}`);
    });
    children.push(child);
    return child;
  };
  const stopAll = () => {
    for (const c of children) {
      c.stopping = true;
      try {
        process.kill(-c.pid, "SIGTERM");
      } catch {}
    }
  };
  return { start, stopAll };
}

/** The pod's side: the application and the reference proxy (HAProxy), the agent serving; returns the agent once the application answers. */
async function startPod(dir, bin, start) {
  // the application: a static page as small as nginx's default one, from an event-driven server
  writeFileSync(join(dir, "index.html"), `<!DOCTYPE html>\n${"x".repeat(598)}\n</html>\n`.slice(0, 615));
  const common = "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n";
  writeFileSync(join(dir, "app.cfg"), `global\n${common}frontend app\n  bind :80\n  http-request return status 200 content-type text/html file ${dir}/index.html\n`);
  writeFileSync(join(dir, "proxy.cfg"), `global\n${common}frontend in\n  bind :${HAPROXY_PORT}\n  default_backend app\nbackend app\n  server app ${POD_IP}:80\n`);
  start("the application (haproxy)", inPod(["haproxy", "-db", "-f", join(dir, "app.cfg")]));
  start("the reference proxy (haproxy)", inPod(["haproxy", "-db", "-f", join(dir, "proxy.cfg")]));
  const agent = start("chaos-agent serve", inPod([bin, "serve", "--ttl", "10m"]), agentEnv);
  for (let i = 0; ; i++) {
    const r = spawnSync("ip", ["netns", "exec", PEER, "ab", "-n", "1", "-s", "2", `http://${POD_IP}/`], { stdio: "ignore" });
    if (r.status === 0) break;
    if (i > 50) throw new Error("the application in the bench's pod namespace does not answer");
    await new Promise((r) => setTimeout(r, 100));
  }
  agentRequest(bin, agent.pid, agentEnv, { protocol: 1, op: "status", runId: RUN_ID });
  return agent;
}

/** The three ways to the application: each puts itself in the path and returns how to leave it (the agent: and how many requests its proxy saw). */
function waysTo(bin, agent) {
  const runId = RUN_ID;
  let applies = 0;
  return {
    direct: () => undefined,
    agent: () => {
      // a fault id of its own each time: the agent never applies again an id it reverted
      const fault = { id: `${runId}-ref${++applies}`, leaseMs: 600_000, spec: { kind: "http", http: { port: 80 } } };
      agentRequest(bin, agent.pid, agentEnv, { protocol: 1, op: "apply", runId, fault });
      return () => {
        const st = agentRequest(bin, agent.pid, agentEnv, { protocol: 1, op: "status", runId });
        agentRequest(bin, agent.pid, agentEnv, { protocol: 1, op: "revert", runId, faultId: fault.id });
        return Number(/(\d+) requests? \(/.exec(st.faults?.[0]?.detail ?? "")?.[1] ?? 0);
      };
    },
    haproxy: () => {
      must(redirect("-A", HAPROXY_PORT));
      return () => {
        must(redirect("-D", HAPROXY_PORT));
        return undefined;
      };
    },
  };
}

/** One load, ROUNDS rounds each way alternating (after a warm-up round), logged; whether the agent's proxy held its bar. */
function measureLoad(dir, ways, load, log) {
  const got = { direct: [], agent: [], haproxy: [] };
  for (let round = -1; round < ROUNDS; round++) {
    for (const [name, enter] of Object.entries(ways)) {
      const leave = enter();
      const r = ab(dir, round < 0 ? { ...load, requests: Math.min(1000, load.requests) } : load);
      const seen = leave?.();
      if (name === "agent" && seen !== (round < 0 ? Math.min(1000, load.requests) : load.requests)) throw new Error(`the agent's proxy saw ${seen} requests of ${load.requests}`);
      if (round >= 0) got[name].push(r);
    }
  }
  const rps = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v.map((x) => x.rps))]));
  const p50 = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v.map((x) => x.p50))]));
  const vsRef = rps.agent / rps.haproxy;
  log(
    `c=${load.concurrency}, ${load.requests} requests: throughput direct ${rps.direct.toFixed(0)} req/s, agent ${rps.agent.toFixed(0)} (${(rps.agent / rps.direct).toFixed(2)} of direct), haproxy ${rps.haproxy.toFixed(0)} (${(rps.haproxy / rps.direct).toFixed(2)} of direct)`,
  );
  log(`  added p50: agent ${(p50.agent - p50.direct).toFixed(3)} ms, haproxy ${(p50.haproxy - p50.direct).toFixed(3)} ms`);
  log(`  the agent's proxy: ${vsRef.toFixed(2)} of the reference's throughput (bar ≥ ${BAR.toFixed(2)})  ${vsRef >= BAR ? "ok" : "UNDER the bar"}`);
  return vsRef >= BAR;
}

export default async function httpReference({ root, log }) {
  if (process.getuid?.() !== 0) {
    log("needs root (network namespaces, iptables): skipped");
    return false;
  }
  for (const cmd of ["ab", "go", "ip", "iptables"]) if (!have(cmd)) throw new Error(`${cmd} is not installed (test/lab/setup installs the lab's packages)`);
  if (!have("haproxy")) {
    log("installing HAProxy (Debian)");
    must(["apt-get", "install", "-y", "-q", "--no-install-recommends", "haproxy"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  const bin = buildAgent(root);
  const haproxyVersion = /HAProxy version \S+/.exec(must(["haproxy", "-v"]))?.[0] ?? "HAProxy";

  const dir = mkdtempSync(join(tmpdir(), "chaos-bench-http-"));
  const { start, stopAll } = processes(log);
  try {
    podPair({ pod: POD, peer: PEER, podIp: POD_IP, peerIp: PEER_IP, link: "chaosbench" });
    const agent = await startPod(dir, bin, start);
    const ways = waysTo(bin, agent);
    log(`a pod-like namespace behind a veth, ab -k from its peer, ${ROUNDS} rounds each way, alternating; ${haproxyVersion}`);
    let ok = true;
    for (const load of LOADS) ok = measureLoad(dir, ways, load, log) && ok;
    return ok;
  } finally {
    stopAll();
    await new Promise((r) => setTimeout(r, 300));
    for (const ns of [POD, PEER]) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}
