// The cluster tier needs the lab: bring it up unless it already runs (a developer's
// `npm run lab:up`), and take down only what this run brought up.
import { labIsUp, repoRoot, run } from "../support/lab.js";
import { join } from "node:path";

let broughtUp = false;

export async function setup(): Promise<void> {
  if (labIsUp()) return;
  const r = await run([join(repoRoot, "test/lab/up")], { timeoutMs: 60 * 60_000 });
  if (r.code !== 0) throw new Error(`the lab did not come up:\n${r.stderr}${r.stdout}`);
  broughtUp = true;
}

export async function teardown(): Promise<void> {
  if (!broughtUp) return;
  const r = await run([join(repoRoot, "test/lab/down"), "--quiet"], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`lab down failed:\n${r.stderr}`);
}
