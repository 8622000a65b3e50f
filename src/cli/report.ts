// chaos-run report JOURNAL... [--format table|junit|markdown]: re-renders views from journals
// alone (a journal is the single source of truth of a run).
import { readJournal } from "../report/files.js";
import { renderJUnit, renderMarkdown, renderTable } from "../report/views.js";
import { choice } from "./flags.js";
import { stdoutIsPretty } from "./io.js";
import { worst } from "./result.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run report JOURNAL... [--format table|junit|markdown|html]

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

export const run = defineVerb(
  {
    name: "report",
    help: HELP,
    flags: { format: choice(["table", "junit", "markdown", "html"] as const, "table") },
    positionals: { missing: "needs a journal" },
    example: "chaos-run report chaos-run-report/<run>/journal.json",
  },
  async ({ ctx, values, positionals }) => {
    const journals = positionals.map(readJournal);
    const out = ctx.io.stdout;
    if (values.format === "html") {
      const { renderHtml } = await import("../report/html.js");
      for (const j of journals) out.write(renderHtml(j));
    } else if (values.format === "junit") out.write(renderJUnit(journals));
    else for (const j of journals) out.write(values.format === "markdown" ? renderMarkdown(j) : renderTable(j, { color: stdoutIsPretty(ctx.io) }));
    return worst(journals.map((j) => j.exitCode ?? 3));
  },
);
