// The lab itself. Bars (issue: the real node): `npm run lab:up` on a warm cache ≤ 30 s to a
// Ready node; a pod from create to Ready ≤ 3 s (its image already on the node); inside the
// kernel lab, a 100 ms netem delay measured by ab at 1.00 ± 0.05 of the configured delay.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { kubectl, kubectlOk, labIsUp, median } from "./lib/lab.mjs";

const PODS = 5;

/** Create → Ready of one pod, through the API as a user's kubectl sees it (its own start included). */
async function podToReady(root, namespace, name) {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: { containers: [{ name: "main", image: "chaos-tools", imagePullPolicy: "IfNotPresent", command: ["sleep", "infinity"] }], terminationGracePeriodSeconds: 1 },
  };
  const t0 = performance.now();
  await kubectlOk(root, ["create", "-f", "-"], { input: JSON.stringify(pod) });
  await kubectlOk(root, ["wait", "--for=condition=Ready", `pod/${name}`, "-n", namespace, "--timeout=120s"]);
  return performance.now() - t0;
}

export default async function lab({ root, log }) {
  let ok = true;
  const wasUp = labIsUp(root);
  spawnSync(join(root, "test/lab/down"), ["--quiet"], { stdio: "inherit" });
  const t0 = performance.now();
  const up = spawnSync(join(root, "test/lab/up"), { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const upMs = performance.now() - t0;
  if (up.status !== 0) {
    log(`lab up failed: ${up.stderr}`);
    return false;
  }
  const upOk = upMs <= 30_000;
  ok &&= upOk;
  log(`lab:up (warm cache) to a Ready node: ${(upMs / 1000).toFixed(1)} s = ${(upMs / 30_000).toFixed(2)}× the 30 s bar  ${upOk ? "ok" : "OVER the bar"}`);

  const ns = "bench-lab";
  await kubectl(root, ["delete", "namespace", ns, "--wait=true", "--ignore-not-found", "--timeout=120s"]);
  await kubectlOk(root, ["create", "namespace", ns]);
  for (let i = 0; i < 100 && (await kubectl(root, ["get", "sa", "default", "-n", ns])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  // the first pod pulls the image onto the fresh node; the others measure a pod's own start
  const firstMs = await podToReady(root, ns, "first");
  const times = [];
  for (let i = 0; i < PODS; i++) times.push(await podToReady(root, ns, `pod-${i}`));
  const med = median(times);
  const podOk = med <= 3000;
  ok &&= podOk;
  log(
    `a pod from create to Ready (kubectl create + kubectl wait), image on the node: median ${med.toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms of ${PODS} = ${(med / 3000).toFixed(2)}× the 3 s bar  ${podOk ? "ok" : "OVER the bar"}`,
  );
  log(`  (the first pod of a fresh node also pulled its image from the lab's registry: ${firstMs.toFixed(0)} ms)`);
  await kubectl(root, ["delete", "namespace", ns, "--wait=false"]);
  if (!wasUp) spawnSync(join(root, "test/lab/down"), ["--quiet"], { stdio: "inherit" });

  log("kernel lab: booting UML, bringing the real node up inside, measuring netem (a few minutes)");
  const k = spawnSync(join(root, "test/lab/kernel"), ["node", join(root, "bench/inside/netem.mjs")], { encoding: "utf8", maxBuffer: 16 << 20 });
  const line = /^netem-ratio (\S+) (\S+) (\S+)$/m.exec(k.stdout ?? "");
  const upLine = /^lab: up in (\S+)s/m.exec(k.stdout ?? "");
  if (k.status !== 0 || line === null) {
    log(`kernel lab measurement failed (exit ${k.status}): ${(k.stdout ?? "").slice(-800)}${(k.stderr ?? "").slice(-800)}`);
    return false;
  }
  if (upLine !== null) log(`kernel lab: the real node up inside UML in ${upLine[1]} s`);
  const [, base, delayed, ratio] = line;
  const r = Number(ratio);
  const netemOk = Math.abs(r - 1) <= 0.05;
  ok &&= netemOk;
  log(`kernel lab, netem delay 100ms, ab -k median: ${base} ms → ${delayed} ms; measured/configured = ${r.toFixed(3)}  ${netemOk ? "ok (1.00 ± 0.05)" : "OUTSIDE 1.00 ± 0.05"}`);
  return ok;
}
