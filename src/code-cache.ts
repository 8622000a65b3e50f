// CommonJS bundles run with their V8 code cache: `npm run build` bundles the fast-start verbs and
// the cluster adapter (scripts/bundle.mjs) and writes beside each FILE.cjs a FILE.cache made by
// this machine's node (scripts/warm-cache.mjs), so that a start skips most of parsing and
// compiling them. A cache from another node version is rejected by V8, which then compiles as
// usual; a bundle older than the module it was built from (tsc ran without bundle.mjs) is not used.
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { Script } from "node:vm";

export interface LoadedBundle {
  readonly exports: unknown;
  readonly script: Script;
}

/** Runs a CommonJS bundle file in this context, with its code cache when there is one. */
export function runBundle(file: string, source: string, cachedData: Buffer | undefined): LoadedBundle {
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapper, cachedData === undefined ? { filename: file } : { filename: file, cachedData });
  const fn: unknown = script.runInThisContext();
  if (typeof fn !== "function") throw new TypeError(`${file} did not evaluate to a module function`);
  const module = { exports: {} as unknown };
  const dir = file.slice(0, Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")));
  fn(module.exports, createRequire(file), module, file, dir);
  return { exports: module.exports, script };
}

/** The bundle `file` run (with FILE.cache when there is one); undefined when it is absent or older than `compiled`. */
export function loadFreshBundle(file: string, compiled: string): LoadedBundle | undefined {
  let source: string;
  try {
    if (statSync(file).mtimeMs < statSync(compiled).mtimeMs) return undefined;
    source = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(file.replace(/\.cjs$/, ".cache"));
  } catch {
    cache = undefined;
  }
  return runBundle(file, source, cache);
}
