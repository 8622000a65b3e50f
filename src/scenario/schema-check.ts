// ajv errors → pruned, located diagnostics. Pruning (after better-ajv-errors): an anyOf gives
// way to the errors of its best branch (branches whose type does not match are dropped; when
// no type matches, one "expected A or B" error); `required` errors of required-only anyOf
// branches become one "needs one of"; `if` errors go (the `then` error says it); enum errors
// at one place merge.
import type { ErrorObject } from "ajv";
import { closest } from "./suggest.js";
import { diagnostic } from "./diagnostics.js";
import type { Diagnostic } from "./diagnostics.js";
import { joinPointer, parsePointer, valueAt } from "./document.js";
import type { ParsedSource } from "./document.js";
import { SchemaNavigator, firstSentence } from "./schema-nav.js";
import type { SchemaNode } from "./schema-nav.js";

/** An ajv error, or one made by pruning. */
type Issue =
  | { readonly kind: "ajv"; readonly instancePath: string; readonly schemaPath: string; readonly error: ErrorObject }
  | { readonly kind: "typeUnion"; readonly instancePath: string; readonly schemaPath: string; readonly types: readonly string[] }
  | { readonly kind: "requiredAnyOf"; readonly instancePath: string; readonly schemaPath: string; readonly missing: readonly string[] };

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

function keywordOf(i: Issue): string {
  return i.kind === "ajv" ? i.error.keyword : i.kind;
}

function typesOf(i: Issue): string[] {
  if (i.kind === "typeUnion") return [...i.types];
  if (i.kind === "ajv" && i.error.keyword === "type") {
    const t: unknown = i.error.params["type"];
    if (typeof t === "string") return t.split(",");
    if (Array.isArray(t)) return t.filter((x): x is string => typeof x === "string");
  }
  return [];
}

function resolveAnyOf(anyOf: ErrorObject, block: Issue[]): Issue[] {
  const P = anyOf.instancePath;
  const S = anyOf.schemaPath;
  const groups = new Map<string, Issue[]>();
  for (const issue of block) {
    let key = `ext:${issue.schemaPath}`;
    if (issue.schemaPath.startsWith(`${S}/`)) key = issue.schemaPath.slice(S.length + 1).split("/")[0] ?? key;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [issue]);
    else g.push(issue);
  }
  const all = [...groups.values()];
  const mismatch = (g: Issue[]): boolean => g.some((i) => i.instancePath === P && (keywordOf(i) === "type" || keywordOf(i) === "typeUnion"));
  const candidates = all.filter((g) => !mismatch(g));
  if (candidates.length === 0) {
    const types: string[] = [];
    for (const g of all) for (const i of g) for (const t of typesOf(i)) if (!types.includes(t)) types.push(t);
    return [{ kind: "typeUnion", instancePath: P, schemaPath: S, types }];
  }
  const onlyRequired = candidates.every((g) => g.every((i) => i.instancePath === P && (keywordOf(i) === "required" || keywordOf(i) === "requiredAnyOf")));
  if (onlyRequired) {
    const missing: string[] = [];
    for (const g of candidates)
      for (const i of g) {
        const names = i.kind === "requiredAnyOf" ? i.missing : i.kind === "ajv" ? [String(i.error.params["missingProperty"])] : [];
        for (const n of names) if (!missing.includes(n)) missing.push(n);
      }
    return [{ kind: "requiredAnyOf", instancePath: P, schemaPath: S, missing }];
  }
  const structural = (g: Issue[]): number => g.filter((i) => i.instancePath === P && ["required", "additionalProperties", "requiredAnyOf"].includes(keywordOf(i))).length;
  let best = candidates[0] ?? [];
  for (const g of candidates.slice(1)) {
    const d = structural(g) - structural(best);
    if (d < 0 || (d === 0 && g.length < best.length)) best = g;
  }
  return best;
}

/** Applies the pruning rules to ajv's errors, in ajv's order (branch errors precede their anyOf). */
export function pruneErrors(errors: readonly ErrorObject[]): Issue[] {
  const out: Issue[] = [];
  for (const error of errors) {
    if (error.keyword === "anyOf" || error.keyword === "oneOf") {
      const block: Issue[] = [];
      for (let k = out.length - 1; k >= 0; k--) {
        const issue = out[k];
        if (issue === undefined || !under(issue.instancePath, error.instancePath)) break;
        const claimable = issue.schemaPath.startsWith(`${error.schemaPath}/`) || (issue.instancePath === error.instancePath && ["type", "typeUnion", "enum", "const"].includes(keywordOf(issue)));
        if (claimable) {
          block.unshift(issue);
          out.splice(k, 1);
        }
      }
      out.push(...resolveAnyOf(error, block));
      continue;
    }
    if (error.keyword === "if") continue;
    // the inner error of propertyNames repeats the outer one
    if ("propertyName" in error && error.keyword !== "propertyNames") continue;
    out.push({ kind: "ajv", instancePath: error.instancePath, schemaPath: error.schemaPath, error });
  }
  return out;
}

