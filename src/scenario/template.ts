// The only templating of probes: {{ target.ip }}, {{ target.name }}, {{ env.NAME }} — in URLs
// (host, port, path, query), headers and bodies, names, a command's argv. No expressions, no
// filters: anything else inside {{ }} is an error at validate time (in argv, only what looks
// like ours: a Go template there is someone else's). A filled template is a pair: what runs
// (every value in) and what is shown (an environment variable's value never is: its template is).

export interface TemplatePart {
  /** the whole `{{ … }}` as written */
  readonly text: string;
  /** trimmed inside, e.g. `target.ip` */
  readonly name: string;
  readonly start: number;
}

export interface TemplateProblem {
  readonly text: string;
  readonly start: number;
  readonly reason: string;
}

const KNOWN = /^(target\.ip|target\.name|env\.[A-Za-z_][A-Za-z0-9_]*)$/;

export function templateParts(template: string): { parts: TemplatePart[]; problems: TemplateProblem[] } {
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf("{{", i);
    if (open < 0) break;
    const close = template.indexOf("}}", open + 2);
    if (close < 0) {
      problems.push({ text: template.slice(open), start: open, reason: "`{{` is never closed with `}}`" });
      break;
    }
    const text = template.slice(open, close + 2);
    const name = template.slice(open + 2, close).trim();
    if (KNOWN.test(name)) parts.push({ text, name, start: open });
    else problems.push({ text, start: open, reason: "only {{ target.ip }}, {{ target.name }} and {{ env.NAME }} exist" });
    i = close + 2;
  }
  return { parts, problems };
}

