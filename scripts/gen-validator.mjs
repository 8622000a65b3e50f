#!/usr/bin/env node
// Precompiles schemas/scenario.schema.json into a standalone ajv validator (an ES module with no
// ajv import), so the CLI never compiles the schema at run time (cold start, see docs/benchmarks.md).
// Usage: node scripts/gen-validator.mjs [OUT...]   (default: both places listed below)
// `npm run build` runs it; test/unit/schema-standalone.test.ts fails when the committed copy
// in src/ is stale, and compares its errors with a runtime-compiled validator.
// Without OUT it also writes the journal schema's validator, for compare (journal-validator-source.mjs).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateJournalValidatorSource } from "./journal-validator-source.mjs";
import { generateValidatorSource } from "./validator-source.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const schema = JSON.parse(readFileSync(resolve(root, "schemas/scenario.schema.json"), "utf8"));
const outs = process.argv.slice(2);
const targets = outs.length > 0 ? outs : ["src/scenario/generated/validate-schema.js", "dist/scenario/generated/validate-schema.js"];
const source = generateValidatorSource(schema);
for (const out of targets) {
  const path = resolve(root, out);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, source);
}
if (outs.length === 0) {
  const journal = generateJournalValidatorSource(JSON.parse(readFileSync(resolve(root, "schemas/journal.schema.json"), "utf8")));
  for (const out of ["src/compare/generated/validate-journal.js", "dist/compare/generated/validate-journal.js"]) {
    mkdirSync(dirname(resolve(root, out)), { recursive: true });
    writeFileSync(resolve(root, out), journal);
  }
}
