// `node --import ./register.mjs …`: every module the process resolves, ESM and CommonJS, is
// appended to the file $MODULE_TRACE, one a line (cli-lazy.test.ts reads it).
import { appendFileSync } from "node:fs";
import Module, { register } from "node:module";

const trace = process.env.MODULE_TRACE;
if (trace !== undefined) {
  register("./hooks.mjs", import.meta.url);
  // require() (the code-cached bundles of dist/cli/bundle, their createRequire) resolves here
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (...args) {
    const file = resolveFilename.apply(this, args);
    appendFileSync(trace, `${file}\n`);
    return file;
  };
}
