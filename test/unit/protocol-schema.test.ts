// The agent protocol's schema is the contract: the runner's types and its Reply validator are
// generated from it, and must not drift from it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROTOCOL_SCHEMA, TYPES_FILE, VALIDATOR_FILE, generateReplyValidatorSource, generateTypesSource } from "../../scripts/protocol-source.mjs";
import { validateReply } from "../../src/faults/generated/validate-reply.js";

const schema: unknown = JSON.parse(readFileSync(PROTOCOL_SCHEMA, "utf8"));

describe("the generated protocol files", () => {
  it("the types are what the generator makes from the schema now (run `npm run build` after editing the schema)", async () => {
    expect(readFileSync(TYPES_FILE, "utf8")).toBe(await generateTypesSource(schema));
  });
  it("the Reply validator is what the generator makes from the schema now", () => {
    expect(readFileSync(VALIDATOR_FILE, "utf8")).toBe(generateReplyValidatorSource(schema));
  });
  it("the validator accepts a reply of the schema and rejects one of another shape", () => {
    const reply = { protocol: 1, op: "status", ok: true, agent: { name: "chaos-agent-r1", runId: "r1", version: "1.0.0", ttlLeftMs: 1000 }, commands: [] };
    expect(validateReply(reply)).toBe(true);
    expect(validateReply({ ...reply, protocol: 2 })).toBe(false);
    expect(validateReply({ ...reply, agent: { ...reply.agent, ttlLeftMs: -1 } })).toBe(false);
    expect(validateReply({ ...reply, extra: 1 })).toBe(false);
    expect(validateReply.errors?.[0]).toMatchObject({ keyword: "additionalProperties", params: { additionalProperty: "extra" } });
  });
});
