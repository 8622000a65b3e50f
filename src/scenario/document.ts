// YAML with source positions. Two parsers, one meaning (YAML 1.2 core schema):
//  - the fast path turns a file into data with js-yaml (CORE_SCHEMA), several times faster than
//    building a Document; a valid file never needs more;
//  - the yaml library's Document (parseDocument + LineCounter, prettyErrors: false) is built
//    whenever something must be located: every diagnostic, every parse failure, every alias (alias
//    bombs are bounded by maxAliasCount there). Its YAML errors are the ones reported.
// yaml is loaded with a synchronous require only when needed (cold start). The fuzz test checks
// that both parsers give the same data wherever js-yaml accepts a file.
import { createRequire } from "node:module";
import jsyaml from "js-yaml";
import type { Document, LineCounter, Node, Pair } from "yaml";
import { diagnostic } from "./diagnostics.js";
import type { Diagnostic, Span } from "./diagnostics.js";

type YamlModule = typeof import("yaml");
let yamlModule: YamlModule | undefined;
/** The yaml library, loaded on first use. */
export function yamlLib(): YamlModule {
  yamlModule ??= createRequire(import.meta.url)("yaml") as YamlModule;
  return yamlModule;
}

/** Alias expansions allowed when turning the document into data (alias bombs stop here). */
export const MAX_ALIAS_COUNT = 100;
/** Largest scenario file read, in characters. */
export const MAX_SOURCE_LENGTH = 1024 * 1024;

/**
 * An alias (`*name`), anchor (`&name`) or tag (`!tag`), a number the two parsers read
 * differently (1e3, 1_000, 0b1), or a lone carriage return (a line break to one parser, not to
 * the other), anywhere, even quoted: those files take the yaml library's path.
 */
const NEEDS_FULL_PARSE = /(^|[\s[{,:-])[*!&][^\s,[\]{}]|[0-9][eE][-+]?[0-9]|[0-9]_|_[0-9]|0b[01]|\r(?!\n)/;

export type Segment = string;

export function parsePointer(pointer: string): Segment[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The value at a pointer's segments in plain data; undefined where the path runs out. */
export function valueAt(data: unknown, segments: readonly Segment[]): unknown {
  let cur: unknown = data;
  for (const s of segments) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (typeof cur === "object" && cur !== null) cur = (cur as Record<string, unknown>)[s];
    else return undefined;
  }
  return cur;
}

export function joinPointer(base: string, ...segments: (string | number)[]): string {
  let out = base;
  for (const s of segments) out += `/${String(s).replace(/~/g, "~0").replace(/\//g, "~1")}`;
  return out;
}

export type LocateMode =
  /** the value (a scalar's text, a collection's first line) */
  | "value"
  /** the key naming the value (for unknown keys, and keys that need or exclude another) */
  | "key"
  /** an object as a whole (for missing keys): its key in the parent, else its first key */
  | "object";

export interface Located extends Span {
  readonly path: string;
}

/** Parses with js-yaml; undefined when it refuses (then the yaml library decides and explains). */
export function fastParse(text: string): { data: unknown } | undefined {
  if (NEEDS_FULL_PARSE.test(text)) return undefined;
  let data: unknown;
  try {
    // an empty document is null, as the yaml library reads it
    data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, json: false }) ?? null;
  } catch {
    return undefined;
  }
  // collection keys are stringified differently by the two parsers: let yaml read those files
  return plainKeys(data, 0) ? { data } : undefined;
}

const PLAIN_KEY = /^[A-Za-z0-9_./-]*$/;

/** Every mapping key is plain (scenario keys always are), and the nesting is not absurd. */
function plainKeys(data: unknown, depth: number): boolean {
  if (typeof data !== "object" || data === null) return true;
  if (depth > 64) return false;
  if (Array.isArray(data)) return data.every((v) => plainKeys(v, depth + 1));
  for (const [k, v] of Object.entries(data)) if (!PLAIN_KEY.test(k) || !plainKeys(v, depth + 1)) return false;
  return true;
}

