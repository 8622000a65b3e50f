// The ESM half of register.mjs, on the loader's own thread: each resolved URL, appended at once
// (synchronously, so that nothing is lost when the CLI exits).
import { appendFileSync } from "node:fs";

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (process.env.MODULE_TRACE !== undefined) appendFileSync(process.env.MODULE_TRACE, `${resolved.url}\n`);
  return resolved;
}
