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
