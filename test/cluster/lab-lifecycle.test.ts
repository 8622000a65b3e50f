// lab:down leaves nothing behind — no process, mount, network namespace, veth, bridge, cgroup
// or containerd state of the lab, nothing in the host's firewall, the kernel tunables the
// kubelet changed put back — and lab:up is idempotent. The tier's other files share the lab,
// so this file brings it back up.
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kubectl, kubectlOk, labDir, labIsUp, repoRoot, run, waitReady } from "../support/lab.js";

const COMPONENTS = ["registry", "etcd", "apiserver", "controller-manager", "scheduler", "containerd", "kubelet", "prometheus"];

function componentPids(): number[] {
  return COMPONENTS.map((c) => join(labDir, "run", `${c}.pid`))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, "utf8")));
}

/**
 * `pgrep -f PATTERN` of this machine, without the kernel tier's lab, which `npm test` runs beside
 * this one: a UML kernel's processes are host processes of the linux.uml binary (with their own
 * command lines), and its console's reader names the run directory under .lab/uml-run.*.
 */
async function hostProcesses(pattern: string): Promise<string> {
  const pids = (await run(["pgrep", "-f", pattern])).stdout.split("\n").filter((p) => p !== "");
  return pids
    .filter((pid) => {
      try {
        if (readlinkSync(`/proc/${pid}/exe`).endsWith("/linux.uml")) return false;
        return !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(join(labDir, "uml-run."));
      } catch {
        return false; // gone meanwhile
      }
    })
    .join("\n");
}

/** Every process in the node's pod cgroups, in every hierarchy. */
function podProcesses(): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const sub = join(dir, e.name);
      try {
        for (const p of readFileSync(join(sub, "cgroup.procs"), "utf8").split("\n")) if (p !== "") pids.add(Number(p));
      } catch {
        // a cgroup that went away while we read
      }
      walk(sub);
    }
  };
  for (const top of kubepodsCgroups()) walk(top);
  return [...pids];
}

function kubepodsCgroups(): string[] {
  const out: string[] = [];
  for (const h of readdirSync("/sys/fs/cgroup")) {
    for (const name of ["kubepods", "kubepods.slice"]) {
      const d = h === name ? join("/sys/fs/cgroup", h) : join("/sys/fs/cgroup", h, name);
      if (existsSync(d)) out.push(d);
    }
  }
  return out;
}

/** A process as it was seen: its pid and its start time (in clock ticks since boot), which tells it from a later process given the same pid. */
interface Seen {
  readonly pid: number;
  readonly startTicks: string;
}

/** Field 22 of /proc/PID/stat (after the command's parenthesised name, which may hold spaces); undefined once the process is gone. */
function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const seen = (pid: number): Seen[] => {
  const startTicks = startTicksOf(pid);
  return startTicks === undefined ? [] : [{ pid, startTicks }];
};

/**
 * The processes of `before` still alive, each with its command line: the same pid *and* start
 * time. pid_max here is 32768 and the tiers beside this one start thousands of processes, so a
 * pid alone may be a new process by the time lab:down ends (CI on 5e25fa4 reported such a pid).
 */
function stillAlive(before: readonly Seen[]): string[] {
  return before
    .filter((p) => startTicksOf(p.pid) === p.startTicks)
    .map((p) => {
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      } catch {
        cmd = "(gone while read)";
      }
      return `${p.pid} ${cmd}`;
    });
}

describe("lab:down", () => {
  it("leaves nothing of the lab behind; lab:up brings it back, and is idempotent", async () => {
    expect(labIsUp()).toBe(true);
    const sysctlBefore = readFileSync(join(labDir, "run", "sysctl.saved"), "utf8");
    // a retry starts from a fresh pod
    await kubectl(["delete", "pod", "lifecycle", "-n", "default", "--ignore-not-found", "--wait=true", "--timeout=60s"]);
    await kubectlOk(["run", "lifecycle", "-n", "default", "--image", "nginx"]);
    await waitReady("default", "lifecycle", 60_000);
    // the components must be alive; a pod's process may end on its own meanwhile (an agent whose
    // TTL is over, a probe's command): those still alive are what down must leave nothing of
    const components = componentPids();
    expect(components).toHaveLength(COMPONENTS.length);
    const componentsSeen = components.flatMap(seen);
    expect(componentsSeen).toHaveLength(COMPONENTS.length);
    const pids = [...componentsSeen, ...podProcesses().flatMap(seen)];
    expect(pids.length - components.length).toBeGreaterThanOrEqual(2); // nginx's pause and nginx at least
    const shims = await hostProcesses("containerd-shim-runc-v2");
    expect(shims).not.toBe("");
    const podLinks = [...(await run(["ip", "-o", "link", "show", "master", "chaoslab0"])).stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]);
    expect(podLinks.length).toBeGreaterThanOrEqual(1);

    // Whatever is found left, or if down fails, the lab comes back up: the tier's other files need it, and with
    // the node's address gone from lo their requests would leave the machine.
    try {
      const down = await run([join(repoRoot, "test/lab/down")], { timeoutMs: 120_000 });
      expect(down.code, down.stderr).toBe(0);
      expect(stillAlive(pids)).toEqual([]);
      expect(await hostProcesses("containerd-shim-runc-v2")).toBe("");
      expect(await hostProcesses(labDir)).toBe("");
      // network: no pod namespaces, no veth, no bridge, no node address, no firewall chain
      expect((await run(["ip", "netns", "list"])).stdout).not.toMatch(/cni-/);
      const links = (await run(["ip", "-o", "link", "show"])).stdout;
      expect(links).not.toContain("chaoslab0");
      for (const l of podLinks) expect(links).not.toContain(`: ${l ?? "?"}@`);
      expect((await run(["ip", "-o", "addr", "show", "dev", "lo"])).stdout).not.toContain("198.19.255.1");
      for (const ipt of ["iptables", "ip6tables"]) {
        const all = (await run([ipt, "-w", "-S"])).stdout + (await run([ipt, "-w", "-t", "nat", "-S"])).stdout + (await run([ipt, "-w", "-t", "mangle", "-S"])).stdout;
        expect(all).not.toMatch(/CHAOSLAB|KUBE-/);
      }
      // mounts, cgroups, containerd's state
      // (mount points only: a CI machine that is itself a pod has its own kubelet's paths as sources)
      const mountPoints = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[4] ?? "");
      expect(mountPoints.filter((m) => m.startsWith(labDir) || m.startsWith("/run/containerd") || m.startsWith("/run/netns/cni-") || m.includes("kubelet"))).toEqual([]);
      expect(kubepodsCgroups()).toEqual([]);
      for (const d of ["containerd", "kubelet", "cni", "etcd", "pod-logs"]) expect(existsSync(join(labDir, d)), d).toBe(false);
      // the kernel tunables are the machine's again
      for (const line of sysctlBefore.trim().split("\n")) {
        const [name, value] = line.split(" ");
        expect(readFileSync(`/proc/sys/${name ?? ""}`, "utf8").trim(), name).toBe(value);
      }
    } finally {
      const up = await run([join(repoRoot, "test/lab/up")], { timeoutMs: 600_000 });
      expect(up.code, up.stderr).toBe(0);
    }
    const again = await run([join(repoRoot, "test/lab/up")], { timeoutMs: 600_000 });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already up/);
    const status = await run([join(repoRoot, "test/lab/status")]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/lab-node\s+Ready/);
  }, 900_000);
});
