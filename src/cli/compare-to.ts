// `chaos-run run FILE --compare-to BASE`: a run judged against a stored one at its end, after its
// own verdict, so that a CI stage can gate on "no worse than last release". BASE is read before
// anything runs (an unreadable one is a usage error, exit 2, with nothing touched); at the end
// the comparison is written beside the run's report (compare.md, compare.html, compare.json in
// its directory), its summary printed under the run's table, its Markdown appended to
// $GITHUB_STEP_SUMMARY. Exit status: a regression makes a run that passed exit 1; a run that
// failed stays 1, and one that could not finish keeps its own (2, 3, 4, 130, 143) and is not
// compared — its journal holds only part of a run.
// `--compare-to-last` takes BASE from the cluster instead: the newest run of the same scenario
// that passed, among those kept there (--record, and every run inside the cluster: a CronJob's
// runs each judged against the last good one). It is read once the run has connected, before
// anything is touched, from where the run keeps its own; with none kept yet, the run says so
// and is not compared (the first run of a schedule has nothing to be judged against).
import { join } from "node:path";
import { compareRuns, loadJournal } from "../compare/index.js";
import { ExitCode, UsageError } from "../errors.js";
import { renderCompareHtml } from "../report/compare/html.js";
import { renderCompareMarkdown } from "../report/compare/markdown.js";
import { renderCompareSummary } from "../report/compare/table.js";
import { appendFile, writeAtomic, writeJsonAtomic } from "../report/files.js";
import type { ClusterRecords } from "../kube/types.js";
import type { Journal } from "../report/journal.js";
import { compareOptions, type CompareFlags } from "./compare.js";
import { errorText, stdoutIsPretty, type VerbContext } from "./io.js";

/** Judges a finished run against the base: `exitCode` is the run's own; returns the run's exit status with the comparison's verdict in it. */
export type CompareTo = (journal: Journal, runDir: string, exitCode: number) => Promise<number>;

/** Where a run finds its base once connected: a file's read before, or the cluster's newest good run of its scenario. */
export type Comparing = (cluster: ClusterRecords, namespace: string, scenario: string) => Promise<CompareTo | undefined>;

/**
 * The base run read and checked now, before the run: --compare-to compares one scenario's run,
 * so several scenario files are a usage error, as are --compare-threshold and --compare-min-change without it.
 */
export function comparingTo(ctx: VerbContext, basePath: string | undefined, flags: CompareFlags, scenarios: number, last = false): Comparing {
  if (basePath !== undefined && last) throw new UsageError("--compare-to BASE and --compare-to-last each name the base; give one", { hint: "chaos-run run FILE --compare-to-last" });
  if (basePath === undefined && !last)
    throw new UsageError(`${flags.thresholdPercent !== undefined ? "--compare-threshold" : "--compare-min-change"} is for --compare-to BASE, which is not given`, {
      hint: "chaos-run run FILE --compare-to chaos-run-report/<base run>/",
    });
  if (scenarios > 1) {
    const flag = last ? "--compare-to-last" : "--compare-to";
    throw new UsageError(`${flag} judges one scenario's run against a stored one; got ${scenarios} scenario files`, { hint: `run each scenario with its own ${flag}` });
  }
  if (basePath === undefined) return (cluster, namespace, scenario) => lastGoodRun(ctx, cluster, namespace, scenario, flags);
  const base = loadJournal(basePath);
  const judge = judgeAgainst(ctx, base.journal, base.file, flags);
  return () => Promise.resolve(judge);
}

/** --compare-to-last: the newest stored run of the scenario that passed, or undefined (said) when none is kept. */
async function lastGoodRun(ctx: VerbContext, cluster: ClusterRecords, namespace: string, scenario: string, flags: CompareFlags): Promise<CompareTo | undefined> {
  const { listStoredRuns, loadStoredRun } = await import("../results/index.js");
  const ref = (await listStoredRuns(cluster, namespace, scenario)).find((r) => r.verdict === "passed");
  if (ref === undefined) {
    ctx.io.stderr.write(`chaos-run: nothing to compare with: no run of ${scenario} that passed is kept in namespace ${namespace} (runs are kept with --record, and always inside the cluster)\n`);
    return undefined;
  }
  const { fromStored } = await import("./compare-stored.js");
  const base = fromStored(await loadStoredRun(cluster, namespace, ref.name), "base");
  if (base.note !== undefined) ctx.io.stderr.write(`chaos-run: ${base.note}\n`);
  return judgeAgainst(ctx, base.journal, `result ${namespace}/${ref.name}`, flags);
}

/** The run judged against `base` (named `where` in what is said) at its end. */
function judgeAgainst(ctx: VerbContext, base: Journal, where: string, flags: CompareFlags): CompareTo {
  return async (journal, runDir, exitCode) => {
    if (journal.status !== "passed" && journal.status !== "failed") {
      ctx.io.stderr.write(errorText(`not compared with ${where}: the run ended ${journal.status} (exit ${exitCode}), its journal holds only part of it`, undefined, ""));
      return exitCode;
    }
    const c = compareRuns(base, journal, compareOptions(flags));
    const markdown = renderCompareMarkdown(c);
    const files = { md: join(runDir, "compare.md"), html: join(runDir, "compare.html"), json: join(runDir, "compare.json") };
    try {
      writeAtomic(files.md, markdown);
      writeAtomic(files.html, renderCompareHtml(c, base, journal));
      writeJsonAtomic(files.json, c);
    } catch (e) {
      ctx.io.stderr.write(`chaos-run: cannot write the comparison in ${runDir}: ${String(e)}\n`);
    }
    const summary = ctx.io.env["GITHUB_STEP_SUMMARY"];
    if (summary !== undefined && summary !== "") appendFile(summary, markdown);
    ctx.io.stdout.write(`\ncompared with ${where}:\n${renderCompareSummary(c, { color: stdoutIsPretty(ctx.io) })}comparison: ${files.html} (${files.md}, ${files.json})\n`);
    return exitCode === ExitCode.Ok && c.regressed ? ExitCode.ExpectationFailed : exitCode;
  };
}
