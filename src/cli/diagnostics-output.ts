// Diagnostics for people (`file:line:col: error[code]: message` + `  hint: …`, with a code
// frame and colour only on a TTY without NO_COLOR) and for machines (--format json).
import { LineIndex, located } from "../scenario/diagnostics.js";
import type { Diagnostic, LocatedDiagnostic } from "../scenario/diagnostics.js";
import type { ValidationResult } from "../scenario/load.js";
import { stderrIsPretty, type VerbContext } from "./io.js";

export interface FileDiagnostics {
  readonly file: string;
  readonly text: string;
  readonly diagnostics: readonly Diagnostic[];
  /** line starts already known (yaml's LineCounter), to avoid rescanning */
  readonly lineStarts?: readonly number[] | undefined;
}

const C = {
  red: (s: string) => `\u001b[31m${s}\u001b[39m`,
  yellow: (s: string) => `\u001b[33m${s}\u001b[39m`,
  cyan: (s: string) => `\u001b[36m${s}\u001b[39m`,
  dim: (s: string) => `\u001b[2m${s}\u001b[22m`,
  bold: (s: string) => `\u001b[1m${s}\u001b[22m`,
};

export function locateAll(files: readonly FileDiagnostics[]): LocatedDiagnostic[] {
  const out: LocatedDiagnostic[] = [];
  for (const f of files) {
    const index = new LineIndex(f.text, f.lineStarts);
    for (const d of f.diagnostics) out.push(located(d, index));
  }
  return out;
}

export function formatText(files: readonly FileDiagnostics[], pretty: boolean): string {
  let out = "";
  for (const f of files) {
    if (f.diagnostics.length === 0) continue;
    const index = new LineIndex(f.text, f.lineStarts);
    for (const d of f.diagnostics) {
      const l = located(d, index);
      const sev = l.severity === "error" ? (pretty ? C.bold(C.red("error")) : "error") : pretty ? C.bold(C.yellow("warning")) : "warning";
      const where = `${l.file}:${l.line}:${l.col}`;
      out += `${pretty ? C.bold(where) : where}: ${sev}[${l.code}]: ${l.message}\n`;
      if (pretty) out += codeFrame(index, l);
      if (l.hint !== null) out += `  ${pretty ? C.cyan("hint") : "hint"}: ${l.hint}\n`;
    }
  }
  return out;
}

function codeFrame(index: LineIndex, l: LocatedDiagnostic): string {
  const text = index.lineText(l.line);
  if (text === "" && l.line > 1 && l.col === 1) return "";
  const shown = text.length > 160 ? `${text.slice(0, 160)}…` : text;
  const width = String(l.line).length;
  const endCol = l.endLine === l.line ? Math.max(l.endCol, l.col + 1) : text.length + 1;
  const caretLen = Math.max(1, Math.min(endCol - l.col, shown.length - l.col + 2));
  const gutter = " ".repeat(width);
  return `  ${C.dim(`${l.line} |`)} ${shown}\n` + `  ${C.dim(`${gutter} |`)} ${" ".repeat(Math.max(0, l.col - 1))}${C.red("^".repeat(caretLen))}\n`;
}

export function formatJson(files: readonly FileDiagnostics[]): string {
  return `${JSON.stringify(locateAll(files), null, 2)}\n`;
}

export function toFileDiagnostics(r: ValidationResult): FileDiagnostics {
  return { file: r.file, text: r.text, diagnostics: r.diagnostics, lineStarts: r.source.lineStarts };
}

/** Text on stderr (pretty on a terminal), or JSON on stdout. */
export function writeDiagnostics(ctx: VerbContext, files: readonly FileDiagnostics[], format: "text" | "json"): void {
  if (format === "json") ctx.io.stdout.write(formatJson(files));
  else ctx.io.stderr.write(formatText(files, stderrIsPretty(ctx.io)));
}
