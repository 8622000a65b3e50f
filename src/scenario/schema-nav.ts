// Walks schemas/scenario.schema.json along a data path, to say what is expected somewhere:
// the keys allowed in an object, a property's description, whether a value is a duration.
// Used only to word diagnostics, never to decide validity (ajv does that).

export interface SchemaNode {
  readonly $ref?: string;
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly properties?: Readonly<Record<string, SchemaNode | boolean>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly $defs?: Readonly<Record<string, SchemaNode>>;
}

export interface Candidate {
  readonly schema: SchemaNode;
  /** the $defs entry reached last ($ref), e.g. `duration` */
  readonly def: string | undefined;
  /** description at this place: the referring schema's, else the referred one's */
  readonly description: string | undefined;
}

function isSchema(v: unknown): v is SchemaNode {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class SchemaNavigator {
  private readonly defs: Readonly<Record<string, SchemaNode>>;
  constructor(private readonly root: SchemaNode) {
    this.defs = root.$defs ?? {};
  }

  private expand(schema: SchemaNode, def: string | undefined, description: string | undefined, out: Candidate[], depth = 0): void {
    if (depth > 20) return;
    const desc = description ?? schema.description;
    if (schema.$ref !== undefined) {
      const m = /^#\/\$defs\/(.+)$/.exec(schema.$ref);
      const name = m?.[1];
      const target = name === undefined ? undefined : this.defs[name];
      if (target !== undefined) this.expand(target, name, desc, out, depth + 1);
    }
    out.push({ schema, def, description: desc });
    for (const branch of schema.anyOf ?? []) this.expand(branch, def, undefined, out, depth + 1);
  }

  /** Every schema that can apply at `segments` (all anyOf branches included). */
  at(segments: readonly string[]): Candidate[] {
    let current: Candidate[] = [];
    this.expand(this.root, undefined, undefined, current);
    for (const seg of segments) {
      const next: Candidate[] = [];
      for (const c of current) {
        const prop = c.schema.properties?.[seg];
        if (isSchema(prop)) this.expand(prop, undefined, undefined, next);
        else if (prop === undefined && isSchema(c.schema.additionalProperties)) this.expand(c.schema.additionalProperties, undefined, undefined, next);
        if (/^[0-9]+$/.test(seg) && isSchema(c.schema.items)) this.expand(c.schema.items, undefined, undefined, next);
      }
      current = next;
      if (current.length === 0) break;
    }
    return current;
  }

  /** Keys declared for the object(s) at `segments`, in schema order. */
  allowedKeys(segments: readonly string[]): string[] {
    const keys = new Set<string>();
    for (const c of this.at(segments)) for (const k of Object.keys(c.schema.properties ?? {})) keys.add(k);
    return [...keys];
  }

  defsAt(segments: readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const c of this.at(segments)) if (c.def !== undefined) out.add(c.def);
    return out;
  }

  description(segments: readonly string[]): string | undefined {
    for (const c of this.at(segments)) if (c.description !== undefined) return c.description;
    return undefined;
  }
}

/** The first sentence of a description, for a one-line hint. */
export function firstSentence(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const m = /^(.*?[.!?])(\s|$)/.exec(text);
  return (m?.[1] ?? text).trim();
}
