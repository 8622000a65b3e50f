// parse → schema → locate → prune/suggest → semantic checks → Scenario | Diagnostic[].
// validateSource is pure (text in); readScenarioFile is the one function that reads a file.
import { readFileSync } from "node:fs";
import { validate as validateSchema, scenarioSchema } from "./generated/validate-schema.js";
import { MAX_DIAGNOSTICS_PER_FILE, capDiagnostics, dedupeDiagnostics, diagnostic, hasErrors, sortDiagnostics } from "./diagnostics.js";
import type { Diagnostic } from "./diagnostics.js";
import { ParsedSource } from "./document.js";
import { normalise } from "./normalise.js";
import { schemaDiagnostics } from "./schema-check.js";
import { semanticDiagnostics } from "./semantic/index.js";
import type { RawScenario, Scenario } from "./types.js";

export interface ValidationResult {
  readonly file: string;
  readonly text: string;
  /**
   * the file's problems in document order (warnings included): the first MAX_DIAGNOSTICS_PER_FILE,
   * and then one `too-many-problems` saying how many more there were
   */
  readonly diagnostics: readonly Diagnostic[];
  /** the problems left out of `diagnostics`, by severity (0 and 0 when none was) */
  readonly omitted: { readonly errors: number; readonly warnings: number };
  /** present exactly when there is no error */
  readonly scenario: Scenario | undefined;
  /** the parsed source, for locating things later (e.g. plan errors) */
  readonly source: ParsedSource;
}

export function validateSource(file: string, text: string): ValidationResult {
  const source = new ParsedSource(file, text);
  let diagnostics: Diagnostic[] = [];
  if (source.readable) {
    if (!validateSchema(source.data)) {
      // locating needs the yaml Document; build it first so the data checked is its data
      source.parseFully();
      if (source.readable && !validateSchema(source.data)) {
        diagnostics.push(...schemaDiagnostics(source, validateSchema.errors ?? [], scenarioSchema));
      }
    }
    if (source.readable) diagnostics.push(...semanticDiagnostics(source));
  }
  // YAML problems (found by whichever parser read the file) outrank the rest: the data behind
  // the other diagnostics cannot be trusted then
  diagnostics = source.readable ? [...source.diagnostics, ...diagnostics] : [...source.diagnostics];
  const sorted = sortDiagnostics(dedupeDiagnostics(diagnostics));
  const scenario = hasErrors(sorted) ? undefined : normalise(source.data as RawScenario);
  const left = sorted.slice(MAX_DIAGNOSTICS_PER_FILE);
  const omitted = { errors: left.filter((d) => d.severity === "error").length, warnings: left.length - left.filter((d) => d.severity === "error").length };
  return { file, text, diagnostics: capDiagnostics(sorted), omitted, scenario, source };
}

/** Reads a scenario file (the only file read of src/scenario); an unreadable file is a diagnostic. */
export function readScenarioFile(file: string): ValidationResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : e instanceof Error ? e.message : String(e);
    const source = new ParsedSource(file, "");
    const d = diagnostic(file, "unreadable-file", { reason }, { path: "", start: 0, end: 0 });
    return { file, text: "", diagnostics: [d], omitted: { errors: 0, warnings: 0 }, scenario: undefined, source };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return validateSource(file, text);
}
