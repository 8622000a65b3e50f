// The gRPC fault's proxy, its own cost and beside the reference, in the lab: the lab's greeter
// (helloworld.Greeter/SayHello, unary) called with grpc-load from the tools pod at concurrency 1
// and 16, three ways, rounds alternating so that all three see the same machine:
//   direct    nothing in between;
//   agent     the agent chaos-run adds to the pod, a grpc fault applied through its protocol with
//             no delay and no errors (its own cost: `chaos-run grpc --port 50051` with neither);
//   haproxy   HAProxy (this machine's, the one `http-reference` uses) run in the pod's network
//             namespace behind the same kind of nat REDIRECT of port 50051, `mode http` with
//             `proto h2` on both sides: an HTTP/2 proxy that parses the frames and relays each
//             call as a stream, which is the agent's job (it must see every call to fault it);
//             `mode tcp` would only copy bytes, a job the agent's proxy cannot do and still fault.
// Bars (issue 24): added p50 ≤ 0.5 ms; the agent's throughput ≥ 0.80 of HAProxy's.
// Throughput is calls over grpc-load's own wall time, taken in the tools pod around it (the
// exec's round trip not in it). Needs root (nsenter into the pod's network namespace).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureLab, kubectl, kubectlOk, labPaths, median, waitAllReady } from "./lib/lab.mjs";

const NS = "bench-grpc";
const PORT = 50051;
const HAPROXY_PORT = 15009;
const ROUNDS = 3;
const LOADS = [
  { concurrency: 1, requests: 2000 },
  { concurrency: 16, requests: 8000 },
];
const LATENCY_BAR = 0.5;
const REFERENCE_BAR = 0.8;
// grpc-load between two clock readings in the tools pod: its wall time, not the exec's
const TIMED = 's=$(date +%s%N); grpc-load "$@" || exit $?; e=$(date +%s%N); echo "wall_ns $((e - s))" >&2';

/** The pod's processes on this machine (found by their cgroup, which names the pod's uid): pid by command name. */
function podProcesses(uid) {
  const names = [`pod${uid}`, `pod${uid.replace(/-/g, "_")}`];
  const found = new Map();
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (names.some((n) => readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(n))) found.set(readFileSync(`/proc/${entry}/comm`, "utf8").trim(), Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  if (found.size === 0) throw new Error(`no process of pod ${uid} on this machine`);
  return found;
}

/** A process's CPU time (ms, all its threads) and context switches (its live threads'). */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  let switches = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      for (const m of readFileSync(`/proc/${pid}/task/${task}/status`, "utf8").matchAll(/ctxt_switches:\s+(\d+)/g)) switches += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { cpuMs: ((Number(stat[11]) + Number(stat[12])) * 1000) / 100, switches }; // utime + stime, at USER_HZ 100
}

