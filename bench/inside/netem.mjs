// Runs inside the kernel lab (test/lab/kernel): nginx and a tools pod, ab -k medians without
// and with `tc qdisc add … netem delay 100ms` on nginx's eth0 (through a debug container of
// the lab's inspection image, the way a user would do it by hand). Prints `netem-ratio BASE
// DELAYED RATIO`.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";

const kc = join(process.env.CHAOS_RUN_LAB_DIR ?? ".lab", "kubeconfig");
const k = (...args) => execFileSync("kubectl", ["--kubeconfig", kc, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

k("run", "nginx", "--image", "nginx");
k("run", "tools", "--image", "chaos-tools");
k("wait", "--for=condition=Ready", "pod/nginx", "pod/tools", "--timeout=180s");
k("debug", "nginx", "--image", "lab-inspect", "-c", "netadmin", "--profile", "netadmin", "--", "sleep", "infinity");
for (let i = 0; i < 120; i++) {
  try {
    k("exec", "nginx", "-c", "netadmin", "--", "true");
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 500));
  }
}
const ip = k("get", "pod", "nginx", "-o", "jsonpath={.status.podIP}").trim();
function p50() {
  const r = spawnSync("kubectl", ["--kubeconfig", kc, "exec", "tools", "--", "ab", "-r", "-k", "-n", "40", "-c", "1", "-e", "/dev/stderr", `http://${ip}/`], { encoding: "utf8" });
  const m = /^50,([\d.]+)$/m.exec(r.stderr);
  if (m === null) throw new Error(`no median from ab: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}
const base = p50();
k("exec", "nginx", "-c", "netadmin", "--", "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "100ms");
const delayed = p50();
k("exec", "nginx", "-c", "netadmin", "--", "tc", "qdisc", "del", "dev", "eth0", "root");
console.log(`netem-ratio ${base.toFixed(3)} ${delayed.toFixed(3)} ${((delayed - base) / 100).toFixed(4)}`);
