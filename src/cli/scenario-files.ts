// The scenario files that FILE|DIR arguments name (validate, run): a directory is searched,
// recursively and sorted, for *.yaml and *.yml.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";

const SCENARIO_FILE = /\.ya?ml$/i;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Files under a directory, sorted, deterministic; hidden entries and node_modules skipped. */
export function walkScenarioFiles(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => compare(a.name, b.name));
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkScenarioFiles(path));
    else if (e.isFile() && SCENARIO_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/** Expands FILE|DIR arguments into files, in argument order; a missing path stays (and is reported). */
export function expandPaths(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir) {
      const found = walkScenarioFiles(p);
      if (found.length === 0) throw new UsageError(`no *.yaml or *.yml files in ${p}`);
      files.push(...found);
    } else files.push(p);
  }
  return files;
}
