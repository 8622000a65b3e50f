// `chaos-run run FILE --compare-to BASE`: a run judged against a stored one at its end, after its
// own verdict, so that a CI stage can gate on "no worse than last release". BASE is read before
// anything runs (an unreadable one is a usage error, exit 2, with nothing touched); at the end
// the comparison is written beside the run's report (compare.md, compare.html, compare.json in
// its directory), its summary printed under the run's table, its Markdown appended to
// $GITHUB_STEP_SUMMARY. Exit status: a regression makes a run that passed exit 1; a run that
// failed stays 1, and one that could not finish keeps its own (2, 3, 4, 130, 143) and is not
// compared — its journal holds only part of a run.
import { join } from "node:path";
import { compareRuns, loadJournal } from "../compare/index.js";
import { ExitCode, UsageError } from "../errors.js";
import { renderCompareHtml } from "../report/compare/html.js";
import { renderCompareMarkdown } from "../report/compare/markdown.js";
import { renderCompareSummary } from "../report/compare/table.js";
import { appendFile, writeAtomic, writeJsonAtomic } from "../report/files.js";
import type { Journal } from "../report/journal.js";
import { thresholdOption } from "./compare.js";
import { errorText, stdoutIsPretty, type VerbContext } from "./io.js";

/** Judges a finished run against the base: `exitCode` is the run's own; returns the run's exit status with the comparison's verdict in it. */
export type CompareTo = (journal: Journal, runDir: string, exitCode: number) => Promise<number>;

/**
 * The base run read and checked now, before the run: --compare-to compares one scenario's run,
 * so several scenario files are a usage error, as is --compare-threshold without it.
 */
export function comparingTo(ctx: VerbContext, basePath: string | undefined, thresholdPercent: number | undefined, scenarios: number): CompareTo {
  if (basePath === undefined) throw new UsageError("--compare-threshold is for --compare-to BASE, which is not given", { hint: "chaos-run run FILE --compare-to chaos-run-report/<base run>/" });
  if (scenarios > 1) {
    throw new UsageError(`--compare-to judges one scenario's run against a stored one; got ${scenarios} scenario files`, { hint: "run each scenario with its own --compare-to" });
  }
  const base = loadJournal(basePath);
  return async (journal, runDir, exitCode) => {
    if (journal.status !== "passed" && journal.status !== "failed") {
      ctx.io.stderr.write(errorText(`not compared with ${base.file}: the run ended ${journal.status} (exit ${exitCode}), its journal holds only part of it`, undefined, ""));
      return exitCode;
    }
    const c = compareRuns(base.journal, journal, thresholdOption(thresholdPercent));
    const markdown = renderCompareMarkdown(c);
    const files = { md: join(runDir, "compare.md"), html: join(runDir, "compare.html"), json: join(runDir, "compare.json") };
    try {
      writeAtomic(files.md, markdown);
      writeAtomic(files.html, renderCompareHtml(c, base.journal, journal));
      writeJsonAtomic(files.json, c);
    } catch (e) {
      ctx.io.stderr.write(`chaos-run: cannot write the comparison in ${runDir}: ${String(e)}\n`);
    }
    const summary = ctx.io.env["GITHUB_STEP_SUMMARY"];
    if (summary !== undefined && summary !== "") appendFile(summary, markdown);
    ctx.io.stdout.write(`\ncompared with ${base.file}:\n${renderCompareSummary(c, { color: stdoutIsPretty(ctx.io) })}comparison: ${files.html} (${files.md}, ${files.json})\n`);
    return exitCode === ExitCode.Ok && c.regressed ? ExitCode.ExpectationFailed : exitCode;
  };
}
