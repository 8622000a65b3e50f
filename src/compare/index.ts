// The public face of compare (issue 23): what `chaos-run compare`, its views and `run
// --compare-to` call. loadJournal reads a journal.json or a run directory (the room's only I/O);
// compareRuns turns two journals into the Comparison every view renders.
export { compareRuns } from "./compare.js";
export { checkJournal, loadJournal, type LoadedJournal } from "./load.js";
export { DEFAULT_SETTINGS, resolveSettings } from "./settings.js";
export { COMPARISON_VERSION, VERDICTS } from "./types.js";
export type { Better, CompareOptions, Comparison, ComparisonRow, Judgement, Measure, MissingRule, NoiseRule, Origin, RankRule, Rule, RunSummary, Settings, Unmatched, Verdict } from "./types.js";
