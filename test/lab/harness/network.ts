// Pod networking of the lab: one bridge, and per pod a network namespace whose
// `eth0` (one end of a veth pair, the other on the bridge) holds the pod's IPv4
// and IPv6 addresses. Pods reach each other and the host's bridge address; the
// default route is on-link on eth0 with no gateway, so nothing leaves the machine
// (there is no NAT and no forwarding).
import { must, run } from "./sh.js";

export const BRIDGE = "chaoslab0";
export const NETNS_PREFIX = "chaoslab-";
export const VETH_PREFIX = "cl";
export const V4_PREFIX = "198.18";
export const V6_PREFIX = "fd00:c612::";
export const BRIDGE_V4 = `${V4_PREFIX}.0.1`;
export const BRIDGE_V6 = `${V6_PREFIX}1`;

export interface PodAddresses {
  v4: string;
  v6: string;
}

/** The n-th pod address (n ≥ 2; 1 is the bridge), as a v4/v6 pair. */
export function podAddresses(n: number): PodAddresses {
  if (n < 2 || n > 65_533) throw new Error(`pod address index out of range: ${n}`);
  return { v4: `${V4_PREFIX}.${Math.floor(n / 256)}.${n % 256}`, v6: `${V6_PREFIX}${n.toString(16)}` };
}

export function addressIndex(v4: string): number | undefined {
  const m = /^198\.18\.(\d+)\.(\d+)$/.exec(v4);
  if (m === null) return undefined;
  return Number(m[1]) * 256 + Number(m[2]);
}

export async function ensureBridge(): Promise<void> {
  const exists = await run(["ip", "link", "show", BRIDGE]);
  if (exists.code !== 0) {
    await must(["ip", "link", "add", "name", BRIDGE, "type", "bridge"]);
    await must(["ip", "addr", "add", `${BRIDGE_V4}/16`, "dev", BRIDGE]);
    await must(["ip", "-6", "addr", "add", `${BRIDGE_V6}/64`, "dev", BRIDGE, "nodad"]);
  }
  await must(["ip", "link", "set", BRIDGE, "up"]);
}

export function netnsName(podUid: string): string {
  return `${NETNS_PREFIX}${podUid}`;
}

function vethNames(podUid: string): { host: string; peer: string } {
  const short = podUid.replace(/-/g, "").slice(0, 10);
  return { host: `${VETH_PREFIX}${short}`, peer: `cp${short}` };
}

/** Creates the pod's namespace and wires it to the bridge. Idempotent: starts from a clean slate. */
export async function createPodNetwork(podUid: string, addr: PodAddresses): Promise<string> {
  const ns = netnsName(podUid);
  const { host: hostIf, peer } = vethNames(podUid);
  await deletePodNetwork(podUid);
  await must(["ip", "netns", "add", ns]);
  const host = [
    `link add ${hostIf} type veth peer name ${peer}`,
    `link set ${peer} netns ${ns}`,
    `link set ${hostIf} master ${BRIDGE}`,
    `link set ${hostIf} up`,
  ];
  const inside = [
    `link set ${peer} name eth0`,
    `link set lo up`,
    `addr add ${addr.v4}/16 dev eth0`,
    `addr add ${addr.v6}/64 dev eth0 nodad`,
    `link set eth0 up`,
    `route add default dev eth0`,
    `route add ::/0 dev eth0`,
  ];
  // `ip -batch` reads one ip command per line (its own argv splitting; no shell).
  await must(["ip", "-batch", "-"], host.join("\n") + "\n");
  await must(["ip", "-n", ns, "-batch", "-"], inside.join("\n") + "\n");
  return ns;
}

export async function deletePodNetwork(podUid: string): Promise<void> {
  const { host } = vethNames(podUid);
  await run(["ip", "link", "del", host]);
  await run(["ip", "netns", "del", netnsName(podUid)]);
}

/** Removes every namespace, veth and the bridge the lab made (for `lab down`). */
export async function sweepNetworks(): Promise<void> {
  const list = await run(["ip", "netns", "list"]);
  for (const line of list.stdout.split("\n")) {
    const name = line.split(" ")[0];
    if (name?.startsWith(NETNS_PREFIX)) await run(["ip", "netns", "del", name]);
  }
  const links = await run(["ip", "-o", "link", "show"]);
  for (const line of links.stdout.split("\n")) {
    const m = /^\d+: ([^:@]+)/.exec(line);
    const name = m?.[1];
    if (name !== undefined && name.startsWith(VETH_PREFIX) && /^cl[0-9a-f]{10}$/.test(name)) await run(["ip", "link", "del", name]);
  }
  await run(["ip", "link", "del", BRIDGE]);
}
