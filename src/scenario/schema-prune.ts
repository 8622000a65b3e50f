// Pruning ajv's errors (after better-ajv-errors): an anyOf gives way to the errors of its best
// branch (branches whose type does not match are dropped; when no type matches, one "expected A
// or B" error); `required` errors of required-only anyOf branches become one "needs one of";
// `if` errors go (the `then` error says it).
import type { ErrorObject } from "ajv";

/** An ajv error, or one made by pruning. */
export type Issue =
  | { readonly kind: "ajv"; readonly instancePath: string; readonly schemaPath: string; readonly error: ErrorObject }
  | { readonly kind: "typeUnion"; readonly instancePath: string; readonly schemaPath: string; readonly types: readonly string[] }
  | { readonly kind: "requiredAnyOf"; readonly instancePath: string; readonly schemaPath: string; readonly missing: readonly string[] };

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

function keywordOf(i: Issue): string {
  return i.kind === "ajv" ? i.error.keyword : i.kind;
}

export function typesOf(i: Issue): string[] {
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
