// Where the semantic checks put the problems they find. The order they are found in is part of
// the output: of two problems alike but for their hint, dedupeDiagnostics keeps the first.
import type { CodeArgs, DiagnosticCode } from "../codes.js";
import { diagnostic } from "../diagnostics.js";
import type { Diagnostic } from "../diagnostics.js";
import type { Located, LocateMode, ParsedSource } from "../document.js";

export class Findings {
  readonly diagnostics: Diagnostic[] = [];

  constructor(readonly source: ParsedSource) {}

  /** One problem of the file, at a place `locate` (or `locateInScalar`) found. */
  add<C extends DiagnosticCode>(code: C, args: CodeArgs<C>, at: Located, hint?: string): void {
    this.diagnostics.push(diagnostic(this.source.file, code, args, at, hint));
  }

  /**
   * The span of what a JSON pointer names (ParsedSource.locate). Only for a problem found: the
   * first call builds the yaml Document, which a valid file never needs.
   */
  locate(pointer: string, mode?: LocateMode): Located {
    return this.source.locate(pointer, mode);
  }
}
