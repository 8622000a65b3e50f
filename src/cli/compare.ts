// chaos-run compare BASE NEW [--threshold P] [--format table|md|junit|html|json]: judges a run
// against another from their journals alone — every figure measured in both, where their steps
// match, against the runs' own noise — and exits 1 when something regressed. BASE and NEW are
// files, or runs kept in the cluster (--from-cluster NAME, --last N SCENARIO: compare-stored.ts,
// the only part that connects). The run verb's --compare-to does the same at the end of a run
// (compare-to.ts).
import { compareRuns, loadJournal, type CompareOptions, type Comparison } from "../compare/index.js";
import { ExitCode, UsageError } from "../errors.js";
import type { Journal } from "../report/journal.js";
import { CLUSTER_HELP } from "./cluster.js";
import { HELP_HELP, minChangeFlag } from "./common-flags.js";
import type { RunToCompare } from "./compare-stored.js";
import { choice, percent, texts, wholeNumber } from "./flags.js";
import { stdoutIsPretty, type CliIO, type VerbContext } from "./io.js";
import { defineVerb, type FlagValues } from "./verb.js";

const HELP = `Usage: chaos-run compare BASE NEW [options]
       chaos-run compare --from-cluster NAME [--from-cluster NAME | NEW] [options]
       chaos-run compare --last N SCENARIO [options]

Compares two runs from their journals: BASE and NEW are each a run's journal.json or its
directory (chaos-run-report/<scenario>-<time>/), or a run kept in the cluster (run --record,
and every run inside the cluster). For each step and each figure measured in both runs — every
probe metric, the latency a fault added against the one configured, what a fault measured
itself (recovery time, throttling, the HTTP proxy's counts) — it shows base, new, the change
and a verdict: regressed, improved, changed (a figure with no better direction) or within
noise, and the rule that judged it. Samples of a continuous probe (every:) are judged by the
Mann–Whitney U test and the effect size; a single value against both runs' own noise and the
threshold. Steps that do not match (another fault, another name) are not compared, and the
output says so.

Options:
  --threshold P          the smallest change that matters, relative to the base value
                         (default 20%: 20 or 20%)
  --min-change D         the smallest change of a duration that matters, whatever --threshold
                         says (e.g. 1ms: sub-millisecond timings move more on a busy machine)
  --format table|md|junit|html|json
                         the terminal table (default); Markdown for a pull-request comment;
                         JUnit XML (a regression is a failed test case); one self-contained
                         HTML page (both runs' timelines one above the other, on the same axes);
                         the comparison as JSON
  --from-cluster NAME    a run kept in the cluster (its result NAME in namespace -n: chaos-run
                         history lists them); once: BASE (NEW is a file), twice: BASE then NEW
  --last N SCENARIO      the newest stored run of SCENARIO against the Nth newest (--last 2: the
                         one before it)
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 nothing regressed, 1 something regressed, 2 usage or a journal that cannot be
read (or no such run kept), 3 the cluster could not be reached or refused the read (only for
runs kept there). See docs/compare.md.
`;

export const FORMATS = ["table", "md", "markdown", "junit", "html", "json"] as const;
export type CompareFormat = (typeof FORMATS)[number];

/** The flags compare shares with the run verb's --compare-to (as --compare-threshold, --compare-min-change). */
export const THRESHOLD_FLAG = { threshold: percent({ takes: "a number of percent from 0 to 100 (20 or 20%): the smallest change that matters" }) };

/** What the compare flags say: --threshold P (percent) and --min-change D (ms), each when given. */
export interface CompareFlags {
  readonly thresholdPercent: number | undefined;
  readonly minChangeMs: number | undefined;
}

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

/** `--threshold 20 --min-change 1ms` → compareRuns' { threshold: 0.2, minChangeMs: 1 }; what is not given: compare's default. */
export function compareOptions(flags: CompareFlags): CompareOptions {
  return {
    ...(flags.thresholdPercent === undefined ? {} : { threshold: flags.thresholdPercent / 100 }),
    ...(flags.minChangeMs === undefined ? {} : { minChangeMs: flags.minChangeMs }),
  };
}

/** The two runs compared, with what their loading noted (a stored run trimmed to fit the cluster) among the comparison's notes. */
export function comparePair(base: RunToCompare, next: RunToCompare, options: CompareOptions): Comparison {
  const c = compareRuns(base.journal, next.journal, options);
  const notes = [base.note, next.note].filter((n): n is string => n !== undefined);
  return notes.length === 0 ? c : { ...c, notes: [...c.notes, ...notes] };
}

const FLAGS = { ...THRESHOLD_FLAG, "min-change": minChangeFlag(), format: choice(FORMATS, "table"), "from-cluster": texts(), last: wholeNumber({ min: 2, max: 1000, of: "runs" }) };

const EXAMPLE = "chaos-run compare chaos-run-report/<base run>/ chaos-run-report/<new run>/";

/** BASE and NEW, from files, the cluster, or both (stored runs first). */
async function runsToCompare(ctx: VerbContext, values: FlagValues<typeof FLAGS>, positionals: readonly string[]): Promise<[RunToCompare, RunToCompare]> {
  const stored = values["from-cluster"];
  if (values.last !== undefined) {
    if (stored.length > 0) throw new UsageError("compare takes --last N SCENARIO or --from-cluster NAME, not both");
    const [scenario, ...more] = positionals;
    if (scenario === undefined || more.length > 0)
      throw new UsageError(`--last ${values.last} takes one scenario's name, got ${positionals.length}`, { hint: `chaos-run compare --last ${values.last} SCENARIO` });
    const { storedLatest } = await import("./compare-stored.js");
    return storedLatest(ctx, scenario, values.last);
  }
  if (stored.length + positionals.length !== 2) {
    const given = stored.length === 0 ? `${positionals.length}` : `${stored.length} from the cluster and ${positionals.length} file${positionals.length === 1 ? "" : "s"}`;
    throw new UsageError(`compare takes two runs, BASE and NEW, got ${given}`, { hint: EXAMPLE });
  }
  const fromCluster = stored.length === 0 ? [] : await (await import("./compare-stored.js")).storedByName(ctx, stored);
  const fromFiles = positionals.map((p): RunToCompare => ({ journal: loadJournal(p).journal, note: undefined }));
  return [...fromCluster, ...fromFiles] as [RunToCompare, RunToCompare];
}

export const run = defineVerb({ name: "compare", help: HELP, flags: FLAGS, positionals: {}, example: EXAMPLE }, async ({ ctx, values, positionals }) => {
  if (positionals.length === 0 && values["from-cluster"].length === 0 && values.last === undefined) {
    throw new UsageError("compare needs two runs: BASE and NEW (each a journal.json or a run directory)", { hint: EXAMPLE });
  }
  const [base, next] = await runsToCompare(ctx, values, positionals);
  const c = comparePair(base, next, compareOptions({ thresholdPercent: values.threshold, minChangeMs: values["min-change"] }));
  ctx.io.stdout.write(await renderComparison(values.format, c, base.journal, next.journal, ctx.io));
  return comparisonExit(c);
});