function mustRun(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${(r.stderr || r.stdout || r.error?.message || "").trim()}`);
  return r.stdout;
}

async function agentRequest(root, pod, agent, request) {
  const r = await kubectl(root, ["exec", "-n", NS, pod, "-c", agent, "--", "chaos-agent", "request", JSON.stringify(request)]);
  const reply = JSON.parse(r.stdout);
  if (!reply.ok) throw new Error(`${request.op}: ${JSON.stringify(reply.error)}`);
  return reply;
}

/** grpc-load from the tools pod: p50 (ms) and calls per second; every call must end OK. */
async function grpcLoad(root, addr, { concurrency, requests }) {
  const argv = ["-addr", addr, "-method", "helloworld.Greeter/SayHello", "-data", '{"name":"bench"}', "-n", String(requests), "-c", String(concurrency)];
  const r = await kubectl(root, ["exec", "-n", NS, "tools", "--", "sh", "-c", TIMED, "sh", ...argv], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`grpc-load: ${r.stderr.trim()}`);
  const calls = JSON.parse(r.stdout).calls;
  const failed = calls.filter(([code]) => code !== 0).length;
  if (failed > 0) throw new Error(`grpc-load: ${failed} of ${requests} calls failed`);
  const wallNs = Number(/wall_ns (\d+)/.exec(r.stderr)?.[1]);
  return { p50: median(calls.map(([, ms]) => ms)), rps: requests / (wallNs / 1e9) };
}

/** The lab's greeter and the tools pod in a fresh namespace, the agent added to the greeter. */
async function setUp(root) {
  const { kubeconfig, cli } = labPaths(root);
  await kubectl(root, ["delete", "namespace", NS, "--wait=true", "--ignore-not-found", "--timeout=120s"]);
  await kubectlOk(root, ["create", "namespace", NS]);
  await kubectlOk(root, ["label", "namespace", NS, "pod-security.kubernetes.io/enforce=privileged"]);
  for (let i = 0; i < 100 && (await kubectl(root, ["get", "sa", "default", "-n", NS])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  await kubectlOk(root, ["apply", "-n", NS, "-f", join(root, "test/lab/images/grpc-greeter/deployment.yaml")]);
  await kubectlOk(root, ["run", "tools", "-n", NS, "--image", "chaos-tools"]);
  await waitAllReady(root, NS, "app=greeter", 1, 120_000);
  await kubectlOk(root, ["wait", "--for=condition=Ready", "pod/tools", "-n", NS, "--timeout=120s"]);
  const name = (await kubectlOk(root, ["get", "pods", "-n", NS, "-l", "app=greeter", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
  const install = spawnSync(process.execPath, [cli, "install", "-p", name, "--kubeconfig", kubeconfig, "-n", NS], { cwd: root, env: { ...process.env, CI: "true" }, encoding: "utf8" });
  if (install.status !== 0) throw new Error(`chaos-run install: ${install.stderr}`);
  const pod = JSON.parse(await kubectlOk(root, ["get", "pod", name, "-n", NS, "-o", "json"]));
  const processes = podProcesses(pod.metadata.uid);
  if (!processes.has("chaos-agent")) throw new Error(`no chaos-agent among the pod's processes (${[...processes.keys()].join(", ")})`);
  const agent = pod.spec.ephemeralContainers.find((c) => c.name.startsWith("chaos-agent-")).name;
  return { name, agent, runId: agent.replace("chaos-agent-", ""), ip: pod.status.podIP, processes, pid: processes.get("chaos-agent") };
}

/** HAProxy in the pod's network namespace, an h2c proxy to the greeter: its pid (nsenter execs it), and stop() to end it. */
async function startHaproxy(dir, pod) {
  const cfg = join(dir, "h2c.cfg");
  writeFileSync(
    cfg,
    "global\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n" +
      `frontend in\n  bind :${HAPROXY_PORT} proto h2\n  default_backend greeter\nbackend greeter\n  server greeter ${pod.ip}:${PORT} proto h2\n`,
  );
  const child = spawn("nsenter", ["-t", String(pod.pid), "-n", "haproxy", "-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let err = "";
  child.stderr.on("data", (b) => {
    err = (err + b).slice(-2000);
  });
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode !== null) throw new Error(`haproxy exited: ${err.trim()}`);
  const stop = () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
  };
  return { stop, pid: child.pid };
}

