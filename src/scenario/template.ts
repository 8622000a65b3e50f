// The only templating of probe URLs: {{ target.ip }}, {{ target.name }}, {{ env.NAME }}.
// No expressions, no filters: anything else inside {{ }} is an error at validate time.

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

/** Fills in a template; throws a RangeError naming what is missing (an unset env var, no target). */
export function renderTemplate(template: string, values: TemplateValues): string {
  const { parts, problems } = templateParts(template);
  const [problem] = problems;
  if (problem !== undefined) throw new RangeError(`${problem.text}: ${problem.reason}`);
  let out = "";
  let last = 0;
  for (const part of parts) {
    out += template.slice(last, part.start);
    let value: string | undefined;
    if (part.name === "target.ip") value = urlHost(values.target?.ip, template.slice(0, part.start));
    else if (part.name === "target.name") value = values.target?.name;
    else value = values.env[part.name.slice("env.".length)];
    if (value === undefined) throw new RangeError(`${part.text} has no value (${part.name.startsWith("env.") ? "environment variable not set" : "no target pod"})`);
    out += value;
    last = part.start + part.text.length;
  }
  return out + template.slice(last);
}

/** Whether a template refers to the target pod (then a probe runs once per target pod). */
export function usesTarget(template: string): boolean {
  return templateParts(template).parts.some((p) => p.name.startsWith("target."));
}

/** What is wrong with a probe URL given on a command line (its templates, its scheme, its path); undefined: nothing. */
export function checkUrlTemplate(url: string): string | undefined {
  const { parts, problems } = templateParts(url);
  const [problem] = problems;
  if (problem !== undefined) return `${problem.text}: ${problem.reason}`;
  let concrete = url;
  for (const part of [...parts].reverse()) {
    const sample = part.name === "target.ip" ? "192.0.2.1" : part.name === "target.name" ? "pod" : "1";
    concrete = concrete.slice(0, part.start) + sample + concrete.slice(part.start + part.text.length);
  }
  let parsed: URL;
  try {
    parsed = new URL(concrete);
  } catch {
    return "it does not parse as a URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `ab speaks http and https, not ${parsed.protocol.slice(0, -1)}`;
  if (/^https?:\/\/[^/]+$/i.test(url)) return `ab needs a path: ${url}/`;
  return undefined;
}
