// The terminal view of a comparison, in the run's table style (cli-table3): every figure measured
// in both runs in the comparison's order (the steady state, then each step), its values, the
// change, the verdict and the rule in brief; under it each verdict that is not "within noise"
// with its rule in full, what was not compared and why, the notes, and the summary line (that
// summary alone is what `run --compare-to` prints under the run's own table). Every
// text is sanitised for the terminal (names and words that came from the scenario and the pods)
// before chaos-run's own colours are added.
import Table from "cli-table3";
import { terminalLine } from "../sanitise.js";
import type { Comparison, ComparisonRow, Verdict } from "./comparison.js";
import { changeText, measureText, metricText, rowName, ruleBrief, runText, settingsText, sourceText, summaryLine, unmatchedText, verdictText } from "./words.js";

const COLOR: Readonly<Record<Verdict, string | undefined>> = { regressed: "31", improved: "32", changed: "33", "within noise": undefined };

function paint(text: string, code: string | undefined, color: boolean): string {
  return color && code !== undefined ? `\u001b[${code}m${text}\u001b[39m` : text;
}

const HEAD = ["Metric", "Base", "New", "Change", "Verdict", "Rule"];

/** The cells of a row, sanitised; the verdict still to be painted. */
function cellsOf(r: ComparisonRow): string[] {
  return [metricText(r), measureText(r.base, r), measureText(r.new, r), changeText(r), verdictText(r.verdict), ruleBrief(r)].map(terminalLine);
}

/**
 * The figures, a table per section and source (`step 2 add latency · pulse on nginx` above its
 * metrics), every table with the same column widths so that they read as one; a table without
 * lines between its rows, so that 154 figures stay about 154 lines.
 */
function figuresTables(c: Comparison, color: boolean): string[] {
  const groups = new Map<string, ComparisonRow[]>();
  for (const r of c.rows) {
    const heading = `${r.section} · ${sourceText(r)}`;
    groups.set(heading, [...(groups.get(heading) ?? []), r]);
  }
  const all = [HEAD, ...c.rows.map(cellsOf)];
  const colWidths = HEAD.map((_, i) => Math.min(MAX_WIDTH, Math.max(...all.map((cells) => [...(cells[i] ?? "")].length))) + 2);
  const out: string[] = [];
  for (const [heading, rows] of groups) {
    const table = new Table({
      head: out.length === 0 ? HEAD : [],
      colWidths,
      style: color ? { head: ["bold"] } : { head: [], border: [] },
      chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
      wordWrap: true,
    });
    for (const r of rows) {
      const cells = cellsOf(r);
      cells[4] = paint(cells[4] ?? "", COLOR[r.verdict], color);
      table.push(cells);
    }
    out.push(paint(terminalLine(heading), "1", color), table.toString());
  }
  return out;
}

/** A column grows to its longest text up to this; longer texts wrap. */
const MAX_WIDTH = 40;

/** What the tables come to, without them: each verdict beyond the noise with its rule in full, what was not compared, the notes, the summary line. */
export function renderCompareSummary(c: Comparison, options: { readonly color: boolean }): string {
  const cell = terminalLine;
  const lines: string[] = [];
  for (const r of c.rows.filter((x) => x.verdict !== "within noise")) lines.push(`${paint(verdictText(r.verdict), COLOR[r.verdict], options.color)} ${cell(`${rowName(r)}: ${r.rule.text}`)}`);
  for (const u of c.unmatched) lines.push(cell(`not compared: ${unmatchedText(u)}`));
  for (const n of c.notes) lines.push(cell(`note: ${n}`));
  lines.push(cell(`judged by: ${settingsText(c)}`));
  lines.push(paint(cell(summaryLine(c)), c.regressed ? "31" : "32", options.color));
  return `${lines.join("\n")}\n`;
}

export function renderCompareTable(c: Comparison, options: { readonly color: boolean }): string {
  const head = [terminalLine(runText("base", c)), terminalLine(runText("new", c)), ...figuresTables(c, options.color)];
  return `${head.join("\n")}\n${renderCompareSummary(c, options)}`;
}
