// The schema is the authority: the precompiled validator, the TypeScript types and the
// normaliser must stay in step with it.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ErrorObject } from "ajv";
import { createAjv, generateValidatorSource, validationSchema } from "../../scripts/validator-source.mjs";
import { validate as standalone } from "../../src/scenario/generated/validate-schema.js";
import { ParsedSource } from "../../src/scenario/document.js";
import { normalise } from "../../src/scenario/normalise.js";
import { validateSource } from "../../src/scenario/load.js";
import type { RawScenario } from "../../src/scenario/types.js";

type Schema = Record<string, unknown>;
const schema = JSON.parse(readFileSync("schemas/scenario.schema.json", "utf8")) as Schema;
const defs = schema["$defs"] as Record<string, Schema>;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join(dir, f));
}

describe("the precompiled validator", () => {
  it("is what the generator makes from the schema now (run `npm run build` after editing the schema)", () => {
    expect(readFileSync("src/scenario/generated/validate-schema.js", "utf8")).toBe(generateValidatorSource(schema));
  });

  it("gives the same errors as ajv compiling the schema at run time", () => {
    const runtime = createAjv().compile(validationSchema(schema));
    const view = (errors: ErrorObject[] | null | undefined) => (errors ?? []).map((e) => ({ i: e.instancePath, s: e.schemaPath, k: e.keyword, p: e.params }));
    const files = [...yamlFiles("scenarios"), ...yamlFiles("test/fixtures/invalid"), ...yamlFiles("test/fixtures/valid")];
    let compared = 0;
    for (const file of files) {
      const source = new ParsedSource(file, readFileSync(file, "utf8"));
      if (!source.readable) continue;
      const a = standalone(source.data);
      const b = runtime(source.data);
      expect({ file, valid: a, errors: view(standalone.errors) }).toEqual({ file, valid: b, errors: view(runtime.errors) });
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  });
});

// ---- schema ↔ normaliser: every property the schema declares is read by the normaliser, and
// the normaliser reads nothing else (paths like steps[].fault.netem.delay, probes.*.ab.url)

function expand(s: unknown, out: Schema[] = []): Schema[] {
  if (typeof s !== "object" || s === null) return out;
  const node = s as Schema;
  const ref = node["$ref"];
  if (typeof ref === "string") expand(defs[ref.replace("#/$defs/", "")], out);
  out.push(node);
  for (const b of (node["anyOf"] as unknown[] | undefined) ?? []) expand(b, out);
  return out;
}

function schemaPaths(): { paths: Set<string>; undescribed: string[] } {
  const paths = new Set<string>();
  const undescribed: string[] = [];
  const walk = (s: unknown, path: string, depth: number): void => {
    if (depth > 12) return;
    for (const node of expand(s)) {
      for (const [key, sub] of Object.entries((node["properties"] as Record<string, unknown> | undefined) ?? {})) {
        const p = path === "" ? key : `${path}.${key}`;
        paths.add(p);
        const described = expand(sub).some((x) => typeof x["description"] === "string");
        if (!described && !undescribed.includes(p)) undescribed.push(p);
        walk(sub, p, depth + 1);
      }
      const additional = node["additionalProperties"];
      if (typeof additional === "object" && additional !== null) {
        const p = `${path}.*`;
        paths.add(p);
        walk(additional, p, depth + 1);
      }
      if (node["items"] !== undefined) walk(node["items"], `${path}[]`, depth + 1);
    }
  };
  walk(schema, "", 0);
  return { paths, undescribed };
}

/** The pattern of a concrete data path: array indexes → [], map keys → * (as the schema says). */
function patternOf(segments: readonly (string | number)[]): string {
  let candidates = expand(schema);
  let out = "";
  for (const seg of segments) {
    const next: Schema[] = [];
    let piece = "";
    for (const c of candidates) {
      const props = c["properties"] as Record<string, unknown> | undefined;
      if (typeof seg === "string" && props?.[seg] !== undefined) {
        piece = `.${seg}`;
        next.push(...expand(props[seg]));
      } else if (typeof seg === "string" && typeof c["additionalProperties"] === "object") {
        piece ||= ".*";
        next.push(...expand(c["additionalProperties"]));
      } else if (typeof seg === "number" && c["items"] !== undefined) {
        piece = "[]";
        next.push(...expand(c["items"]));
      }
    }
    if (piece === "") return `${out}.${String(seg)} (not in the schema)`;
    out += piece;
    candidates = next;
  }
  return out.replace(/^\./, "");
}

/** Wraps data so every property read (get, has, keys) is recorded as a pattern path. */
function recording(data: unknown, reads: Set<string>, path: (string | number)[] = []): unknown {
  if (typeof data !== "object" || data === null) return data;
  return new Proxy(data, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || prop === "length" || typeof value === "function") return value;
      const seg = Array.isArray(target) ? Number(prop) : prop;
      if (Array.isArray(target) && !Number.isInteger(seg)) return value;
      const child = [...path, seg];
      if (!Array.isArray(target)) reads.add(patternOf(child));
      return recording(value, reads, child);
    },
    has(target, prop) {
      if (typeof prop === "string" && !Array.isArray(target)) reads.add(patternOf([...path, prop]));
      return Reflect.has(target, prop);
    },
  });
}

function presentPaths(data: unknown, path: (string | number)[] = [], out = new Set<string>()): Set<string> {
  if (Array.isArray(data)) {
    for (const [i, v] of data.entries()) presentPaths(v, [...path, i], out);
  } else if (typeof data === "object" && data !== null) {
    for (const [k, v] of Object.entries(data)) {
      out.add(patternOf([...path, k]));
      presentPaths(v, [...path, k], out);
    }
  }
  return out;
}

describe("schema, types and normaliser stay in step", () => {
  const { paths, undescribed } = schemaPaths();
  const files = yamlFiles("test/fixtures/valid");

  it("every property in the schema has a description (editors show them)", () => {
    expect(undescribed).toEqual([]);
  });

  it("the valid fixtures use every property of the schema", () => {
    const used = new Set<string>();
    for (const file of files) {
      const r = validateSource(file, readFileSync(file, "utf8"));
      expect(r.diagnostics).toEqual([]);
      for (const p of presentPaths(r.source.data)) used.add(p);
    }
    expect([...paths].filter((p) => !used.has(p)).sort()).toEqual([]);
    expect([...used].filter((p) => !paths.has(p)).sort()).toEqual([]);
  });

  it("the normaliser reads every property present, and only schema properties", () => {
    for (const file of files) {
      const r = validateSource(file, readFileSync(file, "utf8"));
      const reads = new Set<string>();
      normalise(recording(r.source.data, reads) as RawScenario);
      const present = presentPaths(r.source.data);
      expect({ file, unread: [...present].filter((p) => !reads.has(p)).sort() }).toEqual({ file, unread: [] });
      expect({ file, unknown: [...reads].filter((p) => !paths.has(p)).sort() }).toEqual({ file, unknown: [] });
    }
  });
});
