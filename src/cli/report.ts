// chaos-run report JOURNAL... [--format table|junit|markdown]: re-renders views from journals
// alone (a journal is the single source of truth of a run).
import { UsageError } from "../errors.js";
import { readJournal } from "../report/files.js";
import { renderJUnit, renderMarkdown, renderTable } from "../report/views.js";
import { oneOf, parseVerbArgs } from "./args.js";
import type { VerbContext } from "./io.js";
import { worst } from "./run.js";

export const HELP = `Usage: chaos-run report JOURNAL... [--format table|junit|markdown|html]

Renders the report of one or more runs from their journal.json files alone.

Options:
  --format table|junit|markdown|html
                                  the terminal table (default), JUnit XML, the Markdown summary, or
                                  the HTML report (one self-contained file per journal: timelines of
                                  every probe with the fault windows and the baseline; a run writes
                                  it as report.html beside its journal)
  -h, --help                      this help

Exit status: the runs' own (the worst of them), or 2 when a journal cannot be read.
`;

export async function run(ctx: VerbContext): Promise<number> {
  const { values, positionals } = parseVerbArgs("report", ctx.args, {
    format: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) {
    ctx.io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("report needs a journal", { hint: "chaos-run report chaos-run-report/<run>/journal.json" });
  const format = oneOf("format", values.format, ["table", "junit", "markdown", "html"] as const, "table");
  const journals = positionals.map(readJournal);
  if (format === "html") {
    const { renderHtml } = await import("../report/html.js");
    for (const j of journals) ctx.io.stdout.write(renderHtml(j));
    return worst(journals.map((j) => j.exitCode ?? 3));
  }
  const noColor = ctx.io.env["NO_COLOR"];
  const color = ctx.io.stdoutIsTTY && (noColor === undefined || noColor === "");
  if (format === "junit") ctx.io.stdout.write(renderJUnit(journals));
  else for (const j of journals) ctx.io.stdout.write(format === "markdown" ? renderMarkdown(j) : renderTable(j, { color }));
  return worst(journals.map((j) => j.exitCode ?? 3));
}
