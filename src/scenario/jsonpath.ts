// The JSONPath of k8s probes' `field`: the subset kubectl's -o jsonpath users write to pick one
// number out of an object. `.a.b`, `['a.b']`, `[N]` (negative from the end), `[*]`, `.*`, and
// filters `[?(@.name=="web")]` (== or !=, against a string, number, true/false), with or
// without kubectl's `{ }` and a leading `$`. Pure: parsed at validate time (located errors),
// evaluated by the probe. Nothing is evaluated as code.

export type Segment =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "index"; readonly index: number }
  | { readonly kind: "wildcard" }
  | { readonly kind: "filter"; readonly path: readonly string[]; readonly op: "==" | "!="; readonly value: string | number | boolean };

export type JsonPathParse = { readonly ok: true; readonly segments: readonly Segment[] } | { readonly ok: false; readonly error: string; readonly at: number };

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*/;

export function parseJsonPath(text: string): JsonPathParse {
  let s = text.trim();
  let offset = text.indexOf(s);
  if (s.startsWith("{") && s.endsWith("}")) {
    s = s.slice(1, -1);
    offset += 1;
  }
  let i = 0;
  if (s.startsWith("$")) i = 1;
  const segments: Segment[] = [];
  const fail = (error: string): JsonPathParse => ({ ok: false, error, at: offset + i });
  if (i >= s.length) return fail("an empty path: start with a field, e.g. .status.readyReplicas");
  while (i < s.length) {
    const c = s.charAt(i);
    if (c === ".") {
      i++;
      if (s.charAt(i) === "*") {
        i++;
        segments.push({ kind: "wildcard" });
        continue;
      }
      const m = NAME.exec(s.slice(i));
      if (m === null) return fail("expected a field name after `.`");
      segments.push({ kind: "name", name: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === "[") {
      const close = s.indexOf("]", i);
      if (close < 0) return fail("`[` is never closed with `]`");
      const inner = s.slice(i + 1, close).trim();
      if (inner === "*") segments.push({ kind: "wildcard" });
      else if (/^-?\d+$/.test(inner)) segments.push({ kind: "index", index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) segments.push({ kind: "name", name: inner.slice(1, -1) });
      else if (inner.startsWith("?(")) {
        // the filter may hold a `]` inside a quoted value: find the `)]` that ends it
        const end = s.indexOf(")]", i);
        if (end < 0) return fail('a filter is written [?(@.field=="value")]');
        const f = parseFilter(s.slice(i + 3, end).trim());
        if (f === undefined) return fail('a filter is written [?(@.field=="value")] (== or !=, against a string, a number, true or false)');
        segments.push(f);
        i = end + 2;
        continue;
      } else return fail(`\`[${inner}]\` is not an index, [*], ['name'] or a filter [?(@.field=="value")]`);
      i = close + 1;
      continue;
    }
    return fail(`unexpected \`${c}\`: a path is made of .field, [N], [*] and [?(@.field=="value")]`);
  }
  return { ok: true, segments };
}

function parseFilter(text: string): Segment | undefined {
  const m = /^@((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)\s*(==|!=)\s*(.+)$/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
  const raw = m[3].trim();
  let value: string | number | boolean;
  if (/^'[^']*'$|^"[^"]*"$/.test(raw)) value = raw.slice(1, -1);
  else if (raw === "true" || raw === "false") value = raw === "true";
  else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
  else return undefined;
  return { kind: "filter", path: m[1].slice(1).split("."), op: m[2] === "==" ? "==" : "!=", value };
}

function child(node: unknown, name: string): unknown {
  return typeof node === "object" && node !== null && !Array.isArray(node) ? (node as Record<string, unknown>)[name] : undefined;
}

/** Every value the path reaches in a document, in order (none when it reaches nothing). */
export function evaluateJsonPath(segments: readonly Segment[], doc: unknown): unknown[] {
  let nodes: unknown[] = [doc];
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const n of nodes) {
      switch (seg.kind) {
        case "name": {
          const v = child(n, seg.name);
          if (v !== undefined) next.push(v);
          break;
        }
        case "index":
          if (Array.isArray(n)) {
            const v: unknown = n[seg.index < 0 ? n.length + seg.index : seg.index];
            if (v !== undefined) next.push(v);
          }
          break;
        case "wildcard":
          if (Array.isArray(n)) next.push(...(n as unknown[]));
          else if (typeof n === "object" && n !== null) next.push(...Object.values(n));
          break;
        case "filter":
          if (Array.isArray(n)) {
            for (const item of n as unknown[]) {
              let v: unknown = item;
              for (const p of seg.path) v = child(v, p);
              if ((v === seg.value) === (seg.op === "==")) next.push(item);
            }
          }
          break;
      }
    }
    nodes = next;
  }
  return nodes;
}

/** A field's value as a number: numbers as they are, booleans and "True"/"False" (condition statuses) as 1/0, numeric strings. */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    if (v === "True" || v === "true") return 1;
    if (v === "False" || v === "false") return 0;
    if (/^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  }
  return undefined;
}
