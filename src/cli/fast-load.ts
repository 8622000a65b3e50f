// Cold start for the verbs that must start fast (validate, plan): `npm run build` bundles each
// into dist/cli/bundle/VERB.cjs (scripts/bundle.mjs) together with a V8 code cache made after a
// warm-up run, and this loader runs the bundle with that cache, skipping most parsing and
// compiling. Anywhere the bundle is absent (tests from src/, a build without bundles) the
// verb's module is imported as usual; a cache from another node version is simply rejected by V8.
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import type { VerbModule } from "./io.js";

export interface LoadedBundle {
  readonly exports: unknown;
  readonly script: Script;
}

function bundlePath(name: string): string {
  return fileURLToPath(new URL(`./bundle/${name}.cjs`, import.meta.url));
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

export function isVerbModule(v: unknown): v is VerbModule {
  return typeof v === "object" && v !== null && "run" in v && typeof v.run === "function";
}

/** Loads a verb: its code-cached bundle when built, else `fallback()` (a plain dynamic import). */
export async function loadVerb(name: string, fallback: () => Promise<VerbModule>): Promise<VerbModule> {
  const file = bundlePath(name);
  let source: string;
  try {
    // a bundle older than the compiled module beside it is stale (tsc ran without bundle.mjs)
    const compiled = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
    if (statSync(file).mtimeMs < statSync(compiled).mtimeMs) return await fallback();
    source = readFileSync(file, "utf8");
  } catch {
    return fallback();
  }
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(file.replace(/\.cjs$/, ".cache"));
  } catch {
    cache = undefined;
  }
  const { exports } = runBundle(file, source, cache);
  if (!isVerbModule(exports)) throw new TypeError(`${file} does not export run()`);
  return exports;
}
