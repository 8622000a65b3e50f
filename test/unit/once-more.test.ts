// The lab tiers' retry of a beforeAll's work (test/support/flaky-reporter.ts): once more only
// when the first attempt has a problem, never hidden.
import { afterEach, describe, expect, it, vi } from "vitest";
import { onceMore } from "../support/flaky-reporter.js";

const problem = (r: string): string | undefined => (r === "ok" ? undefined : `it was ${r}\nmore`);

describe("onceMore", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it("runs once when the first attempt is clean", async () => {
    const attempt = vi.fn(async () => "ok");
    expect(await onceMore("x", attempt, problem)).toBe("ok");
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it("runs once more after a problem, and prints the first attempt's problem as FLAKY when the second is clean", async () => {
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const results = ["stalled", "ok"];
    const attempt = vi.fn(async (n: number) => results[n] ?? "none");
    expect(await onceMore("file > beforeAll (work)", attempt, problem)).toBe("ok");
    expect(attempt.mock.calls.map((c) => c[0])).toEqual([0, 1]);
    expect(out).toHaveBeenCalledWith("FLAKY file > beforeAll (work): passed on retry 1, after: it was stalled\n");
  });

  it("gives the tests the second attempt when it fails too, and prints no FLAKY", async () => {
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const results = ["stalled", "broken"];
    expect(await onceMore("x", async (n) => results[n] ?? "none", problem)).toBe("broken");
    expect(out).not.toHaveBeenCalled();
  });

  it("does not retry with CHAOS_RUN_TEST_RETRY=0", async () => {
    vi.stubEnv("CHAOS_RUN_TEST_RETRY", "0");
    const attempt = vi.fn(async () => "stalled");
    expect(await onceMore("x", attempt, problem)).toBe("stalled");
    expect(attempt).toHaveBeenCalledTimes(1);
  });
});
