// The lab tiers retry a failed test once (real kernels and kubelets on two shared cores have
// stalls no test controls). A test that passed only on its retry is not hidden: this reporter
// prints it, with the error of the attempt that failed, on a line of its own that begins with
// FLAKY (scripts/test-labs.mjs repeats those lines after its summary).
import { relative } from "node:path";
import type { Reporter, TestCase } from "vitest/node";

export default class FlakyReporter implements Reporter {
  onTestCaseResult(testCase: TestCase): void {
    const retries = testCase.diagnostic()?.retryCount ?? 0;
    const result = testCase.result();
    if (retries === 0 || result.state !== "passed") return;
    // (a test that passed on a retry keeps the errors of the attempts before)
    const first = result.errors?.[0]?.message.split("\n")[0] ?? "(its error was not kept)";
    process.stdout.write(`FLAKY ${relative(process.cwd(), testCase.module.moduleId)} > ${testCase.fullName}: passed on retry ${retries}, after: ${first}\n`);
  }
}

/**
 * A `beforeAll` that produces what a file's tests judge (a whole scenario run) is not covered by
 * vitest's retry. This gives it the same policy: when `problem` names one in the first attempt's
 * result, the work runs once more (unless CHAOS_RUN_TEST_RETRY=0), and if the second attempt is
 * clean the first one's problem is printed as a FLAKY line; either way the tests judge the last.
 */
export async function onceMore<T>(what: string, attempt: (n: number) => Promise<T>, problem: (result: T) => string | undefined): Promise<T> {
  const first = await attempt(0);
  const wrong = problem(first);
  if (wrong === undefined || Number(process.env.CHAOS_RUN_TEST_RETRY ?? 1) < 1) return first;
  const second = await attempt(1);
  if (problem(second) === undefined) process.stdout.write(`FLAKY ${what}: passed on retry 1, after: ${wrong.split("\n")[0]}\n`);
  return second;
}
