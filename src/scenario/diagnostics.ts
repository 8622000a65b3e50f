// Diagnostics: every problem of a scenario file as data, with offsets. Line and column are
// computed only when printing (located()).
import { CODES } from "./codes.js";
import type { CodeArgs, DiagnosticCode } from "./codes.js";

export type Severity = "error" | "warning";

export interface Diagnostic {
  readonly file: string;
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly hint: string | undefined;
  /** JSON pointer of the value concerned ("" for the document) */
  readonly path: string;
  /** offsets into the file's text; end is exclusive */
  readonly start: number;
  readonly end: number;
}

export interface Span {
  readonly start: number;
  readonly end: number;
}

export function diagnostic<C extends DiagnosticCode>(file: string, code: C, args: CodeArgs<C>, at: Span & { readonly path: string }, hint?: string): Diagnostic {
  const entry = CODES[code];
  // the catalog's message functions are typed per code; the cast only joins them for the call
  const message = (entry.message as (a: CodeArgs<C>) => string)(args);
  return { file, code, severity: entry.severity, message, hint, path: at.path, start: at.start, end: at.end };
}

/** A diagnostic with 1-based line and column (of start, and of end), as printed and in JSON. */
export interface LocatedDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  readonly endCol: number;
  readonly severity: Severity;
  readonly code: DiagnosticCode;
  readonly message: string;
  readonly hint: string | null;
  readonly path: string;
}

/** Line starts of a text, built once and binary-searched (like yaml's LineCounter). */
export class LineIndex {
  private starts: readonly number[] | undefined;
  /** `lineStarts`: already known line starts (yaml's LineCounter.lineStarts), else computed on demand */
  constructor(
    readonly text: string,
    lineStarts?: readonly number[],
  ) {
    this.starts = lineStarts !== undefined && lineStarts[0] === 0 ? lineStarts : undefined;
  }

  private lineStarts(): readonly number[] {
    if (this.starts === undefined) {
      const starts = [0];
      for (let i = 0; i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) starts.push(i + 1);
      this.starts = starts;
    }
    return this.starts;
  }

  /** 1-based line and column of an offset (clamped to the text). */
  position(offset: number): { line: number; col: number } {
    const starts = this.lineStarts();
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: o - (starts[lo] ?? 0) + 1 };
  }

  lineText(line: number): string {
    const starts = this.lineStarts();
    const start = starts[line - 1];
    if (start === undefined) return "";
    const next = starts[line];
    const end = next === undefined ? this.text.length : next - 1;
    return this.text.slice(start, end).replace(/\r$/, "");
  }
}

export function located(d: Diagnostic, index: LineIndex): LocatedDiagnostic {
  const s = index.position(d.start);
  const e = index.position(Math.max(d.start, d.end));
  return {
    file: d.file,
    line: s.line,
    col: s.col,
    endLine: e.line,
    endCol: e.col,
    severity: d.severity,
    code: d.code,
    message: d.message,
    hint: d.hint ?? null,
    path: d.path,
  };
}

/** Document order, then errors before warnings, then by code: deterministic output. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      a.start - b.start ||
      a.end - b.end ||
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1) ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** Drops exact duplicates (same code, place and message). */
export function dedupeDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of list) {
    const key = `${d.code}\u0000${d.start}\u0000${d.end}\u0000${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

/**
 * The most diagnostics one file shows. A mistake early in a file (a nesting that overflows the
 * YAML parser, an unclosed flow) can make one error per token after it: thousands of lines
 * nobody reads, and megabytes of JSON for a tool to swallow.
 */
export const MAX_DIAGNOSTICS_PER_FILE = 50;

/**
 * The first `max` diagnostics and, when there were more, one more saying how many were left out,
 * located where the first of them was: an error when any of them is one (so the file's verdict
 * never changes), else a warning.
 */
export function capDiagnostics(list: readonly Diagnostic[], max = MAX_DIAGNOSTICS_PER_FILE): Diagnostic[] {
  if (list.length <= max) return [...list];
  const omitted = list.slice(max);
  const first = omitted[0] ?? list[0];
  const at = first === undefined ? { path: "", start: 0, end: 0 } : { path: first.path, start: first.start, end: first.end };
  const more = diagnostic(list[0]?.file ?? "", "too-many-problems", { more: omitted.length, shown: max }, at, "fix these, then validate again to see the rest");
  return [...list.slice(0, max), hasErrors(omitted) ? more : { ...more, severity: "warning" }];
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === "error");
}
