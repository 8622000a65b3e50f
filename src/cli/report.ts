// chaos-run report JOURNAL... | --from-cluster NAME [--format table|junit|markdown|html]: re-renders
// views from journals alone (a journal is the single source of truth of a run), read from files
// or from a run's result kept in the cluster (src/results).
import { UsageError } from "../errors.js";
import { readJournal } from "../report/files.js";
import type { Journal } from "../report/journal.js";
import { renderJUnit, renderMarkdown, renderTable } from "../report/views.js";
import { choice, text } from "./flags.js";
import { stdoutIsPretty, type VerbContext } from "./io.js";
import { worst } from "./result.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run report JOURNAL... [--format table|junit|markdown|html]
       chaos-run report --from-cluster NAME [-n NS] [--format …]

Renders the report of one or more runs from their journal.json files alone, or of a run kept in
the cluster (chaos-run history lists them) from the journal its result holds.

Options:
  --format table|junit|markdown|md|html
                                  the terminal table (default), JUnit XML, the Markdown summary, or
                                  the HTML report (one self-contained file per journal: timelines of
                                  every probe with the fault windows and the baseline; a run writes
                                  it as report.html beside its journal)
  --from-cluster NAME             the result NAME in namespace -n (default: the context's); when it
                                  had to be trimmed to fit the cluster, what was dropped is said
  -h, --help                      this help

Exit status: the runs' own (the worst of them), or 2 when a journal cannot be read.
`;

/** The journal of a run kept in the cluster, and what it lost to fit there (said on stderr). */
async function storedJournal(ctx: VerbContext, name: string): Promise<Journal> {
  const { connectFromFlags } = await import("./cluster.js");
  const { loadStoredRun } = await import("../results/index.js");
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const stored = await loadStoredRun(cluster, ctx.globals.namespace ?? cluster.identity.namespace, name);
    if (stored.ref.trimmed !== undefined) ctx.io.stderr.write(`chaos-run: ${name} was trimmed to fit the cluster: ${stored.ref.trimmed}\n`);
    return stored.journal;
  } finally {
    cluster.close();
  }
}

export const run = defineVerb(
  {
    name: "report",
    help: HELP,
    flags: { format: choice(["table", "junit", "markdown", "md", "html"] as const, "table"), "from-cluster": text() },
    positionals: {},
    example: "chaos-run report chaos-run-report/<run>/journal.json",
  },
  async ({ ctx, values, positionals }) => {
    const name = values["from-cluster"];
    if (name === undefined && positionals.length === 0) throw new UsageError("report needs a journal, or --from-cluster NAME", { hint: "chaos-run report chaos-run-report/<run>/journal.json" });
    if (name !== undefined && positionals.length > 0) throw new UsageError("report takes journals or --from-cluster NAME, not both");
    const journals = name === undefined ? positionals.map(readJournal) : [await storedJournal(ctx, name)];
    const out = ctx.io.stdout;
    if (values.format === "html") {
      const { renderHtml } = await import("../report/html.js");
      for (const j of journals) out.write(renderHtml(j));
    } else if (values.format === "junit") out.write(renderJUnit(journals));
    else for (const j of journals) out.write(values.format === "markdown" || values.format === "md" ? renderMarkdown(j) : renderTable(j, { color: stdoutIsPretty(ctx.io) }));
    return worst(journals.map((j) => j.exitCode ?? 3));
  },
);
