// ajv errors → pruned (schema-prune.ts), located diagnostics worded for people (schema-words.ts):
// one diagnostic an issue, by its keyword; enum errors at one place merge into one list of the
// values allowed there.
import type { ErrorObject } from "ajv";
import type { CodeArgs, DiagnosticCode } from "./codes.js";
import { diagnostic } from "./diagnostics.js";
import type { Diagnostic } from "./diagnostics.js";
import { joinPointer, parsePointer, valueAt } from "./document.js";
import type { Located, LocateMode, ParsedSource } from "./document.js";
import { SchemaNavigator, firstSentence } from "./schema-nav.js";
import type { SchemaNode } from "./schema-nav.js";
import { pruneErrors, typesOf } from "./schema-prune.js";
import type { Issue } from "./schema-prune.js";
import { NEEDS_HINT, PATTERN_WHAT, conflictHint, describeValue, durationHint, percentHint, rateHint, show, typeWords, where } from "./schema-words.js";
import { closest, didYouMean } from "./suggest.js";

export function schemaDiagnostics(source: ParsedSource, errors: readonly ErrorObject[], schema: unknown): Diagnostic[] {
  const nav = new SchemaNavigator(schema as SchemaNode);
  const issues = pruneErrors(errors);
  const enums = new EnumLists(issues);
  const out: Diagnostic[] = [];
  for (const issue of issues) {
    const d = issueDiagnostic(new Place(source, nav, issue.instancePath), issue, enums);
    if (d !== undefined) out.push(d);
  }
  return out;
}

/** Where an issue is: its pointer, its value in the data, and what the schema says of the place. */
class Place {
  readonly segs: readonly string[];
  readonly value: unknown;

  constructor(
    readonly source: ParsedSource,
    readonly nav: SchemaNavigator,
    readonly pointer: string,
  ) {
    this.segs = parsePointer(pointer);
    this.value = valueAt(source.data, this.segs);
  }

  /** the $defs the schema reaches here (`duration`, `percent`, …) */
  defs(): Set<string> {
    return this.nav.defsAt(this.segs);
  }

  /** the first sentence of the schema's description of the place */
  hint(): string | undefined {
    return firstSentence(this.nav.description(this.segs));
  }

  locate(mode: LocateMode, pointer = this.pointer): Located {
    return this.source.locate(pointer, mode);
  }

  diagnostic<C extends DiagnosticCode>(code: C, args: CodeArgs<C>, at: Located, hint: string | undefined): Diagnostic {
    return diagnostic(this.source.file, code, args, at, hint);
  }
}

/** The values allowed where enum (and const) errors stand, merged; each place's list is given once. */
class EnumLists {
  private readonly lists = new Map<string, string[]>();
  private readonly given = new Set<string>();

  constructor(issues: readonly Issue[]) {
    for (const i of issues) {
      if (i.kind !== "ajv" || (i.error.keyword !== "enum" && i.error.keyword !== "const")) continue;
      const params = i.error.params;
      const values: unknown[] = i.error.keyword === "enum" ? (Array.isArray(params["allowedValues"]) ? params["allowedValues"] : []) : [params["allowedValue"]];
      const list = this.lists.get(i.instancePath) ?? [];
      for (const v of values) if (!list.includes(String(v))) list.push(String(v));
      this.lists.set(i.instancePath, list);
    }
  }

  /** The list at a place the first time it is asked for; undefined after. */
  take(pointer: string): string[] | undefined {
    if (this.given.has(pointer)) return undefined;
    this.given.add(pointer);
    return this.lists.get(pointer) ?? [];
  }
}

function issueDiagnostic(place: Place, issue: Issue, enums: EnumLists): Diagnostic | undefined {
  if (issue.kind === "typeUnion" || (issue.kind === "ajv" && issue.error.keyword === "type")) {
    const at = place.locate("value");
    return unitDiagnostic(place, at) ?? place.diagnostic("bad-type", { expected: typeWords(typesOf(issue)), actual: describeValue(place.value) }, at, place.hint());
  }
  if (issue.kind === "requiredAnyOf") {
    return place.diagnostic("missing-key", { keys: issue.missing, where: where(place.segs) }, place.locate("object"), hintForMissing(place, issue.missing));
  }
  const rule = KEYWORD_RULES.get(issue.error.keyword) ?? otherKeyword;
  return rule(place, issue.error, enums);
}

