// chaos-run inside the cluster (issue 22), on the host lab: the runner image's size; from
// `kubectl apply` of `chaos-run job`'s manifests to the first fault in effect (the partition's
// nftables table in the target pod's network namespace, read from the host); the runner pod's
// peak memory during the demo scenario (scenarios/nginx-latency.yaml) run as a Job, against the
// limit the manifests give it (src/deploy/manifests.ts RUNNER_RESOURCES: 256Mi). No bars: the
// issue asks for the numbers.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ensureLab, kubectl, kubectlOk, labPaths, median } from "./lib/lab.mjs";

const RUNNER_NS = "bench-incluster";
const TARGET_NS = "bench-incluster-target";
const REPS = 5;
const LIMIT_MB = 256 * 1.048576;

/** The runner image: unpacked (its layers in the lab's build storage) and pulled (compressed, in the lab's registry), in MB. */
async function imageMb(root) {
  const tag = JSON.parse(readFileSync(join(labPaths(root).dir, "images.json"), "utf8"))["chaos-run"];
  const inspect = spawnSync("buildah", ["inspect", "--type", "image", tag], { encoding: "utf8" });
  const unpacked = JSON.parse(JSON.parse(inspect.stdout).Manifest).layers.reduce((n, l) => n + l.size, 0) / 1e6;
  const port = process.env.CHAOS_RUN_LAB_REGISTRY_PORT ?? "25000";
  const res = await fetch(`http://127.0.0.1:${port}/v2/library/chaos-run/manifests/latest`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
  const pulled = (await res.json()).layers.reduce((n, l) => n + l.size, 0) / 1e6;
  return { unpacked, pulled };
}

/** The host's processes of a pod (found by its UID in /proc/PID/cgroup). */
function podPids(uid) {
  const names = [uid, uid.replace(/-/g, "_")].map((n) => `pod${n}`);
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.some((n) => readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(n))) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function podUid(ns, name, root) {
  const r = await kubectl(root, ["get", "pod", name, "-n", ns, "-o", "jsonpath={.metadata.uid}"]);
  return r.code === 0 && r.stdout !== "" ? r.stdout : undefined;
}

async function freshNamespace(root, ns, level) {
  await kubectl(root, ["delete", "namespace", ns, "--wait=true", "--ignore-not-found", "--timeout=120s"]);
  await kubectlOk(root, ["create", "namespace", ns]);
  await kubectlOk(root, ["label", "namespace", ns, `pod-security.kubernetes.io/enforce=${level}`]);
  for (let i = 0; i < 100 && (await kubectl(root, ["get", "sa", "default", "-n", ns])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
}

/** A fresh nginx (a fresh agent is added to it: no run before left one); its host pid. */
async function freshNginx(root) {
  await kubectl(root, ["delete", "pod", "nginx", "-n", TARGET_NS, "--ignore-not-found", "--wait=true", "--grace-period=1"]);
  await kubectlOk(root, ["run", "nginx", "-n", TARGET_NS, "--image", "nginx", "--labels", "run=nginx"]);
  await kubectlOk(root, ["wait", "--for=condition=Ready", "pod/nginx", "-n", TARGET_NS, "--timeout=120s"]);
  return podPids(await podUid(TARGET_NS, "nginx", root))[0];
}

/** `chaos-run job FILE` with the built CLI, offline (no kubeconfig). */
function manifests(root, file, name) {
  const r = spawnSync(process.execPath, [labPaths(root).cli, "job", file, "-n", RUNNER_NS, "--name", name], { encoding: "utf8", env: { ...process.env, KUBECONFIG: "/nonexistent" } });
  if (r.status !== 0) throw new Error(`chaos-run job: ${r.stderr}`);
  return r.stdout;
}

async function jobEnd(root, name) {
  for (;;) {
    const r = await kubectl(root, ["get", "job", name, "-n", RUNNER_NS, "-o", 'jsonpath={.status.conditions[?(@.status=="True")].type}']);
    if (/Complete|Failed/.test(r.stdout)) return r.stdout;
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** ms from the start of `kubectl apply` until a CHAOS- table is in the pod's network namespace. */
async function applyToFault(root, yaml, name, pid) {
  await kubectl(root, ["delete", "job", name, "-n", RUNNER_NS, "--ignore-not-found", "--cascade=foreground", "--wait=true"]);
  const t0 = performance.now();
  await kubectlOk(root, ["apply", "-f", "-"], { input: yaml });
  for (;;) {
    const r = spawnSync("nsenter", ["-t", String(pid), "-n", "nft", "list", "tables"], { encoding: "utf8" });
    if (r.stdout.includes("CHAOS-")) return performance.now() - t0;
    if (performance.now() - t0 > 120_000) throw new Error("no fault in effect after 120 s");
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** A Job's runner pod's name, once it exists. */
async function runnerPod(root, job) {
  for (;;) {
    const r = await kubectl(root, ["get", "pods", "-n", RUNNER_NS, "-l", `job-name=${job}`, "-o", "jsonpath={.items[0].metadata.name}"]);
    if (r.code === 0 && r.stdout !== "") return r.stdout;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The runner's node process in its pod, once it runs: its pid and its container's cgroup directory. */
async function runnerProcess(root, pod) {
  for (let i = 0; i < 600; i++) {
    const uid = await podUid(RUNNER_NS, pod, root);
    for (const pid of uid === undefined ? [] : podPids(uid)) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("/opt/chaos-run/dist/cli/main.js")) continue;
        // cgroup v1: the memory controller's max_usage_in_bytes; v2: memory.peak
        const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
        const v1 = lines.find((l) => /^\d+:memory:/.test(l))?.replace(/^\d+:memory:/, "");
        const peakFile = v1 !== undefined ? join("/sys/fs/cgroup/memory", v1, "memory.max_usage_in_bytes") : join("/sys/fs/cgroup", (lines[0] ?? "").replace(/^0::/, ""), "memory.peak");
        return { pid, peakFile };
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`no runner process in pod ${pod}`);
}

/** Polls the runner's peak resident set (VmHWM) and its container's peak usage (the cgroup's, page cache included) every 50 ms until it exits: the last values read, in MB. */
async function peakMemory(proc) {
  let hwm = 0;
  let peak = 0;
  for (;;) {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
      if (m !== null) hwm = Math.max(hwm, Number(m[1]) / 1024);
    } catch {
      return { hwm, peak }; // the runner exited
    }
    try {
      peak = Math.max(peak, Number(readFileSync(proc.peakFile, "utf8")) / 1048576);
    } catch {
      // its cgroup removed as it exits
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** The demo scenario for the bench's namespaces; its netem delay as the agent's HTTP delay where this kernel has no sch_netem. */
function demoScenario(root) {
  const s = parse(readFileSync(join(root, "scenarios/nginx-latency.yaml"), "utf8"));
  s.target.namespace = TARGET_NS;
  const netem = spawnSync("modprobe", ["-q", "-n", "sch_netem"]).status === 0;
  if (netem) return { text: stringify(s), note: "as written" };
  const step = s.steps.find((st) => st.fault?.netem !== undefined);
  step.fault = { http: { port: 80, delay: step.fault.netem.delay, jitter: step.fault.netem.jitter } };
  return { text: stringify(s), note: "its netem delay as the agent's HTTP delay of the same 100 ms ± 5 ms (this kernel has no sch_netem)" };
}

const PARTITION = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: bench-incluster-ttf }
target: { namespace: ${TARGET_NS}, selector: { run: nginx }, mode: all, maxPods: 1 }
steps:
  - name: cut port 80
    fault: { partition: {}, to: { port: 80 } }
    duration: 3s
`;

export default async function inCluster({ root, log }) {
  const down = ensureLab(root, log);
  const dir = mkdtempSync(join(tmpdir(), "bench-incluster-"));
  try {
    const built = spawnSync(join(root, "test/lab/build-images"), ["chaos-run", "chaos-agent"], { stdio: ["ignore", "ignore", "inherit"] });
    if (built.status !== 0) throw new Error("the runner's and the agent's images did not build");
    const size = await imageMb(root);
    log(`runner image (Dockerfile.runner): ${size.unpacked.toFixed(1)} MB unpacked, ${size.pulled.toFixed(1)} MB pulled (compressed layers)`);

    await freshNamespace(root, RUNNER_NS, "restricted");
    await freshNamespace(root, TARGET_NS, "privileged");
    writeFileSync(join(dir, "ttf.yaml"), PARTITION);
    const ttfYaml = manifests(root, join(dir, "ttf.yaml"), "bench-ttf");
    const times = [];
    for (let i = 0; i < REPS; i++) {
      const pid = await freshNginx(root);
      times.push(await applyToFault(root, ttfYaml, "bench-ttf", pid));
      const end = await jobEnd(root, "bench-ttf");
      if (!end.includes("Complete")) throw new Error(`the time-to-fault Job ended ${end}`);
    }
    log(
      `kubectl apply → first fault in effect (a Job; a fresh nginx each time, so a fresh agent added with its fault): median ${median(times).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)} of ${REPS}`,
    );

    const demo = demoScenario(root);
    writeFileSync(join(dir, "demo.yaml"), demo.text);
    const demoYaml = manifests(root, join(dir, "demo.yaml"), "bench-demo");
    await freshNginx(root);
    await kubectl(root, ["delete", "job", "bench-demo", "-n", RUNNER_NS, "--ignore-not-found", "--cascade=foreground", "--wait=true"]);
    await kubectlOk(root, ["apply", "-f", "-"], { input: demoYaml });
    const proc = await runnerProcess(root, await runnerPod(root, "bench-demo"));
    const mem = await peakMemory(proc);
    const end = await jobEnd(root, "bench-demo");
    log(`the runner during the demo scenario (${demo.note}), as a Job: ${end.includes("Complete") ? "passed" : `ended ${end}`}`);
    log(
      `  peak resident set (VmHWM) ${mem.hwm.toFixed(1)} MB; its container's peak usage (the cgroup's, page cache included) ${mem.peak.toFixed(1)} MB = ${(mem.peak / LIMIT_MB).toFixed(2)}× its 256Mi limit`,
    );
    await kubectl(root, ["delete", "namespace", RUNNER_NS, TARGET_NS, "--wait=false"]);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    down();
  }
}
