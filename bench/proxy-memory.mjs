// The HTTP fault's proxy in memory: the resident size of the agent's serve process holding an http
// fault with 1,000 idle client connections through its proxy (issue 19: at most 30 MB). Two
// network namespaces this bench creates (a "pod" at 192.0.2.1 with eth0, a "peer" at 192.0.2.2,
// one veth); in the pod an application that keeps every connection open and the real
// chaos-agent, its fault applied through its protocol (its own nat REDIRECT and proxy); in the
// peer one process with 1,000 connections to the pod's port 80, each of which has had one
// request answered (so each has its connection to the application and its buffers) and then
// waits. The figure is VmRSS of the serve process: what it holds in the pod's memory.
// Needs root (namespaces, iptables), Go and node.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { agentRequest, buildAgent, have, podPair } from "./lib/netns.mjs";

const POD_IP = "192.0.2.1"; // TEST-NET-1, inside the namespaces this bench creates
const AGENT = "chaos-agent-bench";
const RUN_ID = "benchmem";
const CONNECTIONS = 1000;
const BAR_MB = 30;

/** Resolves with the first line of child's stdout that matches re (rejects on exit or after ms). */
function lineFrom(child, re, ms, what) {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms / 1000} s: ${err.trim()}`)), ms);
    child.stderr.on("data", (b) => {
      err = (err + b).slice(-2000);
    });
    child.stdout.on("data", (b) => {
      out += b;
      const m = re.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${err.trim()}`));
    });
  });
}

function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export default async function proxyMemory({ root, log }) {
  if (process.getuid?.() !== 0) {
    log("needs root (network namespaces, iptables): skipped");
    return false;
  }
  for (const cmd of ["go", "ip", "iptables"]) if (!have(cmd)) throw new Error(`${cmd} is not installed (test/lab/setup installs the lab's packages)`);
  const bin = buildAgent(root);
  const pair = podPair({ pod: "chaos-benchmem-pod", peer: "chaos-benchmem-peer", podIp: POD_IP, peerIp: "192.0.2.2", link: "chaosbmem" });
  const env = { ...process.env, CHAOS_AGENT_NAME: AGENT, CHAOS_RUN_ID: RUN_ID };
  const helper = join(root, "bench/lib/idle-http.mjs");
  const children = [];
  const start = (argv, childEnv = process.env) => {
    const child = spawn(argv[0], argv.slice(1), { env: childEnv, stdio: ["pipe", "pipe", "pipe"], detached: true });
    children.push(child);
    return child;
  };
  try {
    await lineFrom(start(pair.inPod([process.execPath, helper, "app", "80"])), /listening/, 10_000, "the application");
    const agent = start(pair.inPod([bin, "serve", "--ttl", "10m"]), env);
    agent.stdout.resume();
    for (let i = 0; ; i++) {
      try {
        agentRequest(bin, agent.pid, env, { protocol: 1, op: "status", runId: RUN_ID });
        break;
      } catch (e) {
        if (i > 50) throw e;
        await sleep(100);
      }
    }
    const fault = { id: `${RUN_ID}-mem`, leaseMs: 600_000, spec: { kind: "http", http: { port: 80 } } };
    agentRequest(bin, agent.pid, env, { protocol: 1, op: "apply", runId: RUN_ID, fault });
    await sleep(500);
    const before = rssKiB(agent.pid);
    const clients = start(pair.inPeer([process.execPath, helper, "clients", POD_IP, "80", String(CONNECTIONS)]));
    await lineFrom(clients, /ready \d+/, 60_000, "the clients");
    const busy = rssKiB(agent.pid);
    // quiet: each connection's buffers put away, the memory of the burst given back
    await sleep(5000);
    const samples = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssKiB(agent.pid));
      await sleep(300);
    }
    const held = Math.max(...samples);
    const detail = agentRequest(bin, agent.pid, env, { protocol: 1, op: "status", runId: RUN_ID }).faults?.[0]?.detail ?? "";
    const open = Number(/\((\d+) open/.exec(detail)?.[1] ?? -1);
    if (open !== CONNECTIONS) throw new Error(`the proxy holds ${open} connections, not ${CONNECTIONS}: ${detail}`);
    agentRequest(bin, agent.pid, env, { protocol: 1, op: "revert", runId: RUN_ID, faultId: fault.id });
    const mb = held / 1024;
    const ok = mb <= BAR_MB;
    log(`the agent holding an http fault: ${(before / 1024).toFixed(1)} MB resident with no connection`);
    log(`${CONNECTIONS} idle client connections through its proxy: ${mb.toFixed(1)} MB resident (bar ≤ ${BAR_MB} MB)  ${ok ? "ok" : "OVER the bar"}`);
    log(`  ${((held - before) / CONNECTIONS).toFixed(1)} KiB a connection (its connection to the application included); ${(busy / 1024).toFixed(1)} MB just after they were all answered at once`);
    return ok;
  } finally {
    for (const c of children) {
      try {
        process.kill(-c.pid, "SIGTERM");
      } catch {}
    }
    await sleep(300);
    pair.remove();
  }
}
