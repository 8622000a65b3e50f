#!/usr/bin/env node
// docs/scenario-reference.md, generated from the descriptions of schemas/scenario.schema.json —
// the schema is the one authority on the scenario language, as Kubernetes' API reference is
// generated from its OpenAPI. `npm run docs` writes it; test/unit/docs.test.ts fails when the
// file in the repository is not what this renders.
//
// Layout: one section per object the language has, titled by where it stands in a scenario
// (`steps[].fault.http`); a table of its fields (type, required, what the description says);
// value types (duration, percent, size…) once at the end, linked from every field that takes one.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REF = "#/$defs/";
const ROOT = "the scenario file";

/** A section's heading: a path into the scenario in code type, the root in words. */
function heading(title) {
  return title === ROOT ? "The scenario file" : `\`${title}\``;
}

/** A slug GitHub's Markdown gives a heading: lower case, spaces to '-', punctuation but '-' and '_' dropped. */
function anchor(title) {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

function defName(schema) {
  return typeof schema?.$ref === "string" && schema.$ref.startsWith(REF) ? schema.$ref.slice(REF.length) : undefined;
}

/** A table cell: one line, pipes escaped. */
function cell(text) {
  return String(text).replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function isObjectSchema(s) {
  return s !== undefined && (s.type === "object" || s.properties !== undefined) && s.properties !== undefined && Object.keys(s.properties).length > 0;
}

class Renderer {
  constructor(schema) {
    this.schema = schema;
    this.defs = schema.$defs ?? {};
    /** object sections queued while the current one renders: its children, rendered right after it */
    this.queued = [];
    /** every section's title, in the order they are printed (the table of contents) */
    this.titles = [];
    /** def name (or inline object schema) → title of the section that describes it */
    this.placed = new Map();
    /** value types (defs that are not objects) that some field uses */
    this.values = new Set();
  }

  resolve(s) {
    const name = defName(s);
    return name === undefined ? s : { ...this.defs[name], ...s, $ref: undefined, description: s.description ?? this.defs[name]?.description };
  }

  /** Queues an object schema's section (once per def), returning its title. */
  place(title, s) {
    // a def is placed once; so is an inline object, which a def's anyOf shares wherever the def is used
    const key = defName(s) ?? s;
    if (this.placed.has(key)) return this.placed.get(key);
    this.placed.set(key, title);
    this.queued.push({ title, schema: this.resolve(s) });
    return title;
  }

  /** The type of a field in words, linking what has a section of its own. */
  type(path, s) {
    const name = defName(s);
    if (name !== undefined) {
      const def = this.defs[name];
      if (isObjectSchema(def)) return `[object](#${anchor(this.place(path, s))})`;
      if (def.anyOf === undefined && def.additionalProperties === undefined) {
        this.values.add(name);
        return `[${name}](#${anchor(name)})`;
      }
      return this.type(path, { ...def, description: undefined });
    }
    if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
    if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${v}\``).join(" | ");
    if (Array.isArray(s.anyOf)) return s.anyOf.map((alt) => this.type(this.formPath(path, s.anyOf, alt), alt)).join(" or ");
    if (s.type === "array") return `list of ${this.type(`${path}[]`, s.items ?? {})}`;
    if (isObjectSchema(s)) return `[object](#${anchor(this.place(path, s))})`;
    if (s.type === "object" && typeof s.additionalProperties === "object")
      return `map of name → ${this.type(`${path}.${s.propertyNames?.pattern?.includes("\\.") ? "METRIC" : "NAME"}`, s.additionalProperties)}`;
    if (Array.isArray(s.type)) return s.type.join(" or ");
    return s.type ?? "any";
  }

  /** Where one alternative of an anyOf stands: the path itself, or `path {key}` when several alternatives are objects. */
  formPath(path, alternatives, alt) {
    const objects = alternatives.filter((a) => isObjectSchema(this.resolve(a)));
    if (objects.length < 2 || !objects.includes(alt)) return path;
    const key = this.resolve(alt).required?.[0] ?? Object.keys(this.resolve(alt).properties)[0];
    return `${path} {${key}}`;
  }

  /** Bounds the schema states, in words (patterns are left to the value types' descriptions). */
  bounds(s) {
    const out = [];
    if (s.minimum !== undefined && s.maximum !== undefined) out.push(`${s.minimum}–${s.maximum}`);
    else if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
    else if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
    if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
    if (s.minItems !== undefined && s.minItems > 0) out.push(`at least ${s.minItems} item${s.minItems > 1 ? "s" : ""}`);
    if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`);
    return out.length > 0 ? ` (${out.join(", ")})` : "";
  }

  section({ title, schema }) {
    const required = new Set(schema.required ?? []);
    const rows = Object.entries(schema.properties).map(([key, raw]) => {
      const s = this.resolve(raw);
      const type = this.type(title === ROOT ? key : `${title}.${key}`, raw);
      const description = raw.description ?? (defName(raw) !== undefined && isObjectSchema(this.defs[defName(raw)]) ? "See the section." : (s.description ?? ""));
      return `| \`${key}\` | ${cell(type)}${cell(this.bounds(s))} | ${required.has(key) ? "yes" : ""} | ${cell(description)} |`;
    });
    const lines = [`### ${heading(title)}`, ""];
    if (schema.description !== undefined) lines.push(schema.description, "");
    lines.push("| Field | Type | Required | Description |", "|---|---|---|---|", ...rows, "");
    return lines.join("\n");
  }

  /** A section and, right after it, the sections of the objects it holds (depth first). */
  renderTree(entry, out) {
    this.titles.push(entry.title);
    const before = this.queued;
    this.queued = [];
    out.push(this.section(entry));
    const children = this.queued;
    this.queued = before;
    for (const child of children) this.renderTree(child, out);
  }

  render() {
    const body = [];
    this.renderTree({ title: ROOT, schema: this.schema }, body);
    const values = [...this.values].sort().map((name) => {
      const def = this.defs[name];
      const pattern = def.pattern !== undefined ? `\n\nPattern: \`${def.pattern}\`` : "";
      return `### ${name}\n\n${def.description ?? ""}${pattern}\n`;
    });
    const toc = this.titles.map((t) => `- [${heading(t)}](#${anchor(t)})`);
    return [
      "# Scenario reference",
      "",
      "<!-- Generated from schemas/scenario.schema.json by `npm run docs` (scripts/gen-docs.mjs). Do not edit: change the schema's descriptions and regenerate. -->",
      "",
      `${this.schema.description ?? ""} Its JSON Schema is \`schemas/scenario.schema.json\` (${this.schema.$id ?? ""}); editors that speak yaml-language-server complete and check a scenario with it (\`# yaml-language-server: $schema=…\`).`,
      "",
      "## Objects",
      "",
      ...toc,
      "",
      ...body,
      "## Value types",
      "",
      ...values,
    ].join("\n");
  }
}

/** The reference for a schema (a parsed JSON Schema object). */
export function renderScenarioReference(schema) {
  return new Renderer(schema).render();
}

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const referencePath = join(root, "docs", "scenario-reference.md");

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const schema = JSON.parse(readFileSync(join(root, "schemas", "scenario.schema.json"), "utf8"));
  writeFileSync(referencePath, renderScenarioReference(schema));
  console.log(`wrote ${referencePath}`);
}
