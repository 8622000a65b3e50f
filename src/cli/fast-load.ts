// Cold start for the verbs that must start fast (validate, plan): `npm run build` bundles each
// into dist/cli/bundle/VERB.cjs (scripts/bundle.mjs) together with a V8 code cache made after a
// warm-up run, and this loader runs the bundle with that cache (src/code-cache.ts). Anywhere the
// bundle is absent (tests from src/, a build without bundles) the verb's module is imported as
// usual.
import { fileURLToPath } from "node:url";
import { loadFreshBundle } from "../code-cache.js";
import type { VerbModule } from "./io.js";

function bundlePath(name: string): string {
  return fileURLToPath(new URL(`./bundle/${name}.cjs`, import.meta.url));
}

export function isVerbModule(v: unknown): v is VerbModule {
  return typeof v === "object" && v !== null && "run" in v && typeof v.run === "function";
}

/** Loads a verb: its code-cached bundle when built, else `fallback()` (a plain dynamic import). */
export async function loadVerb(name: string, fallback: () => Promise<VerbModule>): Promise<VerbModule> {
  const file = bundlePath(name);
  const exports = loadFreshBundle(file, fileURLToPath(new URL(`./${name}.js`, import.meta.url)))?.exports;
  if (exports === undefined) return fallback();
  if (!isVerbModule(exports)) throw new TypeError(`${file} does not export run()`);
  return exports;
}
