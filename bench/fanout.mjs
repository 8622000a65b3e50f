// Fan-out: adding the agent to 50 lab pods and putting a fault in effect in all of them, against
// doing it for 1 pod, and against what a user would really write instead — a parallel loop of
// `kubectl debug` + `kubectl exec` per pod, 16 at a time (as `xargs -P 16` runs it) — all measured
// in this run, on the host lab's real node. Printed beside the wall times: chaos-run's own CPU per
// target pod. Bar kept from the injection issue: 50 pods ≤ 3× the time of 1 pod.
// The host kernel has no sch_netem, so the fault is a partition of an unused port (iptables, in
// the same agent exec path as a delay); the kernel lab section measures netem itself.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { LAB_PROCESSES, ensureLab, kubectl, kubectlOk, labPaths, makePods, timeUntil } from "./lib/lab.mjs";

const scenario = (label) => `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: bench-fanout-${label} }
target: { selector: { app: ${label} }, mode: all, maxPods: 60 }
steps:
  - name: drop port 9
    fault: { partition: {}, to: { port: 9, protocol: tcp } }
    duration: 1s
`;

/**
 * What a user writes without chaos-run: per pod, kubectl debug, then kubectl exec until it works;
 * 16 pods at a time. The debug container is the lab's inspection image (iptables and a shell's
 * tools; the agent's image has neither).
 */
async function byHand(root, namespace, pods, parallel = 16) {
  const one = async (pod) => {
    await kubectlOk(root, ["debug", "-n", namespace, pod, "--image", "lab-inspect", "-c", "by-hand", "--profile", "netadmin", "--", "sleep", "infinity"]);
    // as a script does it: retry exec until the container runs
    for (let i = 0; ; i++) {
      const r = await kubectl(root, ["exec", "-n", namespace, pod, "-c", "by-hand", "--", "iptables", "-w", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j", "DROP"]);
      if (r.code === 0) return;
      if (i > 300) throw new Error(`by hand: exec into ${pod} never worked: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < pods.length) await one(pods[next++]);
    }),
  );
  return performance.now() - started;
}

export default async function fanout({ root, log }) {
  const down = ensureLab(root, log);
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-fanout-"));
  const { kubeconfig } = labPaths(root);
  try {
    log("creating 101 lab pods (1 + 50 for chaos-run, 50 for the kubectl loop)");
    await makePods(root, "bench-one", "one", 1, "one");
    await makePods(root, "bench-fan", "fan", 50, "fan");
    await makePods(root, "bench-hand", "hand", 50, "hand");
    writeFileSync(join(dir, "one.yaml"), scenario("one"));
    writeFileSync(join(dir, "fan.yaml"), scenario("fan"));
    const inEffect = /: in effect in pod /;
    // the images go on the node first (their pull is not what is measured): the agent's (its one
    // program, run once) and the one the kubectl loop debugs with
    await kubectlOk(root, ["run", "warm", "-n", "bench-one", "--image", "chaos-agent", "--image-pull-policy", "IfNotPresent", "--restart", "Never", "--command", "--", "chaos-agent", "version"]);
    await kubectlOk(root, ["run", "warm-hand", "-n", "bench-hand", "--image", "lab-inspect", "--image-pull-policy", "IfNotPresent", "--restart", "Never", "--command", "--", "true"]);
    for (const [pod, namespace] of [
      ["warm", "bench-one"],
      ["warm-hand", "bench-hand"],
    ]) {
      await kubectlOk(root, ["wait", "--for=jsonpath={.status.phase}=Succeeded", `pod/${pod}`, "-n", namespace, "--timeout=120s"]);
    }
    const one = await timeUntil(root, [join(dir, "one.yaml"), "--kubeconfig", kubeconfig, "-n", "bench-one", "--report-dir", join(dir, "r")], inEffect, 1);
    const fifty = await timeUntil(root, [join(dir, "fan.yaml"), "--kubeconfig", kubeconfig, "-n", "bench-fan", "--report-dir", join(dir, "r")], inEffect, 50);
    if (one.ms === undefined || fifty.ms === undefined || one.code !== 0 || fifty.code !== 0) {
      log(`chaos-run failed: exit ${one.code}/${fifty.code}: ${one.tail}${fifty.tail}`);
      return false;
    }
    const pods = Array.from({ length: 50 }, (_, i) => `hand-${String(i).padStart(2, "0")}`);
    const hand = await byHand(root, "bench-hand", pods);
    const scale = fifty.ms / one.ms;
    const speedup = hand / fifty.ms;
    const cpuPerPod = (fifty.cpu?.self ?? 0) / 50;
    log(`inject the agent + fault in effect, whole process (node start, preflight, watch-based readiness):`);
    log(`  chaos-run, 1 pod:                          ${one.ms.toFixed(0).padStart(6)} ms   chaos-run's CPU ${String(one.cpu?.self ?? "?").padStart(5)} ms`);
    log(`  chaos-run, 50 pods:                        ${fifty.ms.toFixed(0).padStart(6)} ms   = ${scale.toFixed(2)}× 1 pod   ${scale <= 3 ? "ok (≤ 3×)" : "OVER the 3× bar"}`);
    log(`    chaos-run's own CPU: ${(fifty.cpu?.self ?? 0).toFixed(0)} ms in all, ${cpuPerPod.toFixed(1)} ms per target pod`);
    log(`  kubectl debug + exec, 16 in parallel, 50:  ${hand.toFixed(0).padStart(6)} ms   = ${speedup.toFixed(1)}× chaos-run's 50`);
    // Where the 50-pod wall time went: the lab's own processes share this machine's cores.
    const used = (name) => (fifty.cpu?.lab[name] ?? 0) - (fifty.labCpuBefore[name] ?? 0);
    const parts = [["chaos-run", fifty.cpu?.self ?? 0], ...LAB_PROCESSES.map((n) => [n, used(n)])];
    const total = parts.reduce((a, [, v]) => a + v, 0);
    log(`  CPU until the 50th fault was in effect (${availableParallelism()} cores, ${(total / fifty.ms).toFixed(1)} busy on average; pods' own processes not counted):`);
    for (const [name, v] of parts) log(`    ${name.padEnd(20)} ${v.toFixed(0).padStart(6)} ms  ${((100 * v) / total).toFixed(0).padStart(3)} %`);
    return scale <= 3;
  } finally {
    for (const ns of ["bench-one", "bench-fan", "bench-hand"]) await kubectl(root, ["delete", "namespace", ns, "--wait=false"]);
    rmSync(dir, { recursive: true, force: true });
    down();
  }
}
