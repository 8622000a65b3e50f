// Secrets out of everything chaos-run shows or writes. A value filled into a template from the
// environment ({{ env.API_TOKEN }}) goes where it must — the probe's command in the tools pod,
// the runner's query — and nowhere else: wherever it would appear, its template does.
//
// Two layers. At the source, a filled template is a pair (scenario/template.ts: what runs, what
// is shown) and a probe redacts what its tool printed before anyone sees it (probes/run.ts),
// so the journal and every view are built from clean data, before any escaping (JSON, HTML,
// XML) could hide a value from a search. At the edge, the process-wide redactor below is
// applied to every byte that leaves: main.ts's stdout and stderr, report/files.ts's files.
import type { Secret } from "./template.js";

/**
 * Values shorter than this are not searched for in free text: no credential is that short, and
 * replacing every `8080` or `/api` in a tool's output would garble its numbers and paths. A
 * command line shows every environment variable's template however short its value (the
 * filled template knows where each value stands).
 */
export const MIN_SECRET_LENGTH = 6;

function htmlEscaped(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** The forms a value takes in what is written: as it is, inside a JSON string, in HTML/XML, percent-encoded. */
function forms(value: string): string[] {
  return [...new Set([value, JSON.stringify(value).slice(1, -1), htmlEscaped(value), encodeURIComponent(value)])];
}

/** Replaces secret values (in each of their written forms) by their templates. */
export class Redactor {
  /** form → template, longest form first (a value inside a longer one is replaced after it) */
  private pairs: (readonly [string, string])[] = [];
  private readonly known = new Set<string>();

  constructor(secrets: Iterable<Secret> = []) {
    this.add(secrets);
  }

  add(secrets: Iterable<Secret>): this {
    let added = false;
    for (const s of secrets) {
      if (s.value.length < MIN_SECRET_LENGTH) continue;
      for (const form of forms(s.value)) {
        if (this.known.has(form)) continue;
        this.known.add(form);
        this.pairs.push([form, `{{ env.${s.name} }}`]);
        added = true;
      }
    }
    if (added) this.pairs.sort((a, b) => b[0].length - a[0].length);
    return this;
  }

  get empty(): boolean {
    return this.pairs.length === 0;
  }

  text(text: string): string {
    let out = text;
    for (const [form, template] of this.pairs) if (out.includes(form)) out = out.split(form).join(template);
    return out;
  }

  /** A copy of plain data (objects, arrays) with every string, keys included, redacted; the same value when nothing changes. */
  value<T>(v: T): T {
    if (this.empty) return v;
    return this.deep(v) as T;
  }

  private deep(v: unknown): unknown {
    if (typeof v === "string") return this.text(v);
    if (Array.isArray(v)) {
      const out = v.map((x) => this.deep(x));
      return out.every((x, i) => x === v[i]) ? v : out;
    }
    if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype) return v;
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = this.text(k);
      const value = this.deep(x);
      changed ||= key !== k || value !== x;
      out[key] = value;
    }
    return changed ? out : v;
  }

  /**
   * An error whose message or hint holds a secret: a copy of it (same class, same fields) with
   * them redacted and without its cause (an exec's or fetch's own error may hold the value too);
   * any other error as it is (the engine may compare it with its signal's reason).
   */
  error(e: unknown): unknown {
    if (!(e instanceof Error) || this.empty) return e;
    const hint = (e as { hint?: unknown }).hint;
    const message = this.text(e.message);
    const cleanHint = typeof hint === "string" ? this.text(hint) : hint;
    if (message === e.message && cleanHint === hint) return e;
    const copy = Object.create(Object.getPrototypeOf(e) as object) as Error;
    Object.defineProperties(copy, Object.getOwnPropertyDescriptors(e));
    const set = (key: string, value: unknown): void => void Object.defineProperty(copy, key, { value, writable: true, configurable: true, enumerable: key === "hint" });
    set("message", message);
    set("stack", this.text(e.stack ?? ""));
    set("cause", undefined);
    if (typeof hint === "string") set("hint", cleanHint);
    return copy;
  }
}

/** The process's own redactor, shared across separately bundled copies of this module. */
const PROCESS_KEY: unique symbol = Symbol.for("chaos-run.secrets") as never;

/**
 * What leaves the process is redacted with this: main.ts's streams and report/files.ts's files.
 * The CLI adds a scenario's secrets before it runs (cli/run.ts), and every probe adds what it
 * fills in (probes/run.ts), so a value is known here before it can be printed.
 */
export function processRedactor(): Redactor {
  const g = globalThis as { [PROCESS_KEY]?: Redactor };
  g[PROCESS_KEY] ??= new Redactor();
  return g[PROCESS_KEY];
}
