// `chaos-run history` as text: one line per stored run, newest first, in columns as kubectl
// prints them — when, which scenario, its verdict and exit code, how long it took, the figures it
// is remembered by, and the name `report --from-cluster` takes. What a ConfigMap says is anyone's
// with the right to edit it: every cell is shown with its control characters escaped. Pure.
import { formatDuration } from "../expect/format.js";
import { terminalLine } from "../report/sanitise.js";
import { figureWords } from "./figures.js";
import type { StoredRunRef } from "./stored.js";

/** The most figures a line shows (the result's summary has them all). */
const FIGURES_SHOWN = 3;

function figuresCell(r: StoredRunRef): string {
  const figures = r.summary?.figures ?? [];
  if (figures.length === 0) return "-";
  const shown = figures.slice(0, FIGURES_SHOWN).map(figureWords).join(", ");
  return figures.length > FIGURES_SHOWN ? `${shown} (+${figures.length - FIGURES_SHOWN})` : shown;
}

function verdictCell(r: StoredRunRef): string {
  const e = r.summary?.expectations;
  return e === undefined || e.total === 0 ? r.verdict : `${r.verdict} (${e.held}/${e.total})`;
}

/** The table, a header line and one line per run; `namespaces`: a NAMESPACE column (history -A). */
export function historyTable(runs: readonly StoredRunRef[], namespaces: boolean): string {
  const rows = runs.map((r) => [
    ...(namespaces ? [r.namespace] : []),
    r.startedAt === "" ? "-" : r.startedAt.replace(/\.\d+Z$/, "Z"),
    r.scenario,
    verdictCell(r),
    r.exitCode === undefined ? "-" : String(r.exitCode),
    r.durationMs === undefined ? "-" : formatDuration(Math.round(r.durationMs / 100) * 100),
    figuresCell(r),
    r.name,
  ]);
  const header = [...(namespaces ? ["NAMESPACE"] : []), "STARTED", "SCENARIO", "VERDICT", "EXIT", "DURATION", "FIGURES", "RESULT"];
  const cells = [header, ...rows].map((row) => row.map(terminalLine));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("   "))
    .join("\n")
    .concat("\n");
}