/** A duration, a percentage or a rate written wrong: said as such, with the fix. */
function unitDiagnostic(place: Place, at: Located): Diagnostic | undefined {
  const d = place.defs();
  const value = show(place.value);
  if (d.has("duration")) return place.diagnostic("bad-duration", { value }, at, durationHint(place.value, place.segs));
  if (d.has("percent")) return place.diagnostic("bad-percent", { value }, at, percentHint(place.value));
  if (d.has("rate")) return place.diagnostic("bad-rate", { value }, at, rateHint(place.value));
  return undefined;
}

function hintForMissing(place: Place, keys: readonly string[]): string | undefined {
  if (keys.length === 1) {
    const key = keys[0] ?? "";
    const desc = firstSentence(place.nav.description([...place.segs, key]));
    return desc === undefined ? undefined : `${key}: ${desc}`;
  }
  return place.hint();
}

type KeywordRule = (place: Place, e: ErrorObject, enums: EnumLists) => Diagnostic | undefined;

function unknownKey(place: Place, e: ErrorObject): Diagnostic {
  const key = String(e.params["additionalProperty"]);
  const allowed = place.nav.allowedKeys(place.segs);
  const hint = allowed.length === 0 ? `${where(place.segs)} takes no keys` : `${didYouMean(closest(key, allowed))}allowed here: ${allowed.join(", ")}`;
  return place.diagnostic("unknown-key", { key, where: where(place.segs) }, place.locate("key", joinPointer(place.pointer, key)), hint);
}

function missingKey(place: Place, e: ErrorObject): Diagnostic {
  const key = String(e.params["missingProperty"]);
  return place.diagnostic("missing-key", { keys: [key], where: where(place.segs) }, place.locate("object"), hintForMissing(place, [key]));
}

function badEnum(place: Place, _e: ErrorObject, enums: EnumLists): Diagnostic | undefined {
  const allowed = enums.take(place.pointer);
  if (allowed === undefined) return undefined;
  const suggestion = typeof place.value === "string" ? closest(place.value, allowed) : undefined;
  const extra = place.segs.at(-1) === "mode" ? ", {count: N} or {percent: P}" : "";
  return place.diagnostic("bad-enum", { value: show(place.value), allowed }, place.locate("value"), `${didYouMean(suggestion)}allowed: ${allowed.join(", ")}${extra}`);
}

function badPattern(place: Place): Diagnostic {
  const at = place.locate("value");
  const unit = unitDiagnostic(place, at);
  if (unit !== undefined) return unit;
  const segs = place.segs;
  const key = [...place.defs()].find((k) => PATTERN_WHAT[k] !== undefined) ?? segs.at(-1) ?? "";
  const what =
    PATTERN_WHAT[key] ??
    (segs.at(-2) === "pods" ? "a valid pod name" : segs.at(-2) === "selector" || segs.at(-2) === "values" ? "a valid label value" : segs.at(-1) === "key" ? "a valid label key" : "valid here");
  return place.diagnostic("bad-value", { value: show(place.value), what }, at, place.hint());
}

const BOUND_SYMBOL: Readonly<Record<string, string>> = { minimum: "≥", maximum: "≤", exclusiveMinimum: ">", exclusiveMaximum: "<" };

function outOfRange(place: Place, e: ErrorObject): Diagnostic {
  return place.diagnostic("out-of-range", { value: show(place.value), bound: `${BOUND_SYMBOL[e.keyword]} ${String(e.params["limit"])}` }, place.locate("value"), place.hint());
}

function badLength(place: Place, e: ErrorObject): Diagnostic {
  const n = Number(e.params["limit"]);
  const bound = e.keyword === "minLength" ? `at least ${n} character${n === 1 ? "" : "s"}` : `at most ${n} characters`;
  return place.diagnostic("bad-length", { what: where(place.segs), bound }, place.locate("value"), place.hint());
}

