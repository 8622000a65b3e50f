// Shared by the benchmarks that run the agent on this machine, as root: a pod-like pair of network
// namespaces the bench creates (a "pod" with eth0, a "peer" at the other end of one veth: a pod's
// path without the rest of Kubernetes), the agent built from the working tree, and its protocol.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export function must(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", ...options });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.error?.message ?? (r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

export function have(cmd) {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore" }).status === 0;
}

/**
 * Creates namespaces pod and peer (deleting any left by an earlier run), one veth between them:
 * pod's end named eth0 at podIp/24 with a default route to peerIp, as a pod has. Addresses from
 * TEST-NET-1, inside these namespaces only: nothing else sees them.
 */
export function podPair({ pod, peer, podIp, peerIp, link }) {
  const remove = () => {
    for (const ns of [pod, peer]) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  };
  remove();
  must(["ip", "netns", "add", pod]);
  must(["ip", "netns", "add", peer]);
  must(["ip", "link", "add", `${link}0`, "netns", pod, "type", "veth", "peer", "name", `${link}1`, "netns", peer]);
  must(["ip", "-n", pod, "link", "set", `${link}0`, "name", "eth0"]);
  must(["ip", "-n", pod, "addr", "add", `${podIp}/24`, "dev", "eth0"]);
  must(["ip", "-n", peer, "addr", "add", `${peerIp}/24`, "dev", `${link}1`]);
  for (const [ns, dev] of [
    [pod, "eth0"],
    [peer, `${link}1`],
  ]) {
    must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    must(["ip", "-n", ns, "link", "set", dev, "up"]);
  }
  must(["ip", "-n", pod, "route", "add", "default", "via", peerIp, "dev", "eth0"]);
  return {
    inPod: (argv) => ["ip", "netns", "exec", pod, ...argv],
    inPeer: (argv) => ["ip", "netns", "exec", peer, ...argv],
    remove,
  };
}

/** Builds chaos-agent from the working tree into the bench cache; returns its path. */
export function buildAgent(root) {
  const cache = join(process.env.CHAOS_RUN_LAB_CACHE ?? join(homedir(), ".cache", "chaos-run-lab"), "bench");
  mkdirSync(cache, { recursive: true });
  const bin = join(cache, "chaos-agent");
  must(["go", "build", "-trimpath", "-o", bin, "./cmd/chaos-agent"], { cwd: join(root, "agent"), env: { ...process.env, CGO_ENABLED: "0" } });
  return bin;
}

/**
 * One request to the agent whose serve process is pid; its Reply, which must be ok. Sent from the
 * agent's own mount and network namespaces, as the runner's exec into its container is (each `ip
 * netns exec` has a mount namespace of its own, and the agent takes requests from its own only).
 */
export function agentRequest(bin, pid, env, request) {
  const argv = ["nsenter", "-t", String(pid), "-m", "-n", "--", bin, "request", JSON.stringify(request)];
  const reply = JSON.parse(must(argv, { env }));
  if (!reply.ok) throw new Error(`chaos-agent ${request.op}: ${JSON.stringify(reply.error)}`);
  return reply;
}
