// compare's runs kept in the cluster, without a cluster: what a stored run becomes once read
// (its journal checked as a file's is, a note when it was trimmed to fit), the names asked for
// refused before anything connects, and a cluster that cannot be reached (exit 3, not a
// regression and not a usage error). Reading real results is the cluster test's
// (test/cluster/compare.test.ts: --from-cluster and --last on three recorded runs).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { comparePair } from "../../src/cli/compare.js";
import { fromStored } from "../../src/cli/compare-stored.js";
import { loadJournal } from "../../src/compare/load.js";
import { renderCompareMarkdown } from "../../src/report/compare/markdown.js";
import { isChaosRunError } from "../../src/errors.js";
import type { Journal } from "../../src/report/journal.js";
import type { StoredRun, StoredRunRef } from "../../src/results/index.js";
import { cli } from "./compare-io.js";
import { DEMO, LATENCY_X2, demo } from "./compare-journals.js";

function ref(name: string, trimmed: string | undefined): StoredRunRef {
  return {
    namespace: "shop",
    name,
    scenario: "nginx-latency-timeline",
    runId: "k28jj9uo",
    verdict: "passed",
    exitCode: 0,
    startedAt: "2026-12-01T05:34:34.000Z",
    durationMs: 60_000,
    summary: undefined,
    trimmed,
  };
}

const stored = (journal: unknown, trimmed?: string): StoredRun => ({ ref: ref("chaos-run-nginx-latency-timeline-20261201-053434-k28jj9uo", trimmed), journal: journal as Journal });

function refusal(f: () => unknown): { message: string; hint: string | undefined; exitCode: number } {
  try {
    f();
  } catch (e) {
    if (isChaosRunError(e)) return { message: e.message, hint: e.hint, exitCode: e.exitCode };
    throw e;
  }
  throw new Error("not refused");
}

describe("a run kept in the cluster, once read", () => {
  it("is compared as its file would be; one trimmed to fit says what it lost among the comparison's notes", () => {
    const thinned = "continuous samples thinned 1 in 2 (journal 1480 KiB gzipped over the budget)";
    const base = fromStored(stored(demo(), thinned), "base");
    expect(base.note).toBe(`the base run (result shop/chaos-run-nginx-latency-timeline-20261201-053434-k28jj9uo) was trimmed to fit the cluster: ${thinned}`);
    const next = { journal: loadJournal(LATENCY_X2).journal, note: undefined };
    const c = comparePair(base, next, {});
    expect(c.notes).toContain(base.note);
    expect(c.regressed).toBe(true);
    expect(renderCompareMarkdown(c)).toContain("was trimmed to fit the cluster: continuous samples thinned 1 in 2");
    // kept whole: no note, and the verdicts of the files themselves
    const whole = fromStored(stored(demo()), "new");
    expect(whole.note).toBeUndefined();
    const fromFiles = comparePair({ journal: demo(), note: undefined }, next, {});
    expect(comparePair(whole, next, {})).toEqual(fromFiles);
  });

  it("is checked before anything trusts it: whoever may write ConfigMaps in the namespace could have made it (exit 2, the result named)", () => {
    const where = "result shop/chaos-run-nginx-latency-timeline-20261201-053434-k28jj9uo";
    const hint = "chaos-run history -n shop lists the results";
    expect(refusal(() => fromStored(stored(["not", "a", "journal"]), "base"))).toEqual({ message: `${where} is not a chaos-run journal (it has no journalVersion)`, hint, exitCode: 2 });
    expect(refusal(() => fromStored(stored({ ...demo(), journalVersion: 99 }), "base")).message).toBe(`${where} is journal version 99; this chaos-run compares version ${demo().journalVersion}`);
    const bad = refusal(() => fromStored(stored({ ...demo(), steps: "all of them" }), "new"));
    expect(bad).toMatchObject({ hint, exitCode: 2 });
    expect(bad.message).toMatch(new RegExp(`^${where} is not a valid chaos-run journal: .*steps`));
  });
});

describe("chaos-run compare with runs kept in the cluster, before and after connecting", () => {
  const nowhere = ["--kubeconfig", "/nonexistent/kubeconfig"];

  it("refuses a name that is not a result's, or a scenario's, before reading any kubeconfig (exit 2)", async () => {
    const cases: [string[], string][] = [
      [["compare", "--from-cluster", "../../secrets/x", DEMO], `--from-cluster takes a result's name (a ConfigMap's: lower-case letters, digits, '-' and '.'), not "../../secrets/x"`],
      [["compare", "--from-cluster", "chaos-run-a", "--from-cluster", "Chaos_Run"], `--from-cluster takes a result's name (a ConfigMap's: lower-case letters, digits, '-' and '.'), not "Chaos_Run"`],
      [["compare", "--last", "2", "checkout,app=web"], `--last 2 takes a scenario's name (lower-case letters, digits and '-', as its metadata.name), not "checkout,app=web"`],
      [["compare", "--last", "3", "x".repeat(64)], "--last 3 takes a scenario's name"],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...args, ...nowhere]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain("kubeconfig");
    }
  });

  it("a cluster that cannot be reached is exit 3, naming what it was asked for, without a stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-compare-stored-"));
    const kubeconfig = join(dir, "kubeconfig");
    // loopback port 1: nothing listens there, so the connection is refused at once
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]",
        "current-context: x",
      ].join("\n"),
    );
    const byName = await cli(["compare", "--from-cluster", "chaos-run-a", DEMO, "--kubeconfig", kubeconfig]);
    expect(byName.code, byName.stderr).toBe(3);
    expect(byName.stderr).toContain("cannot reach the cluster at https://127.0.0.1:1 (context x) to read the result chaos-run-a in namespace shop");
    expect(byName.stderr).not.toMatch(/\n\s+at /);
    const latest = await cli(["compare", "--last", "2", "checkout", "-n", "other", "--kubeconfig", kubeconfig]);
    expect(latest.code, latest.stderr).toBe(3);
    expect(latest.stderr).toContain("to list results in namespace other");
  });
});
