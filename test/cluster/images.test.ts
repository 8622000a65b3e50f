// The images are built for real (buildah, from the repository's Dockerfiles on a
// locally debootstrapped debian:bookworm-slim) and the agent's self-check runs
// inside the built image.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { labDir, repoRoot, run } from "../support/lab.js";

const env = { ...process.env, STORAGE_DRIVER: "vfs", BUILDAH_ISOLATION: "chroot" };

async function inImage(image: string, argv: string[]): Promise<{ code: number; out: string }> {
  const from = await run(["buildah", "from", "--pull=never", image], { env });
  expect(from.code, from.stderr).toBe(0);
  const container = from.stdout.trim();
  try {
    const r = await run(["buildah", "run", "--isolation", "chroot", container, "--", ...argv], { env });
    return { code: r.code, out: r.stdout + r.stderr };
  } finally {
    await run(["buildah", "rm", container], { env });
  }
}

/** This checkout's images in buildah's storage, as test/lab/build-images named them. */
let images: Record<"chaos-agent" | "chaos-tools" | "nginx", string>;

beforeAll(async () => {
  const r = await run([join(repoRoot, "test/lab/build-images")], { timeoutMs: 15 * 60_000 });
  expect(r.code, r.stderr).toBe(0);
  images = JSON.parse(readFileSync(join(labDir, "images.json"), "utf8")) as typeof images;
}, 15 * 60_000);

describe("the chaos-agent image", () => {
  it("passes its self-check: iptables nft and legacy (what it still runs), netlink", async () => {
    const r = await inImage(images["chaos-agent"], ["chaos-agent", "selftest"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^iptables-nft: iptables v1\.8\.9 \(nf_tables\)/m);
    expect(r.out).toMatch(/^iptables-legacy: iptables v1\.8\.9 \(legacy\)/m);
    expect(r.out).toMatch(/^netlink: \d+ links$/m);
    expect(r.out).toMatch(/^nftables: /m);
    expect(r.out).toContain("selftest: ok");
  });

  it("holds nothing an intruder could use: no shell, no package manager, no tc, nft or ss (the agent speaks netlink)", async () => {
    for (const argv of [
      ["sh", "-c", "true"],
      ["bash", "-c", "true"],
      ["apt-get", "--version"],
      ["dpkg", "--version"],
      ["tc", "-V"],
      ["ip", "-V"],
      ["ss", "-V"],
      ["nft", "--version"],
    ]) {
      const r = await inImage(images["chaos-agent"], argv);
      expect(r.code, `${argv[0]}: ${r.out}`).not.toBe(0);
      expect(r.out).toMatch(/executable file not found/);
    }
  });

  it("runs chaos-agent as its entrypoint with serve as the default command", async () => {
    const r = await run(["buildah", "inspect", "--type", "image", "--format", "{{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.Cmd}}", images["chaos-agent"]], { env });
    expect(r.stdout.trim()).toBe("[chaos-agent] [serve]");
  });
});

describe("the chaos-tools image", () => {
  it("has ab and curl", async () => {
    expect((await inImage(images["chaos-tools"], ["ab", "-V"])).out).toContain("This is ApacheBench, Version 2.3");
    expect((await inImage(images["chaos-tools"], ["curl", "--version"])).out).toMatch(/^curl 7\.88/);
  });
});
