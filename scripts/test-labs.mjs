#!/usr/bin/env node
// The two lab tiers of `npm test`, side by side. The kernel tier runs inside a UML kernel: one
// process that keeps one of the machine's two cores busy for ~11 minutes, its lab, its own
// network and its own /tmp and /run, sharing nothing writable with the host's lab. The cluster
// tier mostly waits (on the kubelet, on faults' windows). Run one after the other they took
// 22 minutes; side by side, the longer of the two. What measures shares of a CPU to ±15%
// (test/cluster/stress.test.ts) runs afterwards, alone.
//
// Order: the host's lab comes up first (it builds and pushes the images both tiers pull, and
// the kernel tier's own build step then finds them current), then both tiers, then stress. The
// agent's own kernel tests and fuzzers (the agent tier: `agent/fuzz`, then `agent/test-kernel`,
// which boots a UML kernel of its own) need no lab: they start at once, on the CPU the kernel
// tier will have, while the lab comes up, and the kernel tier follows them there. Run before the
// lab they added four minutes to `npm test`; here they end well before the cluster lanes do. Each
// line of a tier's output is prefixed with its name. Every tier runs even when one fails; the
// exit code is 1 when any failed; what failed (vitest's FAIL lines and the error under each), and
// every test that passed only on its retry (FLAKY), are repeated after the summary, where a log's
// tail shows them. Ctrl-C stops them all (the kernel lab kills its UML kernel)
// and takes down the lab if this script brought it up.
//
// The cluster tier itself runs in two lanes side by side: its files mostly wait on the kubelet,
// each works in a namespace of its own, and one after another they took 15 minutes. The files
// that change what every test shares — the lab's registry (stopped to show an air-gapped node:
// only air-gapped.test.ts; lab.test.ts and safety.test.ts, which did it too, took 2 minutes alone),
// the lab itself (taken down and up) — and the one that times a runner's samples to the half
// second (probes.test.ts: beside the other lane it once got 2 samples in a fault's window where
// it asks 3) run after both lanes, alone; so does compare.test.ts, which asks
// 10 one-second samples in a step and no regression between two runs of one setting (beside the
// other lane it got 8 samples once, and a one-shot figure moved 23%). A new file joins the first
// lane unless it is listed; the second lane holds the long files that mostly wait (CronJob
// ticks, processes killed and restarted).
//
// Side by side, the two tiers are pinned apart: the UML kernel (and all it runs) to the last CPU,
// the host's lab (test/lab/pin: its components, containerd's shims, the pods under them) and the
// cluster tier's vitest to the others; the lab gets every CPU back before stress runs. Unpinned,
// the UML kernel starved by the host's tier let a partition's lease lapse.
//   CHAOS_RUN_TEST_SERIAL=1   one tier after the other, unpinned, the cluster tier in one lane
//                             (the default on one CPU).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const labDir = process.env.CHAOS_RUN_LAB_DIR ?? join(repo, ".lab");
const vitest = join(repo, "node_modules", ".bin", "vitest");
const stressFile = "test/cluster/stress.test.ts";
/** Files that stop what other files use (the registry, the lab), or time samples to the half second: run alone, after the lanes. */
const labWideFiles = ["test/cluster/air-gapped.test.ts", "test/cluster/lab-lifecycle.test.ts", "test/cluster/probes.test.ts", "test/cluster/compare.test.ts"];
/** The second lane: long files that mostly wait. */
const secondLaneFiles = ["test/cluster/in-cluster.test.ts", "test/cluster/process-faults.test.ts", "test/cluster/runner.test.ts"];
const children = new Set();
const failures = new Map(); // tier name → lines that say what failed
const tails = new Map(); // tier name → its last lines
const flaky = []; // tests that passed only on their retry (test/support/flaky-reporter.ts)
let stopping = false;