// ---------------------------------------------------------------- wording

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  integer: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  null: "nothing",
};

function typeWords(types: readonly string[]): string {
  const words = types.map((t) => TYPE_WORDS[t] ?? t);
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1) ?? ""}`;
}

function show(v: unknown, max = 40): string {
  let s: string;
  if (typeof v === "string") s = v;
  else if (typeof v === "number" || typeof v === "boolean" || v === null) s = String(v);
  else if (Array.isArray(v)) s = "[…]";
  else if (typeof v === "object") s = "{…}";
  else s = String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing (null)";
  if (typeof v === "string") return `the string \`${show(v)}\``;
  if (typeof v === "number") return `the number ${show(v)}`;
  if (typeof v === "boolean") return `\`${String(v)}\``;
  if (Array.isArray(v)) return "a list";
  return "a mapping";
}

/** `step 2`, `` `netem` ``, `probe `web``, `the scenario`. */
export function where(segments: readonly string[]): string {
  const last = segments.at(-1);
  if (last === undefined) return "the scenario";
  const parent = segments.at(-2);
  if (/^[0-9]+$/.test(last)) {
    const n = Number(last) + 1;
    if (parent === "steps") return `step ${n}`;
    return parent === undefined ? `item ${n}` : `\`${parent}\` entry ${n}`;
  }
  if (parent === "probes") return `probe \`${last}\``;
  return `\`${last}\``;
}

const UNIT_HINT = "units: ms, s, m, h";

function durationHint(value: unknown, segments: readonly string[]): string {
  const key = segments.at(-1) ?? "";
  const unit = ["delay", "jitter"].includes(key) ? "ms" : "s";
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$/.exec(typeof value === "number" ? String(value) : typeof value === "string" ? value : "");
  if (m !== null && m[1] !== undefined) {
    const unitWritten = m[2] ?? "";
    if (unitWritten === "") return `durations need a unit: ${m[1]}${unit} (${UNIT_HINT})`;
    const fix =
      closest(unitWritten.toLowerCase(), ["ms", "s", "m", "h"]) ??
      { sec: "s", secs: "s", second: "s", seconds: "s", min: "m", mins: "m", minute: "m", minutes: "m", hour: "h", hours: "h", msec: "ms", millis: "ms" }[unitWritten.toLowerCase()];
    if (fix !== undefined) return `write ${m[1]}${fix} (${UNIT_HINT})`;
  }
  return `a duration is a number and a unit, e.g. 100ms, 30s, 5m (${UNIT_HINT})`;
}

function percentHint(value: unknown): string {
  if (typeof value === "number" && value >= 0 && value <= 100) return `percentages are strings with %: "${value}%"`;
  return 'a percentage is a number from 0 to 100 and "%", e.g. "5%", "0.1%"';
}

const RATE_UNIT_LIST = "bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps, kibit, mibit, gibit, tibit, kibps, mibps, gibps, tibps";

function rateHint(value: unknown): string {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/]*)\s*$/.exec(typeof value === "number" ? String(value) : typeof value === "string" ? value : "");
  if (m !== null && m[1] !== undefined) {
    const unit = (m[2] ?? "").toLowerCase().replace("/s", "ps");
    if (unit === "") return `rates need a unit: ${m[1]}mbit (${RATE_UNIT_LIST})`;
    const fix = closest(unit, RATE_UNIT_LIST.split(", "));
    if (fix !== undefined) return `did you mean ${m[1]}${fix}? (units: ${RATE_UNIT_LIST})`;
  }
  return `a rate is a number and one of tc's units: ${RATE_UNIT_LIST}`;
}

const PATTERN_WHAT: Readonly<Record<string, string>> = {
  name: "a valid scenario name (lower-case letters, digits and '-')",
  namespace: "a valid namespace name",
  identifier: "a valid name (a letter, then letters, digits, '_' or '-')",
  save: "a valid result name (a lower-case letter, then letters, digits or '_')",
  interface: "a valid interface name",
  size: "a size in bytes (a whole number, optionally with Ki, Mi, Gi, Ti, k, M, G or T)",
  container: "a valid container name",
};

const NEEDS_HINT: Readonly<Record<string, string>> = {
  jitter: "jitter varies a delay: add `delay`, e.g. `delay: 100ms`",
  reorder: "netem reorders by sending some packets without the delay: add `delay`",
  correlation: "correlation relates each packet's jitter to the previous one: add `jitter`",
  distribution: "distribution shapes the jitter: add `jitter`",
  duration: "`duration` belongs to fault steps: add `fault`, or use `wait` for a pause",
  during: "`during` belongs to fault steps: add `fault`, or make the probes steps of their own",
};

