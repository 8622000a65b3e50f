// chaos-run validate FILE...|DIR... [--format text|json]
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { hasErrors } from "../scenario/diagnostics.js";
import { readScenarioFile } from "../scenario/load.js";
import type { ValidationResult } from "../scenario/load.js";
import { oneOf, parseVerbArgs } from "./args.js";
import { formatJson, formatText } from "./diagnostics-output.js";
import type { FileDiagnostics } from "./diagnostics-output.js";
import { stderrIsPretty } from "./io.js";
import type { VerbContext } from "./io.js";

export const HELP = `Usage: chaos-run validate FILE|DIR... [--format text|json]

Checks scenario files against the scenario language and reports every problem of every
file at once, as FILE:LINE:COL: error[CODE]: MESSAGE with a hint. A directory is searched
(recursively, sorted) for *.yaml and *.yml files.

Options:
  --format text|json   text (default, on stderr) or a JSON array of diagnostics (on stdout)
  -h, --help           this help

Exit status: 0 every file is valid, 2 otherwise.
`;

const SCENARIO_FILE = /\.ya?ml$/i;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Files under a directory, sorted, deterministic; hidden entries and node_modules skipped. */
export function walkScenarioFiles(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => compare(a.name, b.name));
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkScenarioFiles(path));
    else if (e.isFile() && SCENARIO_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/** Expands FILE|DIR arguments into files, in argument order; a missing path stays (and is reported). */
export function expandPaths(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir) {
      const found = walkScenarioFiles(p);
      if (found.length === 0) throw new UsageError(`no *.yaml or *.yml files in ${p}`);
      files.push(...found);
    } else files.push(p);
  }
  return files;
}

export function toFileDiagnostics(r: ValidationResult): FileDiagnostics {
  return { file: r.file, text: r.text, diagnostics: r.diagnostics, lineStarts: r.source.lineStarts };
}

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("validate", ctx.args, {
    format: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  const format = oneOf("format", values.format, ["text", "json"] as const, "text");
  if (positionals.length === 0) throw new UsageError("validate needs at least one FILE or DIR", { hint: "chaos-run validate scenarios/" });
  const files = expandPaths(positionals);
  // one file at a time; only the diagnostics (and the text, to locate them) are kept
  const all: FileDiagnostics[] = [];
  let invalid = 0;
  let errors = 0;
  let warnings = 0;
  for (const f of files) {
    const r = readScenarioFile(f);
    if (hasErrors(r.diagnostics)) invalid++;
    // the summary counts every problem, those left out of the file's list too
    for (const d of r.diagnostics) {
      if (d.code === "too-many-problems") continue;
      if (d.severity === "error") errors++;
      else warnings++;
    }
    errors += r.omitted.errors;
    warnings += r.omitted.warnings;
    if (r.diagnostics.length > 0) all.push(toFileDiagnostics(r));
  }
  if (format === "json") {
    ctx.io.stdout.write(formatJson(all));
  } else {
    ctx.io.stderr.write(formatText(all, stderrIsPretty(ctx.io)));
    const noun = (n: number, s: string) => `${n} ${s}${n === 1 ? "" : "s"}`;
    ctx.io.stderr.write(
      invalid === 0
        ? `${noun(files.length, "file")} valid${warnings > 0 ? ` (${noun(warnings, "warning")})` : ""}\n`
        : `${noun(invalid, "file")} of ${files.length} invalid: ${noun(errors, "error")}${warnings > 0 ? `, ${noun(warnings, "warning")}` : ""}\n`,
    );
  }
  return invalid === 0 ? 0 : 2;
}
