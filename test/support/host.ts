// What the lab's node shows from the host: the processes of its containers (the lab runs
// containerd here, so a container's process is one of this machine's), and the containers
// chaos-run added as the API server stored them.
import { readFileSync, readdirSync } from "node:fs";
import { getPod, run } from "./lab.js";

/** The serving process of a chaos agent (`chaos-agent serve …` with CHAOS_AGENT_NAME=name), by its pid on the host; undefined when none runs. */
export function agentProcess(name: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (!(argv[0] ?? "").endsWith("chaos-agent") || argv[1] !== "serve") continue;
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (env.includes(`CHAOS_AGENT_NAME=${name}`)) return pid;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

/** What an added container asked the API for: its securityContext as stored in the pod's spec. */
export interface StoredSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
}

interface StoredContainer {
  name: string;
  securityContext?: StoredSecurity;
}

/** The securityContexts of a pod's ephemeral containers (and its own containers), by name, as the API server has them. */
export async function storedSecurity(namespace: string, pod: string): Promise<Map<string, StoredSecurity | undefined>> {
  const p = (await getPod(namespace, pod)) as unknown as { spec: { containers?: StoredContainer[]; ephemeralContainers?: StoredContainer[] } } | undefined;
  const all = [...(p?.spec.containers ?? []), ...(p?.spec.ephemeralContainers ?? [])];
  return new Map(all.map((c) => [c.name, c.securityContext]));
}

/** Least privilege as chaos-run sends it: every capability dropped but `add`, no escalation, the runtime's seccomp profile, never privileged. */
export function leastPrivilege(add: readonly string[], user: { runAsUser: number; runAsNonRoot: boolean; runAsGroup?: number }): StoredSecurity {
  return {
    ...user,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"], ...(add.length > 0 ? { add: [...add] } : {}) },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/**
 * A process of a pod, by its pid on the host: found by the pod's UID in /proc/PID/cgroup. Its
 * sandbox (`pause`, which lives as long as the pod) where it is seen, else its oldest process:
 * the first one found could be an agent's request or an agent about to exit, gone before nsenter
 * enters its namespace (in-cluster.test.ts saw that once, with the agent reverting on SIGTERM).
 */
export function podProcess(uid: string): number | undefined {
  const names = [uid, uid.replace(/-/g, "_")];
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      if (!names.some((n) => cgroup.includes(`pod${n}`))) continue;
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "pause") return pid;
      found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found.length === 0 ? undefined : Math.min(...found);
}

/**
 * What chaos-run left in a pod's network namespace, read from the host in that namespace (the
 * agent's image has no shell to look with): the CHAOS- lines of both iptables backends and the
 * nftables tables named CHAOS- (a partition's own table, which iptables cannot show).
 */
export async function chaosObjects(namespace: string, pod: string): Promise<string[]> {
  const uid = (await getPod(namespace, pod))?.metadata.uid ?? "";
  const pid = podProcess(uid);
  if (pid === undefined) throw new Error(`no process of pod ${namespace}/${pod} on this node`);
  const lines: string[] = [];
  for (const tool of ["iptables-nft", "iptables-legacy", "ip6tables-nft", "ip6tables-legacy"]) {
    const r = await run(["nsenter", "-t", String(pid), "-n", tool, "-w", "-S"]);
    if (r.code === 0) lines.push(...r.stdout.split("\n"));
  }
  // Debian's nft (test/lab/setup installs it): "table inet CHAOS-<id>" per table of the namespace
  const tables = await run(["nsenter", "-t", String(pid), "-n", "nft", "list", "tables"]);
  if (tables.code !== 0) throw new Error(`cannot list the nftables tables of ${namespace}/${pod}: ${tables.stderr}`);
  lines.push(...tables.stdout.split("\n").map((t) => `nft ${t}`));
  return lines.filter((l) => l.includes("CHAOS-"));
}
