// A comparison in Markdown, for a pull-request comment or $GITHUB_STEP_SUMMARY: the summary line
// first, then what regressed, improved or changed (each with its rule in full), what was not
// compared and why, and the figures within noise folded away (each with its rule in brief).
// Every text that came from the scenario or the pods is made inert (report/sanitise.ts).
import { markdownCode, markdownText } from "../sanitise.js";
import type { Comparison, ComparisonRow, Verdict } from "./comparison.js";
import { byVerdict, changeText, configuredText, countsText, measureText, ruleBrief, runText, settingsText, sourceText, summaryLine, unmatchedText } from "./words.js";

const md = markdownText;

/** Rows within noise shown at most: a comment has a size limit (GitHub's is 65,536 characters). */
const NOISE_ROWS_SHOWN = 300;

const HEADINGS: Readonly<Record<Verdict, string>> = { regressed: "❌ Regressed", improved: "✅ Improved", changed: "🔄 Changed (no better direction)", "within noise": "Within noise" };

function rowsTable(rows: readonly ComparisonRow[], rule: (r: ComparisonRow) => string): string[] {
  const out = ["| Step | Probe | Metric | Base | New | Change | Rule |", "|---|---|---|---|---|---|---|"];
  for (const r of rows) {
    out.push(
      `| ${md(r.section)} | ${md(sourceText(r))} | ${markdownCode(r.metric)}${md(configuredText(r))} | ${md(measureText(r.base, r))} | ${md(measureText(r.new, r))} | ${md(changeText(r))} | ${md(rule(r))} |`,
    );
  }
  return out;
}

function withinNoise(rows: readonly ComparisonRow[]): string[] {
  if (rows.length === 0) return [];
  const shown = rows.slice(0, NOISE_ROWS_SHOWN);
  const more = rows.length - shown.length;
  return [
    `<details><summary>${rows.length} within noise</summary>`,
    "",
    ...rowsTable(shown, ruleBrief),
    ...(more > 0 ? ["", `_and ${more} more within noise: see \`--format html\` or \`--format json\`_`] : []),
    "",
    "</details>",
    "",
  ];
}

export function renderCompareMarkdown(c: Comparison): string {
  const out = [`### ${c.regressed ? "❌" : "✅"} ${md(summaryLine(c))}`, "", `${md(runText("base", c))}  `, `${md(runText("new", c))}`, ""];
  for (const n of c.notes) out.push(`> ⚠️ ${md(n)}`, "");
  const rows = byVerdict(c.rows);
  for (const verdict of ["regressed", "improved", "changed"] as const) {
    const these = rows.get(verdict) ?? [];
    if (these.length > 0) out.push(`#### ${HEADINGS[verdict]} (${these.length})`, "", ...rowsTable(these, (r) => r.rule.text), "");
  }
  if (c.unmatched.length > 0) out.push(`#### Not compared (${c.unmatched.length})`, "", ...c.unmatched.map((u) => `- ${md(unmatchedText(u))}`), "");
  out.push(...withinNoise(rows.get("within noise") ?? []));
  out.push(`<sub>${md(`${countsText(c)}; judged by: ${settingsText(c)}`)}</sub>`, "");
  return out.join("\n");
}
