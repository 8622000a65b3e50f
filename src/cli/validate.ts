// chaos-run validate FILE...|DIR... [--format text|json]
import { hasErrors } from "../scenario/diagnostics.js";
import { readScenarioFile } from "../scenario/load.js";
import type { FileDiagnostics } from "./diagnostics-output.js";
import { toFileDiagnostics, writeDiagnostics } from "./diagnostics-output.js";
import { choice } from "./flags.js";
import type { Output } from "./io.js";
import { expandPaths } from "./scenario-files.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run validate FILE|DIR... [--format text|json]

Checks scenario files against the scenario language and reports every problem of every
file at once, as FILE:LINE:COL: error[CODE]: MESSAGE with a hint. A directory is searched
(recursively, sorted) for *.yaml and *.yml files.

Options:
  --format text|json   text (default, on stderr) or a JSON array of diagnostics (on stdout)
  -h, --help           this help

Exit status: 0 every file is valid, 2 otherwise.
`;

interface Tally {
  readonly files: number;
  invalid: number;
  errors: number;
  warnings: number;
}

/** Reads each file, one at a time: only the diagnostics (and the text, to locate them) are kept. */
function validateFiles(files: readonly string[]): { all: FileDiagnostics[]; tally: Tally } {
  const all: FileDiagnostics[] = [];
  const tally: Tally = { files: files.length, invalid: 0, errors: 0, warnings: 0 };
  for (const f of files) {
    const r = readScenarioFile(f);
    if (hasErrors(r.diagnostics)) tally.invalid++;
    // the summary counts every problem, those left out of the file's list too
    for (const d of r.diagnostics) {
      if (d.code === "too-many-problems") continue;
      if (d.severity === "error") tally.errors++;
      else tally.warnings++;
    }
    tally.errors += r.omitted.errors;
    tally.warnings += r.omitted.warnings;
    if (r.diagnostics.length > 0) all.push(toFileDiagnostics(r));
  }
  return { all, tally };
}

function writeSummary(out: Output, t: Tally): void {
  const noun = (n: number, s: string) => `${n} ${s}${n === 1 ? "" : "s"}`;
  out.write(
    t.invalid === 0
      ? `${noun(t.files, "file")} valid${t.warnings > 0 ? ` (${noun(t.warnings, "warning")})` : ""}\n`
      : `${noun(t.invalid, "file")} of ${t.files} invalid: ${noun(t.errors, "error")}${t.warnings > 0 ? `, ${noun(t.warnings, "warning")}` : ""}\n`,
  );
}

export const run = defineVerb(
  {
    name: "validate",
    help: HELP,
    flags: { format: choice(["text", "json"] as const, "text") },
    positionals: { missing: "needs at least one FILE or DIR" },
    example: "chaos-run validate scenarios/",
  },
  async ({ ctx, values, positionals }) => {
    const { all, tally } = validateFiles(expandPaths(positionals));
    writeDiagnostics(ctx, all, values.format);
    if (values.format === "text") writeSummary(ctx.io.stderr, tally);
    return tally.invalid === 0 ? 0 : 2;
  },
);
