// The bundles' V8 code caches (src/code-cache.ts): a bundle runs with the cache beside it, which
// this node accepts; a stale or absent bundle is not used (the caller imports the module itself).
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadFreshBundle, runBundle } from "../../src/code-cache.js";

function bundleDir(): { dir: string; file: string; compiled: string } {
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-code-cache-"));
  const compiled = join(dir, "module.js");
  writeFileSync(compiled, "// what the bundle was built from\n");
  const file = join(dir, "module.bundle.cjs");
  writeFileSync(file, 'const path = require("node:path");\nfunction twice(x) { return 2 * x; }\nmodule.exports = { twice, base: path.basename(__filename) };\n');
  return { dir, file, compiled };
}

describe("a bundle with its code cache", () => {
  it("runs with the cache made of it, and V8 takes the cache", () => {
    const { file, compiled } = bundleDir();
    const first = loadFreshBundle(file, compiled);
    if (first === undefined) throw new Error("a fresh bundle was not loaded");
    writeFileSync(file.replace(/\.cjs$/, ".cache"), first.script.createCachedData());
    const cached = loadFreshBundle(file, compiled);
    expect(cached?.script.cachedDataRejected).toBe(false);
    const exports = cached?.exports as { twice: (x: number) => number; base: string };
    expect(exports.twice(21)).toBe(42);
    expect(exports.base).toBe("module.bundle.cjs");
  });

  it("a cache of other source is rejected, and the bundle still runs", () => {
    const { file, compiled } = bundleDir();
    writeFileSync(file.replace(/\.cjs$/, ".cache"), runBundle(file, "module.exports = 1;", undefined).script.createCachedData());
    const loaded = loadFreshBundle(file, compiled);
    if (loaded === undefined) throw new Error("a fresh bundle was not loaded");
    expect(loaded.script.cachedDataRejected).toBe(true);
    expect((loaded.exports as { twice: (x: number) => number }).twice(2)).toBe(4);
  });

  it("is not used when older than the module it was built from, or absent", () => {
    const { dir, file, compiled } = bundleDir();
    const past = new Date(Date.now() - 60_000);
    utimesSync(file, past, past);
    expect(loadFreshBundle(file, compiled)).toBeUndefined();
    expect(loadFreshBundle(join(dir, "none.cjs"), compiled)).toBeUndefined();
  });
});
