// lab:down leaves nothing behind — no process, network namespace, veth, bridge or mount — and
// lab:up is idempotent. The tier's other files share the lab, so this file brings it back up.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kubectlOk, labDir, labIsUp, repoRoot, run, waitReady } from "../support/lab.js";

function pidsOfLab(): number[] {
  const pids: number[] = [];
  for (const name of ["etcd", "apiserver", "kwok", "harness"]) {
    const f = join(labDir, "run", `${name}.pid`);
    if (existsSync(f)) pids.push(Number(readFileSync(f, "utf8")));
  }
  const pods = join(labDir, "pods");
  if (existsSync(pods)) {
    for (const uid of readdirSync(pods)) {
      for (const c of readdirSync(join(pods, uid))) {
        const f = join(pods, uid, c, "pid");
        if (existsSync(f)) pids.push(Number(readFileSync(f, "utf8")));
      }
    }
  }
  return pids;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("lab:down", () => {
  it("leaves no process, network namespace, veth, bridge or mount behind; lab:up brings it back", async () => {
    expect(labIsUp()).toBe(true);
    await kubectlOk(["run", "lifecycle", "-n", "default", "--image", "nginx"]);
    await waitReady("default", "lifecycle");
    const pids = pidsOfLab();
    expect(pids.length).toBeGreaterThanOrEqual(5); // 4 components and at least nginx
    expect(pids.every(alive)).toBe(true);

    const down = await run([join(repoRoot, "test/lab/down")], { timeoutMs: 60_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect((await run(["ip", "netns", "list"])).stdout).not.toMatch(/chaoslab-/);
    expect((await run(["ip", "-o", "link", "show"])).stdout).not.toMatch(/: (cl[0-9a-f]{10}|chaoslab0)[@:]/);
    expect(readFileSync("/proc/mounts", "utf8")).not.toMatch(/lab-run|lab-tmp|lab-private|chaoslab/);
    expect((await run(["pgrep", "-f", labDir])).stdout.trim()).toBe("");

    const up = await run([join(repoRoot, "test/lab/up")], { timeoutMs: 600_000 });
    expect(up.code, up.stderr).toBe(0);
    const again = await run([join(repoRoot, "test/lab/up")], { timeoutMs: 600_000 });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already up/);
    const status = await run([join(repoRoot, "test/lab/status")]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/lab-node\s+Ready/);
  }, 900_000);
});
