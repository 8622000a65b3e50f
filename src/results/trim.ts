// What goes when a journal would not fit the API's size limit for one object, in the order that
// loses the least: the commands' and probes' output first (the measured values stay), then the
// continuous probes' samples thinned (every k-th kept, the last always, their aggregates too),
// the timeline's text, the agents' command lists, and last the probe runs themselves (each
// expectation keeps its measured value). Each step says what it dropped; the result object
// records it. Pure: a journal in, a smaller copy out.
import type { Journal, JournalProbe } from "../report/journal.js";

export interface Trim {
  /** what this step drops, in words (the result object's chaos-run.dev/trimmed) */
  readonly says: string;
  readonly apply: (j: Journal) => Journal;
}

/** The probes' stdout and stderr, the agents' commands' stdin and stderr: what a run said, not what it measured. */
export function dropOutput(j: Journal): Journal {
  return {
    ...j,
    probes: j.probes.map((p) => ({ ...p, stdout: "", stderr: "" })),
    faults: j.faults.map((f) => ({
      ...f,
      applyCommands: f.applyCommands.map((c) => ({ ...c, stdin: null, stderr: null })),
      revertCommands: f.revertCommands.map((c) => ({ ...c, stdin: null, stderr: null })),
    })),
  };
}

/** Every k-th sample of each continuous probe's series (by its place in the series), and its last; runs once and aggregates stay. */
export function thinSamples(j: Journal, k: number): Journal {
  const last = new Map<string, number>();
  for (const p of j.probes) if (p.series !== undefined && !p.aggregate) last.set(`${p.series}|${p.pod ?? ""}`, Math.max(last.get(`${p.series}|${p.pod ?? ""}`) ?? -1, p.sample ?? 0));
  const keep = (p: JournalProbe): boolean => p.series === undefined || p.aggregate || (p.sample ?? 0) % k === 0 || p.sample === last.get(`${p.series}|${p.pod ?? ""}`);
  return { ...j, probes: j.probes.filter(keep) };
}

/** The ladder, each step taken on what the one before left. */
export function trimLadder(samples: number): Trim[] {
  const thinning: Trim[] = [];
  // 1 in 2, 4, 8… until a series keeps its first and last sample only
  for (let k = 2; k < samples * 2 && k <= 4096; k *= 2) thinning.push({ says: `continuous probes' samples thinned to 1 in ${k}`, apply: (j) => thinSamples(j, k) });
  return [
    { says: "commands' and probes' output dropped", apply: dropOutput },
    ...thinning,
    { says: "the timeline's text dropped", apply: (j) => ({ ...j, timeline: [] }) },
    { says: "the agents' command lists dropped", apply: (j) => ({ ...j, faults: j.faults.map((f) => ({ ...f, applyCommands: [], revertCommands: [] })) }) },
    { says: "every probe run dropped (each expectation keeps its measured value)", apply: (j) => ({ ...j, probes: [] }) },
  ];
}

/** The most samples a series of the journal has: how far thinning can go. */
export function longestSeries(j: Journal): number {
  const counts = new Map<string, number>();
  for (const p of j.probes) if (p.series !== undefined && !p.aggregate) counts.set(p.series, (counts.get(p.series) ?? 0) + 1);
  return Math.max(0, ...counts.values());
}
