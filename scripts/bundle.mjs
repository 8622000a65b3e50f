#!/usr/bin/env node
// Build step (after tsc): bundles the fast-start verbs into dist/cli/bundle/VERB.cjs and makes
// a V8 code cache for each after a warm-up run over the catalog and the invalid fixtures (so
// the diagnostic paths are compiled too). src/cli/fast-load.ts loads them. Measured in
// bench/scenario.mjs: see docs/benchmarks.md. The cache is made by this machine's node;
// another node version rejects it and compiles as usual.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** Verbs bundled for a fast cold start. The others load through a plain dynamic import. */
export const FAST_VERBS = ["validate", "plan"];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(root, "dist/cli/bundle");
mkdirSync(outdir, { recursive: true });
for (const verb of FAST_VERBS) {
  await build({
    entryPoints: [resolve(root, `src/cli/${verb}.ts`)],
    outfile: resolve(outdir, `${verb}.cjs`),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    // yaml is required lazily, only to locate problems (src/scenario/document.ts)
    external: ["yaml"],
    define: { "import.meta.url": "__chaosModuleUrl" },
    banner: { js: 'const __chaosModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: "warning",
  });
}
// The cluster adapter with client-node inlined: one file loads in a fraction of the time
// client-node's many modules take (src/kube/index.ts loads it when it is fresh), and with its code
// cache in half of that again; CommonJS, as a code cache needs a vm.Script (src/code-cache.ts).
await build({
  entryPoints: [resolve(root, "src/kube/client-node.ts")],
  outfile: resolve(root, "dist/kube/client-node.bundle.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  define: { "import.meta.url": "__chaosModuleUrl" },
  banner: { js: 'const __chaosModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
});
rmSync(resolve(root, "dist/kube/client-node.bundle.mjs"), { force: true }); // what builds before this made
const warm = spawnSync(process.execPath, [resolve(root, "scripts/warm-cache.mjs"), ...FAST_VERBS], { cwd: root, stdio: "inherit" });
if (warm.status !== 0) process.exit(warm.status ?? 1);
chmodSync(resolve(root, "dist/cli/main.js"), 0o755);