function badItemCount(place: Place, e: ErrorObject): Diagnostic {
  const n = Number(e.params["limit"]);
  const bound = place.segs.at(-1) === "within" ? "exactly 2 values: [LOW, HIGH]" : e.keyword === "minItems" ? `at least ${n} item${n === 1 ? "" : "s"}` : `at most ${n} items`;
  return place.diagnostic("bad-length", { what: where(place.segs), bound }, place.locate("value"), place.hint());
}

function badKeyCount(place: Place, e: ErrorObject): Diagnostic {
  const n = Number(e.params["limit"]);
  const allowed = place.nav.allowedKeys(place.segs);
  // the schema's only maxProperties is an expectation's one comparison
  const isExpectation = e.keyword === "maxProperties";
  const bound = isExpectation ? `exactly one of ${allowed.join(", ")}` : `at least ${n} key${n === 1 ? "" : "s"}`;
  const hint = isExpectation ? "one comparison per metric: `latency.p95: {below: 50ms}`" : allowed.length > 0 ? `keys: ${allowed.join(", ")}` : place.hint();
  return place.diagnostic("bad-length", { what: where(place.segs), bound }, place.locate("value"), hint);
}

function duplicateItem(place: Place, e: ErrorObject): Diagnostic {
  const i = Number(e.params["i"]);
  const at = place.locate("value", joinPointer(place.pointer, Number.isInteger(i) ? i : 0));
  return place.diagnostic("duplicate-item", { value: show(valueAt(place.value, [String(i)])) }, at, "remove the repeated item");
}

function needsKey(place: Place, e: ErrorObject): Diagnostic {
  const key = String(e.params["property"]);
  const needed = String(e.params["missingProperty"]);
  return place.diagnostic("needs-key", { key, needed }, place.locate("key", joinPointer(place.pointer, key)), NEEDS_HINT[key]);
}

/** `false` in the schema: a key that another excludes (dependentSchemas), else one allowed nowhere. */
function excludedKey(place: Place, e: ErrorObject): Diagnostic {
  const m = /dependentSchemas\/([^/]+)\/properties\/([^/]+)\/false schema$/.exec(e.schemaPath);
  const key = place.segs.at(-1) ?? "";
  const trigger = m?.[1];
  if (trigger !== undefined) return place.diagnostic("conflicting-keys", { key, other: trigger }, place.locate("key"), conflictHint(trigger, key));
  return place.diagnostic("unknown-key", { key, where: where(place.segs.slice(0, -1)) }, place.locate("key"), undefined);
}

function badKeyName(place: Place, e: ErrorObject): Diagnostic {
  const key = String(e.params["propertyName"]);
  const last = place.segs.at(-1);
  const what = last === "expect" ? "a metric name (e.g. latency.p95)" : last === "probes" ? "a valid probe name" : "a valid key";
  return place.diagnostic("bad-key-name", { key: show(key), what }, place.locate("key", joinPointer(place.pointer, key)), place.hint());
}

function otherKeyword(place: Place, e: ErrorObject): Diagnostic {
  return place.diagnostic("bad-value", { value: show(place.value), what: `valid here (${e.message ?? e.keyword})` }, place.locate("value"), place.hint());
}

const KEYWORD_RULES: ReadonlyMap<string, KeywordRule> = new Map<string, KeywordRule>([
  ["additionalProperties", unknownKey],
  ["required", missingKey],
  ["enum", badEnum],
  ["const", badEnum],
  ["pattern", badPattern],
  ["minimum", outOfRange],
  ["maximum", outOfRange],
  ["exclusiveMinimum", outOfRange],
  ["exclusiveMaximum", outOfRange],
  ["minLength", badLength],
  ["maxLength", badLength],
  ["minItems", badItemCount],
  ["maxItems", badItemCount],
  ["minProperties", badKeyCount],
  ["maxProperties", badKeyCount],
  ["uniqueItems", duplicateItem],
  ["dependentRequired", needsKey],
  ["false schema", excludedKey],
  ["propertyNames", badKeyName],
]);
