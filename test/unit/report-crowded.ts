// Journals for the HTML report's charts: the demo's (a real run in the lab, its continuous
// probe's samples beside one-shot runs), and a crowded one made from it — three more faults
// applied a second apart with long names, and expectations whose thresholds lie within a few
// ms of each other on the same samples — so that every label wants nearly the same place.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Journal, JournalExpectation, JournalFault } from "../../src/report/journal.js";

const root = join(import.meta.dirname, "../..");

export function demoJournal(): Journal {
  return JSON.parse(readFileSync(join(root, "test/fixtures/report/demo/journal.json"), "utf8")) as Journal;
}

const iso = (j: Journal, ms: number): string => new Date(Date.parse(j.startedAt) + ms).toISOString();

/** The demo's journal with `faults` more faults and `expectations` more expectations, all close together. */
export function crowdedJournal(options: { faults: number; expectations: number }): Journal {
  const j = demoJournal();
  const [fault] = j.faults;
  const [judged] = j.expectations.filter((e) => e.series !== undefined && e.metric === "latency.p50");
  if (fault === undefined || judged === undefined) throw new Error("the demo's journal has a fault and a series' latency.p50 expectation");
  const faults: JournalFault[] = Array.from({ length: options.faults }, (_, i) => ({
    ...fault,
    step: 10 + i,
    stepName: `a fault with a long name, number ${i + 1}, applied a second after the one before`,
    faultId: `${fault.faultId}-crowd${i}`,
    appliedAt: iso(j, 30_000 + i * 1000),
    revertedAt: iso(j, 34_000 + i * 1000),
  }));
  const verdicts = ["pass", "fail", "error"] as const;
  const expectations: JournalExpectation[] = Array.from({ length: options.expectations }, (_, i) => {
    const limit = 48 + (i % 5);
    const verdict = verdicts[i % verdicts.length] ?? "pass";
    return { ...judged, metric: i % 2 === 0 ? "latency.p50" : "latency.p95.max", threshold: `< baseline.latency.p50 (0.979ms) + ${limit - 1}ms = ${limit}ms`, limit, verdict };
  });
  return { ...j, faults: [...j.faults, ...faults], expectations: [...j.expectations, ...expectations] };
}