function conflictHint(trigger: string, key: string): string {
  if (["fault", "probe", "wait"].includes(trigger)) {
    if (["save", "expect"].includes(key)) return `\`${key}\` belongs to a probe: put it in \`during\` (fault steps) or in a probe step`;
    return "a step is exactly one of `fault`, `probe` or `wait`: split it into two steps";
  }
  if (trigger === "selector") return "give `selector` (labels) or `pods` (names), not both";
  if (trigger === "netem") return "one fault per step: use two steps";
  return `remove \`${key}\` or \`${trigger}\``;
}

// ---------------------------------------------------------------- issues → diagnostics

export function schemaDiagnostics(source: ParsedSource, errors: readonly ErrorObject[], schema: unknown): Diagnostic[] {
  const nav = new SchemaNavigator(schema as SchemaNode);
  const file = source.file;
  const out: Diagnostic[] = [];
  const issues = pruneErrors(errors);

  // enum errors at one place merge into one list of allowed values
  const enums = new Map<string, string[]>();
  for (const i of issues) {
    if (i.kind !== "ajv" || (i.error.keyword !== "enum" && i.error.keyword !== "const")) continue;
    const params = i.error.params;
    const values: unknown[] = i.error.keyword === "enum" ? (Array.isArray(params["allowedValues"]) ? params["allowedValues"] : []) : [params["allowedValue"]];
    const list = enums.get(i.instancePath) ?? [];
    for (const v of values) if (!list.includes(String(v))) list.push(String(v));
    enums.set(i.instancePath, list);
  }
  const enumDone = new Set<string>();

  for (const issue of issues) {
    const P = issue.instancePath;
    const segs = parsePointer(P);
    const value = valueAt(source.data, segs);
    const defs = (): Set<string> => nav.defsAt(segs);
    const hintOf = (): string | undefined => firstSentence(nav.description(segs));

    if (issue.kind === "typeUnion" || (issue.kind === "ajv" && issue.error.keyword === "type")) {
      const d = defs();
      const at = source.locate(P, "value");
      if (d.has("duration")) out.push(diagnostic(file, "bad-duration", { value: show(value) }, at, durationHint(value, segs)));
      else if (d.has("percent")) out.push(diagnostic(file, "bad-percent", { value: show(value) }, at, percentHint(value)));
      else if (d.has("rate")) out.push(diagnostic(file, "bad-rate", { value: show(value) }, at, rateHint(value)));
      else {
        const types = typesOf(issue);
        out.push(diagnostic(file, "bad-type", { expected: typeWords(types), actual: describeValue(value) }, at, hintOf()));
      }
      continue;
    }
    if (issue.kind === "requiredAnyOf") {
      out.push(diagnostic(file, "missing-key", { keys: issue.missing, where: where(segs) }, source.locate(P, "object"), hintForMissing(nav, segs, issue.missing)));
      continue;
    }
    const e = issue.error;
    const params = e.params;
    switch (e.keyword) {
      case "additionalProperties": {
        const key = String(params["additionalProperty"]);
        const allowed = nav.allowedKeys(segs);
        const suggestion = closest(key, allowed);
        const hint = allowed.length === 0 ? `${where(segs)} takes no keys` : `${suggestion !== undefined ? `did you mean \`${suggestion}\`? ` : ""}allowed here: ${allowed.join(", ")}`;
        out.push(diagnostic(file, "unknown-key", { key, where: where(segs) }, source.locate(joinPointer(P, key), "key"), hint));
        break;
      }
      case "required": {
        const key = String(params["missingProperty"]);
        out.push(diagnostic(file, "missing-key", { keys: [key], where: where(segs) }, source.locate(P, "object"), hintForMissing(nav, segs, [key])));
        break;
      }
      case "enum":
      case "const": {
        if (enumDone.has(P)) break;
        enumDone.add(P);
        const allowed = enums.get(P) ?? [];
        const suggestion = typeof value === "string" ? closest(value, allowed) : undefined;
        const extra = segs.at(-1) === "mode" ? ", {count: N} or {percent: P}" : "";
        const hint = `${suggestion !== undefined ? `did you mean \`${suggestion}\`? ` : ""}allowed: ${allowed.join(", ")}${extra}`;
        out.push(diagnostic(file, "bad-enum", { value: show(value), allowed }, source.locate(P, "value"), hint));
        break;
      }
      case "pattern": {
        const d = defs();
        const at = source.locate(P, "value");
        if (d.has("duration")) out.push(diagnostic(file, "bad-duration", { value: show(value) }, at, durationHint(value, segs)));
        else if (d.has("percent")) out.push(diagnostic(file, "bad-percent", { value: show(value) }, at, percentHint(value)));
        else if (d.has("rate")) out.push(diagnostic(file, "bad-rate", { value: show(value) }, at, rateHint(value)));
        else {
          const key = [...d].find((k) => PATTERN_WHAT[k] !== undefined) ?? segs.at(-1) ?? "";
          const what = PATTERN_WHAT[key] ?? (segs.at(-2) === "pods" ? "a valid pod name" : segs.at(-2) === "selector" ? "a valid label value" : "valid here");
          out.push(diagnostic(file, "bad-value", { value: show(value), what }, at, hintOf()));
        }
        break;
      }
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum": {
        const sym = { minimum: "≥", maximum: "≤", exclusiveMinimum: ">", exclusiveMaximum: "<" }[e.keyword];
        out.push(diagnostic(file, "out-of-range", { value: show(value), bound: `${sym} ${String(params["limit"])}` }, source.locate(P, "value"), hintOf()));
        break;
      }
      case "minLength":
      case "maxLength": {
        const n = Number(params["limit"]);
        const bound = e.keyword === "minLength" ? `at least ${n} character${n === 1 ? "" : "s"}` : `at most ${n} characters`;
        out.push(diagnostic(file, "bad-length", { what: where(segs), bound }, source.locate(P, "value"), hintOf()));
        break;
      }
      case "minItems":
      case "maxItems": {
        const n = Number(params["limit"]);
        const bound = segs.at(-1) === "within" ? "exactly 2 values: [LOW, HIGH]" : e.keyword === "minItems" ? `at least ${n} item${n === 1 ? "" : "s"}` : `at most ${n} items`;
        out.push(diagnostic(file, "bad-length", { what: where(segs), bound }, source.locate(P, "value"), hintOf()));
        break;
      }
      case "minProperties":
      case "maxProperties": {
        const n = Number(params["limit"]);
        const allowed = nav.allowedKeys(segs);
        const isExpectation = e.keyword === "maxProperties";
        const bound = isExpectation ? `exactly one of ${allowed.join(", ")}` : `at least ${n} key${n === 1 ? "" : "s"}`;
        const hint = isExpectation ? "one comparison per metric: `latency.p95: {below: 50ms}`" : allowed.length > 0 ? `keys: ${allowed.join(", ")}` : hintOf();
        out.push(diagnostic(file, "bad-length", { what: where(segs), bound }, source.locate(P, "value"), hint));
        break;
      }
      case "uniqueItems": {
        const i = Number(params["i"]);
        const at = source.locate(joinPointer(P, Number.isInteger(i) ? i : 0), "value");
        out.push(diagnostic(file, "duplicate-item", { value: show(valueAt(value, [String(i)])) }, at, "remove the repeated item"));
        break;
      }
      case "dependentRequired": {
        const key = String(params["property"]);
        const needed = String(params["missingProperty"]);
        out.push(diagnostic(file, "needs-key", { key, needed }, source.locate(joinPointer(P, key), "key"), NEEDS_HINT[key]));
        break;
      }
      case "false schema": {
        const m = /dependentSchemas\/([^/]+)\/properties\/([^/]+)\/false schema$/.exec(e.schemaPath);
        const key = segs.at(-1) ?? "";
        const trigger = m?.[1];
        if (trigger !== undefined) {
          out.push(diagnostic(file, "conflicting-keys", { key, other: trigger }, source.locate(P, "key"), conflictHint(trigger, key)));
        } else {
          out.push(diagnostic(file, "unknown-key", { key, where: where(segs.slice(0, -1)) }, source.locate(P, "key"), undefined));
        }
        break;
      }
      case "propertyNames": {
        const key = String(params["propertyName"]);
        const what = segs.at(-1) === "expect" ? "a metric name (e.g. latency.p95)" : segs.at(-1) === "probes" ? "a valid probe name" : "a valid key";
        out.push(diagnostic(file, "bad-key-name", { key: show(key), what }, source.locate(joinPointer(P, key), "key"), hintOf()));
        break;
      }
      default:
        out.push(diagnostic(file, "bad-value", { value: show(value), what: `valid here (${e.message ?? e.keyword})` }, source.locate(P, "value"), hintOf()));
    }
  }
  return out;
}

function hintForMissing(nav: SchemaNavigator, segs: readonly string[], keys: readonly string[]): string | undefined {
  if (keys.length === 1) {
    const key = keys[0] ?? "";
    const desc = firstSentence(nav.description([...segs, key]));
    return desc === undefined ? undefined : `${key}: ${desc}`;
  }
  return firstSentence(nav.description(segs));
}