/** The three ways to the greeter: each puts itself in the path and returns how to leave it (the agent: and how many calls its proxy saw). */
function waysTo(root, pod) {
  const inPod = (argv) => ["nsenter", "-t", String(pod.pid), "-n", ...argv];
  const redirect = (op) => inPod(["iptables", "-w", "-t", "nat", op, "PREROUTING", "-p", "tcp", "--dport", String(PORT), "-j", "REDIRECT", "--to-ports", String(HAPROXY_PORT)]);
  let applies = 0;
  return {
    direct: async () => async () => undefined,
    agent: async () => {
      // a fault id of its own each time: the agent never applies again an id it reverted
      const fault = { id: `${pod.runId}-grpc${++applies}`, leaseMs: 600_000, spec: { kind: "grpc", grpc: { port: PORT } } };
      await agentRequest(root, pod.name, pod.agent, { protocol: 1, op: "apply", runId: pod.runId, fault });
      return async () => {
        const st = await agentRequest(root, pod.name, pod.agent, { protocol: 1, op: "status", runId: pod.runId });
        await agentRequest(root, pod.name, pod.agent, { protocol: 1, op: "revert", runId: pod.runId, faultId: fault.id });
        return Number(/(\d+) gRPC calls? \(/.exec(st.faults?.[0]?.detail ?? "")?.[1] ?? 0);
      };
    },
    haproxy: async () => {
      mustRun(redirect("-A"));
      return async () => {
        mustRun(redirect("-D"));
        return undefined;
      };
    },
  };
}

/** One load, ROUNDS rounds each way alternating (after a warm-up round), logged; whether both bars hold. */
async function measureLoad(root, pod, ways, pids, load, log) {
  const addr = `${pod.ip}:${PORT}`;
  const got = { direct: [], agent: [], haproxy: [] };
  const cost = { direct: { cpuMs: 0, switches: 0 }, agent: { cpuMs: 0, switches: 0 }, haproxy: { cpuMs: 0, switches: 0 } };
  for (let round = -1; round < ROUNDS; round++) {
    const thisLoad = round < 0 ? { ...load, requests: Math.min(500, load.requests) } : load;
    for (const [name, enter] of Object.entries(ways)) {
      const leave = await enter();
      const before = usage(pids[name]);
      const r = await grpcLoad(root, addr, thisLoad);
      const after = usage(pids[name]);
      const seen = await leave();
      // the kubelet's health probes go through the proxy too: at least the bench's calls
      if (name === "agent" && seen < thisLoad.requests) throw new Error(`the agent's proxy saw ${seen} calls of ${thisLoad.requests}`);
      if (round < 0) continue;
      got[name].push(r);
      cost[name].cpuMs += after.cpuMs - before.cpuMs;
      cost[name].switches += after.switches - before.switches;
    }
  }
  const per = (name) => `${((cost[name].cpuMs * 1000) / (ROUNDS * load.requests)).toFixed(0)} µs of CPU and ${(cost[name].switches / (ROUNDS * load.requests)).toFixed(1)} context switches`;
  const rps = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v.map((x) => x.rps))]));
  const p50 = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v.map((x) => x.p50))]));
  const added = p50.agent - p50.direct;
  const vsRef = rps.agent / rps.haproxy;
  const latencyOk = added <= LATENCY_BAR;
  const refOk = vsRef >= REFERENCE_BAR;
  log(`c=${load.concurrency}, ${load.requests} calls: p50 direct ${p50.direct.toFixed(3)} ms, agent ${p50.agent.toFixed(3)} ms, haproxy ${p50.haproxy.toFixed(3)} ms`);
  log(
    `  added p50: agent ${added.toFixed(3)} ms = ${(added / LATENCY_BAR).toFixed(2)}× the ${LATENCY_BAR} ms bar  ${latencyOk ? "ok" : "OVER the bar"}; haproxy ${(p50.haproxy - p50.direct).toFixed(3)} ms`,
  );
  log(
    `  throughput direct ${rps.direct.toFixed(0)} calls/s, agent ${rps.agent.toFixed(0)} (${(rps.agent / rps.direct).toFixed(2)} of direct), haproxy ${rps.haproxy.toFixed(0)} (${(rps.haproxy / rps.direct).toFixed(2)} of direct)`,
  );
  log(`  the agent's proxy: ${vsRef.toFixed(2)} of the reference's throughput (bar ≥ ${REFERENCE_BAR.toFixed(2)})  ${refOk ? "ok" : "UNDER the bar"}`);
  log(`  a call costs the agent ${per("agent")}, HAProxy ${per("haproxy")}; the greeter itself (direct) ${per("direct")}`);
  return latencyOk && refOk;
}

export default async function grpc({ root, log }) {
  if (process.getuid?.() !== 0) {
    log("needs root (HAProxy in the pod's network namespace): skipped");
    return false;
  }
  const down = ensureLab(root, log);
  const dir = mkdtempSync(join(tmpdir(), "chaos-bench-grpc-"));
  let haproxy = { stop: () => undefined };
  try {
    const pod = await setUp(root);
    haproxy = await startHaproxy(dir, pod);
    const greeter = [...pod.processes].find(([comm]) => comm !== "chaos-agent" && comm !== "pause")?.[1];
    const pids = { direct: greeter, agent: pod.pid, haproxy: haproxy.pid };
    const haproxyVersion = /HAProxy version \S+/.exec(mustRun(["haproxy", "-v"]))?.[0] ?? "HAProxy";
    log(
      `the lab's greeter in ${NS}, grpc-load (unary SayHello) from the tools pod, ${ROUNDS} rounds each way, alternating; the agent's proxy with no delay and no errors; ${haproxyVersion} in the pod's network namespace, mode http, proto h2`,
    );
    const ways = waysTo(root, pod);
    let ok = true;
    for (const l of LOADS) ok = (await measureLoad(root, pod, ways, pids, l, log)) && ok;
    return ok;
  } finally {
    haproxy.stop();
    rmSync(dir, { recursive: true, force: true });
    await kubectl(root, ["delete", "namespace", NS, "--wait=false"]);
    down();
  }
}
