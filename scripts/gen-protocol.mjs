#!/usr/bin/env node
// Generates the runner's side of the agent protocol from schemas/agent-protocol.schema.json:
// src/faults/protocol.generated.ts (types) and src/faults/generated/validate-reply.js (a
// precompiled validator of the agent's Reply, also copied to dist/). `npm run build` runs it;
// test/unit/protocol-schema.test.ts fails when the committed copies are stale.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PROTOCOL_SCHEMA, TYPES_FILE, VALIDATOR_FILE, generateReplyValidatorSource, generateTypesSource } from "./protocol-source.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const schema = JSON.parse(readFileSync(resolve(root, PROTOCOL_SCHEMA), "utf8"));
const write = (file, text) => {
  const path = resolve(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
};
write(TYPES_FILE, await generateTypesSource(schema));
const validator = generateReplyValidatorSource(schema);
write(VALIDATOR_FILE, validator);
write(VALIDATOR_FILE.replace(/^src\//, "dist/"), validator);
