// A comparison as one self-contained HTML page (styles inline, no script, nothing fetched), a
// pure function of the comparison and the two journals it was made from: the verdict, the notes,
// each probe's timelines of both runs one above the other on the same axes (report/chart/: one
// domain for both, a panel each), then the figures — regressed, improved and changed first with
// the rule that judged each, those within noise folded away — and what was not compared, and why.
import { panelSvg, svgElement } from "../chart/svg.js";
import { domainFor, timelineOf, type ProbeTimeline } from "../chart/timeline.js";
import { STYLE } from "../html.js";
import type { Journal } from "../journal.js";
import { htmlText } from "../sanitise.js";
import { probeCharts, probesOf, type Chart } from "../series.js";
import type { Comparison, ComparisonRow, Verdict } from "./comparison.js";
import { byVerdict, changeText, measureText, metricText, runText, settingsText, sourceText, summaryLine, unmatchedText, verdictText } from "./words.js";

const esc = htmlText;

const COMPARE_STYLE = `
.v-REGRESSED{background:#cf222e}.v-NO-REGRESSION{background:#1a7f37}
td.regressed{color:#cf222e;font-weight:600}td.improved{color:#1a7f37;font-weight:600}td.changed{color:#9a6700;font-weight:600}
td.num{white-space:nowrap}table.figures{font-size:13px}table.figures td:last-child{width:36%}
`;

const HEADINGS: Readonly<Record<Exclude<Verdict, "within noise">, string>> = { regressed: "Regressed", improved: "Improved", changed: "Changed (no better direction)" };

/** Both runs drawn for one chart of a probe: the base run above, the new one under it, on the same axes. */
function pairSvg(probe: string, chart: Chart, base: Journal, next: Journal): string {
  const titled = (t: ProbeTimeline, side: string): ProbeTimeline => ({ ...t, chart: { ...t.chart, title: `${side}: ${t.chart.title}` } });
  const timelines = [titled(timelineOf(base, probe, chart, true), `base ${base.runId}`), titled(timelineOf(next, probe, chart, true), `new ${next.runId}`)];
  const domain = domainFor(timelines);
  const panels: string[] = [];
  let top = 0;
  for (const t of timelines) {
    const panel = panelSvg(t, domain, top);
    panels.push(...panel.svg);
    top = panel.bottom;
  }
  return svgElement(`${probe} ${chart.title}: the base run above the new one, on the same axes`, top, panels);
}

/** The charts of a probe in either run, by title, in the base run's order. */
function chartsOf(probe: string, kind: string, base: Journal, next: Journal): Chart[] {
  const charts = new Map<string, Chart>();
  for (const c of [...probeCharts(base, probe, kind), ...probeCharts(next, probe, kind)]) if (!charts.has(c.title)) charts.set(c.title, c);
  return [...charts.values()];
}

/** Each probe that ran in both runs, its charts with both runs; the probes of one run only, named. */
function timelinesSection(base: Journal, next: Journal): string[] {
  const out = [
    `<h2>Timelines</h2><p class="muted">Each probe's samples in both runs, the base run above the new one, on the same axes (seconds since each run started). Shaded: the faults, from applied to reverted. Green band: the saved baseline.</p>`,
  ];
  const newProbes = new Map(probesOf(next).map((p) => [p.probe, p.kind]));
  const baseProbes = probesOf(base);
  for (const { probe, kind } of baseProbes) {
    if (newProbes.get(probe) !== kind) continue;
    out.push(`<section class="probe" data-probe="${esc(probe)}"><h3>probe ${esc(probe)} <span class="muted">(${esc(kind)})</span></h3>`);
    for (const chart of chartsOf(probe, kind, base, next)) out.push(pairSvg(probe, chart, base, next));
    out.push(`</section>`);
  }
  const drawn = new Set(baseProbes.filter((p) => newProbes.get(p.probe) === p.kind).map((p) => p.probe));
  const apart = [...baseProbes.map((p) => ({ ...p, side: "base" })), ...probesOf(next).map((p) => ({ ...p, side: "new" }))].filter((p) => !drawn.has(p.probe));
  if (drawn.size === 0) out.push(`<p class="muted">No probe ran in both runs.</p>`);
  if (apart.length > 0) out.push(`<p class="muted">Not drawn: ${apart.map((p) => esc(`probe ${p.probe} (${p.kind}) of the ${p.side} run`)).join("; ")} — not in the other run as the same kind.</p>`);
  return out;
}

function rowsTable(rows: readonly ComparisonRow[]): string {
  const body = rows.map(
    (r) =>
      `<tr><td>${esc(r.section)}</td><td>${esc(sourceText(r))}</td><td class="mono">${esc(metricText(r))}</td><td class="num">${esc(measureText(r.base, r))}</td><td class="num">${esc(measureText(r.new, r))}</td><td class="num">${esc(changeText(r))}</td><td class="${r.verdict === "within noise" ? "" : r.verdict}">${esc(verdictText(r.verdict))}</td><td>${esc(r.rule.text)}</td></tr>`,
  );
  return `<table class="figures"><thead><tr><th>Step</th><th>Probe</th><th>Metric</th><th>Base</th><th>New</th><th>Change</th><th>Verdict</th><th>Rule</th></tr></thead><tbody>${body.join("")}</tbody></table>`;
}

/** The figures, each with its rule in full: those beyond the noise first, those within it folded. */
function figuresSection(c: Comparison): string[] {
  const rows = byVerdict(c.rows);
  const out = [`<h2>Figures</h2><p class="muted">${esc(`Judged by: ${settingsText(c)}. Base and new of samples are their medians; their change is the Hodges–Lehmann shift.`)}</p>`];
  for (const verdict of ["regressed", "improved", "changed"] as const) {
    const these = rows.get(verdict) ?? [];
    if (these.length > 0) out.push(`<h3>${HEADINGS[verdict]} (${these.length})</h3>`, rowsTable(these));
  }
  const noise = rows.get("within noise") ?? [];
  if (noise.length > 0) out.push(`<details><summary>${noise.length} within noise</summary>${rowsTable(noise)}</details>`);
  if (c.rows.length === 0) out.push(`<p class="muted">No figure was measured in both runs.</p>`);
  return out;
}

/** The comparison of two runs, as one self-contained HTML document. */
export function renderCompareHtml(c: Comparison, base: Journal, next: Journal): string {
  const word = c.regressed ? "REGRESSED" : "NO REGRESSION";
  const out = [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${esc(`chaos-run compare ${c.new.scenario}: ${word}`)}</title><style>${STYLE}${COMPARE_STYLE}</style></head><body><main>`,
    `<h1><span class="verdict v-${word.replace(" ", "-")}">${esc(word)}</span>${esc(c.new.scenario)}</h1>`,
    `<p>${esc(summaryLine(c))}</p>`,
    `<p class="muted">${esc(runText("base", c))}<br>${esc(runText("new", c))}</p>`,
  ];
  if (c.notes.length > 0) out.push(`<ul class="notes">${c.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`);
  out.push(...timelinesSection(base, next), ...figuresSection(c));
  out.push(`<h2>Not compared</h2>`);
  out.push(
    c.unmatched.length === 0
      ? `<p class="muted">Everything measured in one run was measured in the other.</p>`
      : `<ul class="unmatched">${c.unmatched.map((u) => `<li>${esc(unmatchedText(u))}</li>`).join("")}</ul>`,
  );
  out.push(`<p class="muted">Written by chaos-run compare from the two runs' journals.</p>`, `</main></body></html>\n`);
  return out.join("\n");
}
