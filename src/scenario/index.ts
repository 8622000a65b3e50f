// The scenario language: load, validate (located diagnostics) and normalise.
export { readScenarioFile, validateSource } from "./load.js";
export type { ValidationResult } from "./load.js";
export { LineIndex, located, hasErrors } from "./diagnostics.js";
export type { Diagnostic, LocatedDiagnostic, Severity } from "./diagnostics.js";
export { CODES } from "./codes.js";
export type { DiagnosticCode } from "./codes.js";
export { renderTemplate, usesTarget } from "./template.js";
export * from "./types.js";