/** The CPUs this process may run on (a container's cpuset need not start at 0), ascending. */
function allowedCpus() {
  const line = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? `0-${availableParallelism() - 1}`;
  return line.split(",").flatMap((part) => {
    const [a, b] = part.split("-").map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

function labIsUp() {
  const pidFile = join(labDir, "run", "apiserver.pid");
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, "utf8")), 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps a FAIL line (vitest's, go test's) and the two non-empty lines after it (the error), at most 30 lines;
 * and the last 8 non-empty lines, said when there was no FAIL line (a lab that did not boot).
 */
function failureWatcher(name) {
  let after = 0;
  const tail = [];
  tails.set(name, tail);
  return (line) => {
    const plain = stripVTControlCharacters(line).trim();
    if (plain.startsWith("FLAKY ")) flaky.push(`${name}: ${plain.slice(6)}`);
    if (plain !== "") tail.push(plain);
    if (tail.length > 8) tail.shift();
    const kept = failures.get(name) ?? [];
    if (/^(?:--- )?FAIL[\s:]/.test(plain)) after = 3; // vitest's FAIL, go test's --- FAIL: and FAIL
    if (after > 0 && plain !== "" && kept.length < 30) {
      kept.push(plain);
      failures.set(name, kept);
      after--;
    }
  };
}

/** Runs argv, each output line written with the prefix. Resolves to { name, code, seconds }. */
function tier(name, argv, prefix = "") {
  const started = Date.now();
  return new Promise((resolve) => {
    // piped output keeps its colours when this script's own goes to a terminal
    const env = process.stdout.isTTY && !process.env.NO_COLOR ? { ...process.env, FORCE_COLOR: "1" } : process.env;
    const child = spawn(argv[0], argv.slice(1), { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    const watch = failureWatcher(name);
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          process.stdout.write(`${prefix}${line}\n`);
          watch(line);
        }
      });
      stream.on("end", () => {
        if (rest !== "") process.stdout.write(`${prefix}${rest}\n`);
        watch(rest);
      });
    }
    child.on("error", (err) => {
      process.stdout.write(`${name}: could not start ${argv[0]}: ${err.message}\n`);
    });
    child.on("close", (code, signal) => {
      children.delete(child);
      resolve({ name, code: code ?? (signal ? 128 : 1), seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\ntest-labs: ${signal}: stopping the tiers\n`);
  for (const child of children) child.kill(signal);
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));

/** The agent tier: its fuzzers, then its kernel tests on the host's kernel and in UML (both run even when the fuzzers fail). */
async function agentTier(pin) {
  const fuzz = await tier("agent: fuzz", [...pin, join(repo, "agent/fuzz"), "./protocol", "./service", "./proxy", "./dns"], "agent    │ ");
  if (stopping) return [fuzz];
  return [fuzz, await tier("agent: kernel", [...pin, join(repo, "agent/test-kernel")], "agent    │ ")];
}

const results = [];
const cpus = availableParallelism();
const serial = Boolean(process.env.CHAOS_RUN_TEST_SERIAL) || cpus < 2;
const umlCpu = String(allowedCpus().at(-1));
// side by side, the agent's UML kernel on the CPU the kernel tier's will have
if (!serial) process.env.CHAOS_RUN_UML_CPUS = umlCpu;
const agent = serial ? undefined : agentTier(["taskset", "-c", umlCpu]);
let broughtUp = false;
if (!labIsUp()) {
  const up = await tier("lab up", [join(repo, "test/lab/up")]);
  results.push(up);
  broughtUp = up.code === 0;
}

const labOk = results.every((r) => r.code === 0);
if (serial && !stopping) results.push(...(await agentTier([])));
if (labOk && !stopping) {
  const cluster = [vitest, "run", "--project", "cluster"];
  const exclude = (files) => files.flatMap((f) => ["--exclude", f]);
  const kernelArgv = [join(repo, "test/lab/kernel"), vitest, "run", "--project", "kernel"];
  if (serial) {
    results.push(await tier("cluster", [...cluster, ...exclude([stressFile])]));
    if (!stopping) results.push(await tier("kernel", kernelArgv));
  } else {
    const host = allowedCpus().slice(0, -1).join(",");
    await tier("pin", [join(repo, "test/lab/pin"), host]);
    const onHost = (argv) => ["taskset", "-c", host, ...argv];
    // the kernel tier after the agent's, on the same CPU
    const kernel = agent.then(async (done) => {
      results.push(...done);
      return stopping ? undefined : tier("kernel", kernelArgv, "kernel   │ ");
    });
    const lanes = [
      tier("cluster 1", onHost([...cluster, ...exclude([stressFile, ...labWideFiles, ...secondLaneFiles])]), "cluster1 │ "),
      tier("cluster 2", onHost([...cluster, ...secondLaneFiles]), "cluster2 │ "),
    ];
    results.push(...(await Promise.all(lanes)));
    if (!stopping) results.push(await tier("cluster: lab-wide", onHost([...cluster, ...labWideFiles]), "clusterW │ "));
    const kernelResult = await kernel;
    if (kernelResult !== undefined) results.push(kernelResult);
    await tier("unpin", [join(repo, "test/lab/pin"), "all"]);
  }
  if (!stopping) results.push(await tier("cluster: stress", [vitest, "run", "--project", "cluster", stressFile]));
}

// a lab that did not come up (or Ctrl-C) leaves the agent tier running: its result still counts
if (agent !== undefined && !results.some((r) => r.name.startsWith("agent: "))) results.push(...(await agent));
delete process.env.CHAOS_RUN_UML_CPUS;
if (broughtUp) results.push(await tier("lab down", [join(repo, "test/lab/down"), "--quiet"]));

process.stdout.write("\nlab tiers:\n");
for (const r of results) process.stdout.write(`  ${r.code === 0 ? "passed" : `FAILED (exit ${r.code})`}  ${r.name}  ${r.seconds}s\n`);
for (const r of results) {
  const lines = r.code === 0 ? [] : (failures.get(r.name) ?? tails.get(r.name) ?? []);
  if (lines.length > 0) process.stdout.write(`\n${r.name}: what failed\n${lines.map((l) => `  ${l}\n`).join("")}`);
}
if (flaky.length > 0) process.stdout.write(`\nflaky: ${flaky.length} test${flaky.length === 1 ? "" : "s"} failed, then passed on the retry\n${flaky.map((l) => `  ${l}\n`).join("")}`);
process.exit(stopping ? 130 : results.every((r) => r.code === 0) ? 0 : 1);