export interface TemplateValues {
  readonly target?: { readonly ip: string; readonly name: string };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Where a template part stands as a URL's host: right after `scheme://` or `scheme://userinfo@`. */
const HOST_POSITION = /[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#@[\]]*@)?$/;

/**
 * An IPv6 address as a URL's host must be bracketed (`http://[fd00::5]/`, RFC 3986); anywhere
 * else, and for IPv4, the address stays as it is.
 */
function urlHost(ip: string | undefined, before: string): string | undefined {
  if (ip === undefined || !ip.includes(":") || !HOST_POSITION.test(before)) return ip;
  return `[${ip}]`;
}

/** An environment variable filled into a template: its value must never be shown (a token, a password). */
export interface Secret {
  readonly name: string;
  readonly value: string;
}

/** One piece of a filled-in template: as written, or what one `{{ … }}` became. */
export interface FilledPart {
  /** what runs */
  readonly text: string;
  /** what is shown: the text, or for an environment variable its template (`{{ env.API_TOKEN }}`) */
  readonly shown: string;
  /** written as it is in the template (not a `{{ … }}`) */
  readonly literal: boolean;
}

/** A template filled in, carried as the pair of what runs and what may be shown. */
export interface Filled {
  readonly parts: readonly FilledPart[];
  /** every template filled in: for the command or request only, never for a report */
  readonly real: string;
  /** target.* filled in, env.* left as written: for everything that is shown or written down */
  readonly shown: string;
  /** the environment variables filled in, and their values */
  readonly secrets: readonly Secret[];
}

function filled(parts: readonly FilledPart[], secrets: readonly Secret[]): Filled {
  return { parts, real: parts.map((p) => p.text).join(""), shown: parts.map((p) => p.shown).join(""), secrets };
}

/**
 * Fills in a template; throws a RangeError naming what is missing (an unset env var, no target).
 * `lenient`: a `{{ … }}` that is not one of ours (a Go template in a command's argv:
 * `{{.status.phase}}`) stays as written instead of being an error.
 */
export function fillTemplate(template: string, values: TemplateValues, lenient = false): Filled {
  const { parts, problems } = templateParts(template);
  const problem = problems.find((p) => !lenient || isOursMistyped(p.text));
  if (problem !== undefined) throw new RangeError(`${problem.text}: ${problem.reason}`);
  const out: FilledPart[] = [];
  const secrets: Secret[] = [];
  const literal = (text: string): void => {
    if (text !== "") out.push({ text, shown: text, literal: true });
  };
  let last = 0;
  for (const part of parts) {
    literal(template.slice(last, part.start));
    let value: string | undefined;
    if (part.name === "target.ip") value = urlHost(values.target?.ip, template.slice(0, part.start));
    else if (part.name === "target.name") value = values.target?.name;
    else value = values.env[part.name.slice("env.".length)];
    if (value === undefined) throw new RangeError(`${part.text} has no value (${part.name.startsWith("env.") ? "environment variable not set" : "no target pod"})`);
    if (part.name.startsWith("env.")) {
      out.push({ text: value, shown: part.text, literal: false });
      secrets.push({ name: part.name.slice("env.".length), value });
    } else out.push({ text: value, shown: value, literal: false });
    last = part.start + part.text.length;
  }
  literal(template.slice(last));
  return filled(out, secrets);
}

/** A template not filled in (the plan's view of a command): every `{{ … }}` shown as written. */
export function unfilledTemplate(template: string): Filled {
  const out: FilledPart[] = [];
  let last = 0;
  for (const part of templateParts(template).parts) {
    if (part.start > last) out.push({ text: template.slice(last, part.start), shown: template.slice(last, part.start), literal: true });
    out.push({ text: part.text, shown: part.text, literal: false });
    last = part.start + part.text.length;
  }
  if (last < template.length) out.push({ text: template.slice(last), shown: template.slice(last), literal: true });
  return filled(out, []);
}

/** A `{{ … }}` that looks meant as one of ours (`{{ target.nmae }}`, `{{ env.A-B }}`) rather than someone else's template. */
export function isOursMistyped(text: string): boolean {
  return /^\{\{\s*(target|env)\b/.test(text);
}

/** Fills in a template (what runs); throws a RangeError naming what is missing. */
export function renderTemplate(template: string, values: TemplateValues): string {
  return fillTemplate(template, values).real;
}

/**
 * The environment variables a value's templates name (every string in it, however deep), with
 * their values where set: what chaos-run must never show once it runs with them.
 */
export function templateSecrets(value: unknown, env: Readonly<Record<string, string | undefined>>): Secret[] {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      for (const p of templateParts(v).parts) if (p.name.startsWith("env.")) names.add(p.name.slice("env.".length));
    } else if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk([k, x]);
  };
  walk(value);
  return [...names].flatMap((name) => {
    const value = env[name];
    return value === undefined || value === "" ? [] : [{ name, value }];
  });
}

/** Whether a template refers to the target pod (then a probe runs once per target pod). */
export function usesTarget(template: string): boolean {
  return templateParts(template).parts.some((p) => p.name.startsWith("target."));
}

/** What is wrong with the shape of a probe URL, seen once its templates are filled in. */
export type UrlShapeProblem =
  | { readonly kind: "unparsable" }
  /** not http or https */
  | { readonly kind: "scheme"; readonly scheme: string }
  /** nothing after the host (ab refuses that) */
  | { readonly kind: "no-path" }
  /** a fragment (#…), never sent to the server */
  | { readonly kind: "fragment" };

/**
 * The shape of a probe URL whose templates are all ours, checked before any pod is known: each
 * template filled in with a sample value (target.ip a documentation address), the worst problem
 * first. `needsPath`: ab wants a path after the host.
 */
export function urlShapeProblem(url: string, needsPath: boolean): UrlShapeProblem | undefined {
  let concrete = url;
  for (const part of [...templateParts(url).parts].reverse()) {
    const sample = part.name === "target.ip" ? "192.0.2.1" : part.name === "target.name" ? "pod" : "1";
    concrete = concrete.slice(0, part.start) + sample + concrete.slice(part.start + part.text.length);
  }
  let parsed: URL;
  try {
    parsed = new URL(concrete);
  } catch {
    return { kind: "unparsable" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { kind: "scheme", scheme: parsed.protocol.slice(0, -1) };
  if (needsPath && /^https?:\/\/[^/]+$/i.test(url)) return { kind: "no-path" };
  if (url.includes("#")) return { kind: "fragment" };
  return undefined;
}

/** What is wrong with an ab probe URL given on a command line (its templates, its scheme, its path); undefined: nothing. */
export function checkUrlTemplate(url: string): string | undefined {
  const [problem] = templateParts(url).problems;
  if (problem !== undefined) return `${problem.text}: ${problem.reason}`;
  const shape = urlShapeProblem(url, true);
  switch (shape?.kind) {
    case "unparsable":
      return "it does not parse as a URL";
    case "scheme":
      return `ab speaks http and https, not ${shape.scheme}`;
    case "no-path":
      return `ab needs a path: ${url}/`;
    default:
      // a fragment is refused in a scenario file only, where it is likely a mistake; --url has
      // always taken it (it is never sent)
      return undefined;
  }
}