export class ParsedSource {
  private document: Document.Parsed | undefined;
  private counter: LineCounter | undefined;
  private full = false;
  /** the document as plain data; undefined when it could not be read (see diagnostics) */
  data: unknown;
  /** YAML-level diagnostics (syntax, duplicate keys, alias limit, warnings) */
  diagnostics: Diagnostic[] = [];

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    if (text.length > MAX_SOURCE_LENGTH) {
      this.data = undefined;
      this.diagnostics.push(diagnostic(file, "file-too-large", { limit: "1 MiB" }, { path: "", start: 0, end: 0 }, "a scenario is a small YAML file"));
      this.full = true;
      return;
    }
    const fast = fastParse(text);
    if (fast !== undefined) this.data = fast.data;
    else this.parseFully();
  }

  /** True when the data can be trusted for schema and semantic checks. */
  get readable(): boolean {
    return !this.diagnostics.some((d) => d.severity === "error");
  }

  /** The yaml Document, built on first use (it is what locates problems). */
  get doc(): Document.Parsed | undefined {
    if (!this.full) this.parseFully();
    return this.document;
  }

  /** Line starts of the text, when the yaml library has parsed it. */
  get lineStarts(): readonly number[] | undefined {
    return this.counter?.lineStarts;
  }

  /**
   * Builds the Document with the yaml library and takes its verdict: YAML errors become the
   * diagnostics and the data is its toJS(). Idempotent.
   */
  parseFully(): void {
    if (this.full) return;
    this.full = true;
    const file = this.file;
    const text = this.text;
    const yaml = yamlLib();
    const counter = new yaml.LineCounter();
    this.counter = counter;
    let doc: Document.Parsed;
    try {
      doc = yaml.parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true, strict: true, logLevel: "error" });
    } catch (e) {
      // stack exhaustion on absurd nesting, and anything else the parser throws
      this.data = undefined;
      this.diagnostics = [diagnostic(file, "yaml-too-deep", { detail: errorText(e) }, { path: "", start: 0, end: 0 })];
      return;
    }
    this.document = doc;
    const diags: Diagnostic[] = [];
    const seen = new Set<number>();
    for (const e of doc.errors) {
      // one syntax error per place: the parser often explains one mistake twice
      if (seen.has(e.pos[0])) continue;
      seen.add(e.pos[0]);
      const start = Math.min(e.pos[0], text.length);
      const span = { path: "", start, end: Math.min(text.length, Math.max(start, e.pos[1])) };
      if (e.code === "DUPLICATE_KEY") {
        const key = /^\s*("[^"\n]*"|'[^'\n]*'|[^:\n]*?)\s*:/.exec(text.slice(span.start))?.[1] ?? text.slice(span.start, span.end);
        diags.push(
          diagnostic(file, "yaml-duplicate-key", { key: key.trim() || "?" }, { path: "", start: span.start, end: Math.min(text.length, span.start + Math.max(1, key.length)) }, "remove one of them"),
        );
      } else {
        diags.push(diagnostic(file, "yaml-syntax", { detail: firstLine(e.message) }, span, yamlHint(e.code)));
      }
    }
    for (const w of doc.warnings) {
      const start = Math.min(w.pos[0], text.length);
      diags.push(diagnostic(file, "yaml-warning", { detail: firstLine(w.message) }, { path: "", start, end: Math.min(text.length, Math.max(start, w.pos[1])) }));
    }
    this.diagnostics = diags;
    if (doc.errors.length > 0) {
      this.data = undefined;
      return;
    }
    try {
      this.data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      this.data = undefined;
      const isAliasBomb = e instanceof ReferenceError && /alias/i.test(e.message);
      this.diagnostics.push(
        isAliasBomb
          ? diagnostic(file, "yaml-alias-limit", { limit: MAX_ALIAS_COUNT }, { path: "", start: 0, end: 0 }, "write the values out instead of nesting aliases")
          : diagnostic(file, "yaml-too-deep", { detail: errorText(e) }, { path: "", start: 0, end: 0 }),
      );
    }
  }

  /** The span of what `pointer` names; when the path runs out, the nearest node that exists. */
  locate(pointer: string, mode: LocateMode = "value"): Located {
    const yaml = yamlLib();
    const { isMap, isScalar, isSeq } = yaml;
    const contents = this.doc?.contents;
    if (contents === undefined || contents === null) return { path: pointer, start: 0, end: 0 };
    const segments = parsePointer(pointer);
    let node: Node = contents;
    let viaPair: Pair | undefined;
    let complete = true;
    for (const seg of segments) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
        if (pair === undefined) {
          complete = false;
          break;
        }
        if (!isNodeLike(pair.value)) {
          // `key:` with no value: the key is the best place
          return { path: pointer, ...this.keySpan(pair) };
        }
        viaPair = pair;
        node = pair.value;
      } else if (isSeq(node)) {
        const index = /^[0-9]+$/.test(seg) ? Number(seg) : -1;
        const item = node.items[index];
        if (!isNodeLike(item)) {
          complete = false;
          break;
        }
        viaPair = undefined;
        node = item;
      } else {
        complete = false;
        break;
      }
    }
    if (complete && mode === "key" && viaPair !== undefined) return { path: pointer, ...this.keySpan(viaPair) };
    if (mode === "object" || !complete) {
      if (viaPair !== undefined && complete) return { path: pointer, ...this.keySpan(viaPair) };
      if (isMap(node)) {
        const first = node.items[0];
        if (first !== undefined && isScalar(first.key)) return { path: pointer, ...this.keySpan(first) };
      }
      if (!complete && viaPair !== undefined) return { path: pointer, ...this.keySpan(viaPair) };
    }
    return { path: pointer, ...this.nodeSpan(node) };
  }

  private keySpan(pair: Pair): Span {
    const key = pair.key;
    if (isNodeLike(key) && key.range) return { start: key.range[0], end: key.range[1] };
    return { start: 0, end: 0 };
  }

  private nodeSpan(node: Node): Span {
    const range = node.range;
    if (!range) return { start: 0, end: 0 };
    const [start, valueEnd] = range;
    const yaml = yamlLib();
    if (yaml.isScalar(node) || yaml.isAlias(node)) return { start, end: valueEnd };
    // a collection: its first line only
    const nl = this.text.indexOf("\n", start);
    return { start, end: nl < 0 || nl > valueEnd ? valueEnd : nl };
  }

  /** The span of `{{ … }}`-like text inside a scalar, when the scalar's source contains it verbatim. */
  locateInScalar(pointer: string, needle: string): Located {
    const at = this.locate(pointer, "value");
    const index = this.text.slice(at.start, at.end).indexOf(needle);
    if (index < 0) return at;
    return { path: pointer, start: at.start + index, end: at.start + index + needle.length };
  }
}

function isNodeLike(v: unknown): v is Node {
  return typeof v === "object" && v !== null && "range" in v;
}

function firstLine(message: string): string {
  const line = message.split("\n")[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, "");
}

function errorText(e: unknown): string {
  if (e instanceof RangeError) return "nested too deeply";
  if (e instanceof Error) return firstLine(e.message);
  return String(e);
}

function yamlHint(code: string): string | undefined {
  switch (code) {
    case "TAB_AS_INDENT":
      return "YAML indents with spaces, not tabs";
    case "BAD_INDENT":
    case "MULTILINE_IMPLICIT_KEY":
      return "check the indentation of this line and the one above";
    case "MULTIPLE_DOCS":
      return "a scenario file holds one YAML document: remove the `---` separator";
    case "BLOCK_AS_IMPLICIT_KEY":
    case "MISSING_CHAR":
      return "a key is followed by `: ` and its value";
    default:
      return undefined;
  }
}
