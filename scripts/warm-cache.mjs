#!/usr/bin/env node
// Runs each bundled verb over real inputs, then writes its V8 code cache (functions compiled
// during the run are included); and the cluster adapter's, once it is loaded (what connecting
// compiles would need a cluster: its top level is what the cache holds). Invoked by
// scripts/bundle.mjs in a fresh process.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runBundle } from "../dist/code-cache.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sink = { write() {} };
const io = { stdout: sink, stderr: sink, stdoutIsTTY: false, stderrIsTTY: false, env: {}, cwd: root };
const WARMUPS = {
  validate: [["scenarios"], ["test/fixtures/invalid"], ["--format", "json", "scenarios", "test/fixtures/invalid"]],
  plan: [
    ["scenarios/nginx-latency.yaml", "--offline"],
    ["scenarios/half-the-fleet.yaml", "--offline", "--pods", "a,b,c", "--format", "json"],
    ["scenarios/db-partition.yaml", "--offline"],
    ["scenarios/lossy-link.yaml", "--offline"],
  ],
};
for (const verb of process.argv.slice(2)) {
  const file = resolve(root, `dist/cli/bundle/${verb}.cjs`);
  const { exports, script } = runBundle(file, readFileSync(file, "utf8"), undefined);
  for (const args of WARMUPS[verb] ?? []) {
    try {
      await exports.run({ args, io, debug: false, globals: { kubeconfig: undefined, context: undefined, namespace: undefined, debug: false } });
    } catch {
      // a missing fixture directory is fine: the cache just covers less
    }
  }
  writeFileSync(file.replace(/\.cjs$/, ".cache"), script.createCachedData());
}
const adapter = resolve(root, "dist/kube/client-node.bundle.cjs");
writeFileSync(adapter.replace(/\.cjs$/, ".cache"), runBundle(adapter, readFileSync(adapter, "utf8"), undefined).script.createCachedData());
