// Label selectors as Kubernetes defines them: requirements on a pod's labels — `key=value`
// (matchLabels), `key in (a,b)`, `key notin (a,b)`, `key` (Exists), `!key` (DoesNotExist) — read
// from kubectl's selector text (`-l`) or from matchLabels + matchExpressions, matched against a
// pod's labels, and written back as the text the API server's labelSelector takes. Pure: the
// verbs, the scenario and the run all read selectors through this one module.

export type SelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist";

/** One requirement, as a LabelSelectorRequirement is: `values` only for In and NotIn (never empty there). */
export interface Requirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A pod matches when every requirement holds (an empty selector would match every pod: refused where it is read). */
export type Selector = readonly Requirement[];

export const SELECTOR_OPERATORS: readonly SelectorOperator[] = ["In", "NotIn", "Exists", "DoesNotExist"];

/** A label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function isLabelKey(key: string): boolean {
  const name = key.slice(key.indexOf("/") + 1);
  return LABEL_KEY.test(key) && name.length <= 63 && key.length - name.length <= 254;
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** A selector text that does not parse: the message, and the 0-based column where it went wrong. */
export class SelectorSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
    this.name = "SelectorSyntaxError";
  }
}

/** matchLabels and matchExpressions, as a LabelSelector holds them, as requirements (sorted by key, as kubectl writes them). */
export function fromLabelSelector(matchLabels: Readonly<Record<string, string>> | undefined, matchExpressions: readonly Requirement[] | undefined): Selector {
  const labels = Object.entries(matchLabels ?? {}).map(([key, value]): Requirement => ({ key, operator: "In", values: [value] }));
  return [...labels, ...(matchExpressions ?? [])].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Whether one requirement holds for these labels (NotIn and DoesNotExist hold where the label is absent). */
function holds(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case "In":
      return has && r.values.includes(labels[r.key] ?? "");
    case "NotIn":
      return !has || !r.values.includes(labels[r.key] ?? "");
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
  }
}

export function matches(selector: Selector, labels: Readonly<Record<string, string>>): boolean {
  return selector.every((r) => holds(r, labels));
}

/** One requirement as kubectl writes it: `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. */
function requirementString(r: Requirement): string {
  switch (r.operator) {
    case "In":
      return r.values.length === 1 ? `${r.key}=${r.values[0] ?? ""}` : `${r.key} in (${r.values.join(",")})`;
    case "NotIn":
      return `${r.key} notin (${r.values.join(",")})`;
    case "Exists":
      return r.key;
    case "DoesNotExist":
      return `!${r.key}`;
  }
}

/** The selector as kubectl and the API server's labelSelector read it: `app=web,tier in (a,b),!canary`. */
export function selectorString(selector: Selector): string {
  return selector.map(requirementString).join(",");
}

/** A cursor over the selector text: where it is, what is left. */
class Reader {
  at = 0;
  constructor(readonly text: string) {}
  skipSpaces(): void {
    while (this.text[this.at] === " ") this.at++;
  }
  done(): boolean {
    this.skipSpaces();
    return this.at >= this.text.length;
  }
  /** Consumes `s` when the text continues with it. */
  take(s: string): boolean {
    this.skipSpaces();
    if (!this.text.startsWith(s, this.at)) return false;
    this.at += s.length;
    return true;
  }
  /** A key or a value: the characters up to a space, comma, operator or parenthesis. */
  word(): { text: string; at: number } {
    this.skipSpaces();
    const start = this.at;
    while (this.at < this.text.length && !" ,=!()".includes(this.text[this.at] ?? "")) this.at++;
    return { text: this.text.slice(start, this.at), at: start };
  }
  fail(message: string, at = this.at): never {
    throw new SelectorSyntaxError(message, at);
  }
}

function key(reader: Reader): string {
  const k = reader.word();
  if (k.text === "") reader.fail("a label key was expected here", k.at);
  if (!isLabelKey(k.text)) reader.fail(`${JSON.stringify(k.text)} is not a label key (an optional prefix/, then letters, digits, '-', '_', '.')`, k.at);
  return k.text;
}

function value(reader: Reader): string {
  const v = reader.word();
  if (!isLabelValue(v.text)) reader.fail(`${JSON.stringify(v.text)} is not a label value (up to 63 letters, digits, '-', '_', '.')`, v.at);
  return v.text;
}

/** `(a, b, c)` after in / notin: at least one value. */
function valueSet(reader: Reader): string[] {
  reader.skipSpaces();
  const open = reader.at;
  if (!reader.take("(")) reader.fail("`(` was expected: `in (a,b)`");
  const values: string[] = [];
  do values.push(value(reader));
  while (reader.take(","));
  if (!reader.take(")")) reader.fail("`)` or `,` was expected");
  if (values.every((v) => v === "")) reader.fail("in and notin need at least one value", open);
  return values;
}

function requirement(reader: Reader): Requirement {
  if (reader.take("!")) return { key: key(reader), operator: "DoesNotExist", values: [] };
  const k = key(reader);
  if (reader.take("==") || reader.take("=")) return { key: k, operator: "In", values: [value(reader)] };
  if (reader.take("!=")) return { key: k, operator: "NotIn", values: [value(reader)] };
  const save = reader.at;
  const word = reader.word();
  if (word.text === "in") return { key: k, operator: "In", values: valueSet(reader) };
  if (word.text === "notin") return { key: k, operator: "NotIn", values: valueSet(reader) };
  if (word.text !== "") reader.fail(`=, !=, in or notin was expected after ${k}, not ${JSON.stringify(word.text)}`, word.at);
  reader.at = save;
  return { key: k, operator: "Exists", values: [] };
}

/**
 * kubectl's selector text (`-l`): requirements separated by commas — `k=v`, `k==v`, `k!=v`,
 * `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. Throws SelectorSyntaxError, located, when it does not
 * parse; an empty text is refused (it would select every pod).
 */
export function parseSelector(text: string): Selector {
  const reader = new Reader(text);
  if (reader.done()) reader.fail("an empty selector would select every pod", 0);
  const requirements: Requirement[] = [];
  do requirements.push(requirement(reader));
  while (reader.take(","));
  if (!reader.done()) reader.fail("`,` was expected between requirements");
  return requirements;
}
