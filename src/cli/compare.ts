// chaos-run compare BASE NEW [--threshold P] [--format table|md|junit|html|json]: judges a run
// against another from their journals alone — every figure measured in both, where their steps
// match, against the runs' own noise — and exits 1 when something regressed. The run verb's
// --compare-to does the same at the end of a run (compareToBase, below).
import { compareRuns, loadJournal, type Comparison, type LoadedJournal } from "../compare/index.js";
import { ExitCode, UsageError } from "../errors.js";
import type { Journal } from "../report/journal.js";
import { HELP_HELP } from "./common-flags.js";
import { choice, percent } from "./flags.js";
import { stdoutIsPretty, type CliIO } from "./io.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run compare BASE NEW [options]

Compares two runs from their journals: BASE and NEW are each a run's journal.json or its
directory (chaos-run-report/<scenario>-<time>/). For each step and each figure measured in
both runs — every probe metric, the latency a fault added against the one configured, what a
fault measured itself (recovery time, throttling, the HTTP proxy's counts) — it shows base,
new, the change and a verdict: regressed, improved, changed (a figure with no better
direction) or within noise, and the rule that judged it. Samples of a continuous probe
(every:) are judged by the Mann–Whitney U test and the effect size; a single value against
both runs' own noise and the threshold. Steps that do not match (another fault, another
name) are not compared, and the output says so.

Options:
  --threshold P          the smallest change that matters, relative to the base value
                         (default 20%: 20 or 20%)
  --format table|md|junit|html|json
                         the terminal table (default); Markdown for a pull-request comment;
                         JUnit XML (a regression is a failed test case); one self-contained
                         HTML page (both runs' timelines one above the other, on the same axes);
                         the comparison as JSON
${HELP_HELP}

Exit status: 0 nothing regressed, 1 something regressed, 2 usage or a journal that cannot be
read. See docs/compare.md.
`;

export const FORMATS = ["table", "md", "markdown", "junit", "html", "json"] as const;
export type CompareFormat = (typeof FORMATS)[number];

/** The flags compare shares with the run verb's --compare-to. */
export const THRESHOLD_FLAG = { threshold: percent({ takes: "a number of percent from 0 to 100 (20 or 20%): the smallest change that matters" }) };

/** A comparison in one of its formats (the HTML page's chart code is loaded only for it). */
export async function renderComparison(format: CompareFormat, c: Comparison, base: Journal, next: Journal, io: CliIO): Promise<string> {
  switch (format) {
    case "table": {
      const { renderCompareTable } = await import("../report/compare/table.js");
      return renderCompareTable(c, { color: stdoutIsPretty(io) });
    }
    case "md":
    case "markdown": {
      const { renderCompareMarkdown } = await import("../report/compare/markdown.js");
      return renderCompareMarkdown(c);
    }
    case "junit": {
      const { renderCompareJUnit } = await import("../report/compare/junit.js");
      return renderCompareJUnit(c);
    }
    case "html": {
      const { renderCompareHtml } = await import("../report/compare/html.js");
      return renderCompareHtml(c, base, next);
    }
    case "json":
      return `${JSON.stringify(c, null, 2)}\n`;
  }
}

/** The verdict as an exit status: 1 when a figure regressed. */
export function comparisonExit(c: Comparison): number {
  return c.regressed ? ExitCode.ExpectationFailed : ExitCode.Ok;
}

/** `--threshold 20` → compareRuns' 0.2; not given: compare's default. */
export function thresholdOption(percentGiven: number | undefined): { threshold?: number } {
  return percentGiven === undefined ? {} : { threshold: percentGiven / 100 };
}

export const run = defineVerb(
  {
    name: "compare",
    help: HELP,
    flags: { ...THRESHOLD_FLAG, format: choice(FORMATS, "table") },
    positionals: { missing: "needs two runs: BASE and NEW (each a journal.json or a run directory)" },
    example: "chaos-run compare chaos-run-report/<base run>/ chaos-run-report/<new run>/",
  },
  async ({ ctx, values, positionals }) => {
    if (positionals.length !== 2) {
      throw new UsageError(`compare takes two runs, BASE and NEW, got ${positionals.length}`, { hint: "chaos-run compare chaos-run-report/<base run>/ chaos-run-report/<new run>/" });
    }
    const [base, next] = positionals.map(loadJournal) as [LoadedJournal, LoadedJournal];
    const c = compareRuns(base.journal, next.journal, thresholdOption(values.threshold));
    ctx.io.stdout.write(await renderComparison(values.format, c, base.journal, next.journal, ctx.io));
    return comparisonExit(c);
  },
);
