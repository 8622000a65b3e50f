// The HTML report: one self-contained file, a pure function of the journal. Styles inline, no
// script, no font, no image, nothing fetched: it reads the same offline, in a CI artefact, or
// attached to an issue. Per probe, a timeline of its samples (hand-made SVG, report/chart/) with
// the fault windows shaded and labelled, the saved baseline as a band and each expectation as a
// line in its verdict's colour; then the expectations' table and the run's facts.
import { formatDuration } from "../expect/format.js";
import { chartSvg } from "./chart/svg.js";
import { VERDICT_TEXT } from "./chart/draw.js";
import { runSpanMs, timelineOf } from "./chart/timeline.js";
import type { Journal } from "./journal.js";
import { htmlText } from "./sanitise.js";
import { probeCharts, probesOf, samplesOf } from "./series.js";
import { faultEffects, effectLine, observationLines, stepLabel, verdictLine, verdictWord } from "./views.js";

/** Every text in the report, in an element or a quoted attribute (report/sanitise.ts). */
const esc = htmlText;

function fmtTime(iso: string | null, t0: number): string {
  return iso === null ? "—" : `+${formatDuration(Math.max(0, Date.parse(iso) - t0))}`;
}

/** The page's styles, the charts' among them; a comparison's page (report/compare/html.ts) has them too. */
export const STYLE = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:1000px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:18px 0 4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;margin-right:8px}
.v-PASS{background:#1a7f37}.v-FAIL{background:#cf222e}.v-ERROR,.v-INTERRUPTED,.v-RUNNING{background:#bf8700}
.muted{color:#59636e}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.pass{color:#1a7f37;font-weight:600}td.fail{color:#cf222e;font-weight:600}td.error{color:#9a6700;font-weight:600}
svg.chart{display:block;max-width:100%;height:auto;margin:4px 0 10px}
.plot{fill:#fff;stroke:#d0d7de}.grid{stroke:#eaeef2}.tick{font-size:11px;fill:#59636e}
.fault{fill:#ff8c00;fill-opacity:.18;stroke:#e36209;stroke-opacity:.5}.fault-edge{fill:#ff8c00;fill-opacity:.07}.fault-label{font-size:11px;fill:#953800;font-weight:600}
.band{fill:#2da44e;fill-opacity:.22}.band-label{font-size:11px;fill:#116329}
.limit{stroke-width:1.5;stroke-dasharray:6 4}.limit-label{font-size:11px;font-weight:600}
.series{fill:none;stroke-width:1.8}.run{fill:none;stroke-width:2}.run.off-scale{stroke-dasharray:3 2}
.labels text{stroke:#fff;stroke-width:3px;stroke-linejoin:round;stroke-opacity:.85;paint-order:stroke}.legend{font-size:12px;fill:#1f2328;font-weight:600}
details{margin:4px 0}summary{cursor:pointer}
ul{margin:4px 0;padding-left:20px}
`;

/** The report of one run, as one self-contained HTML document. */
export function renderHtml(j: Journal): string {
  const word = verdictWord(j);
  const out: string[] = [];
  out.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`);
  out.push(`<title>${esc(`chaos-run ${j.scenario.name}: ${word}`)}</title><style>${STYLE}</style></head><body><main>`);
  out.push(`<h1><span class="verdict v-${word}">${esc(word)}</span>${esc(j.scenario.name)}</h1>`);
  if (j.scenario.description !== null) out.push(`<p>${esc(j.scenario.description)}</p>`);
  out.push(
    `<p class="muted">${esc(verdictLine(j))}<br>run ${esc(j.runId)} · ${esc(j.scenario.file)} · started ${esc(j.startedAt)} · ${esc(formatDuration(runSpanMs(j)))} · context ${esc(j.cluster?.context ?? "?")} (${esc(j.cluster?.server ?? "?")}) · chaos-run ${esc(j.tool.version)}</p>`,
  );
  if (j.message !== null && j.status !== "passed" && j.status !== "failed") out.push(`<pre class="mono">${esc(j.message)}${j.hint !== null ? `\nhint: ${esc(j.hint)}` : ""}</pre>`);
  out.push(...timelinesSection(j), ...expectationsSection(j), ...factsSection(j));
  out.push(`<p class="muted">Written by chaos-run from ${esc(j.scenario.file)}'s journal (journal.json beside this file).</p>`);
  out.push(`</main></body></html>\n`);
  return out.join("\n");
}

/** Per probe, its charts: the first (latency, the value) with the saved baseline's band. */
function timelinesSection(j: Journal): string[] {
  const out = [
    `<h2>Timelines</h2><p class="muted">Each probe's samples over the run (seconds since it started). Shaded: the faults, from applied to reverted. Green band: the saved baseline. Dashed: each expectation, in its verdict's colour, over the samples it judged.</p>`,
  ];
  const probes = probesOf(j);
  if (probes.length === 0) out.push(`<p class="muted">No probe ran.</p>`);
  for (const { probe, kind } of probes) {
    const samples = samplesOf(j, probe);
    const continuous = samples.some((p) => p.series !== undefined);
    out.push(
      `<section class="probe" data-probe="${esc(probe)}"><h3>probe ${esc(probe)} <span class="muted">(${esc(kind)}, ${samples.length} sample${samples.length === 1 ? "" : "s"}${continuous ? `, every ${formatDuration(samples.find((p) => p.everyMs !== undefined)?.everyMs ?? 0)}` : ""})</span></h3>`,
    );
    for (const [i, c] of probeCharts(j, probe, kind).entries()) out.push(chartSvg(timelineOf(j, probe, c, i === 0)));
    out.push(`</section>`);
  }
  return out;
}

/** Every expectation with its threshold, what was measured and its verdict; what each fault did to latency. */
function expectationsSection(j: Journal): string[] {
  const out = [`<h2>Expectations</h2>`];
  if (j.expectations.length === 0) out.push(`<p class="muted">None.</p>`);
  else {
    out.push(`<table class="expectations"><thead><tr><th>Step</th><th>Probe</th><th>Target</th><th>Metric</th><th>Expected</th><th>Measured</th><th>Verdict</th></tr></thead><tbody>`);
    for (const e of j.expectations) {
      out.push(
        `<tr><td>${esc(stepLabel(e))}</td><td>${esc(e.probe)}</td><td>${esc(e.pod ?? "-")}</td><td class="mono">${esc(e.metric)}</td><td>${esc(e.threshold)}</td><td>${esc(e.actualText)}${e.reason !== null ? `<br><span class="muted">${esc(e.reason)}</span>` : ""}</td><td class="${e.verdict}">${esc(VERDICT_TEXT[e.verdict])}</td></tr>`,
      );
    }
    out.push(`</tbody></table>`);
  }
  const effects = faultEffects(j);
  if (effects.length > 0) out.push(`<ul>${effects.map((e) => `<li>${esc(effectLine(e))}</li>`).join("")}</ul>`);
  return out;
}

/** The run's facts: pods, agents, tools pods, faults and their reverts, the commands, warnings, every event. */
function factsSection(j: Journal): string[] {
  const t0 = Date.parse(j.startedAt);
  const out = [`<h2>Facts</h2>`];
  const plan = j.plan as { target?: { pods?: { name: string; ip: string | null }[] }; namespace?: string | null } | null;
  const pods = plan?.target?.pods ?? [];
  out.push(
    `<h3>Target pods</h3><ul>${pods.map((p) => `<li>${esc(`${j.cluster?.namespace ?? plan?.namespace ?? ""}/${p.name}`)}${p.ip !== null ? ` <span class="muted">${esc(p.ip)}</span>` : ""}</li>`).join("") || "<li class=muted>none</li>"}</ul>`,
  );
  out.push(
    `<h3>Agents</h3><ul>${j.agents.map((a) => `<li class="mono">${esc(`${a.namespace}/${a.pod} ${a.container}`)}${a.reused ? " (reused)" : ""}</li>`).join("") || "<li class=muted>none</li>"}</ul>`,
  );
  if (j.tools.length > 0)
    out.push(`<h3>Tools pods</h3><ul>${j.tools.map((t) => `<li class="mono">${esc(`${t.namespace}/${t.pod} ${t.image}`)}${t.created ? "" : " (found running)"}</li>`).join("")}</ul>`);
  out.push(`<h3>Faults and reverts</h3>`);
  if (j.faults.length === 0) out.push(`<p class="muted">No fault.</p>`);
  else out.push(...faultsFacts(j, t0));
  const probeCommands = [...new Set(j.probes.filter((p) => p.argv.length > 0 && !p.aggregate).map((p) => p.argv.join(" ")))];
  if (probeCommands.length > 0)
    out.push(`<details><summary>Commands the probes ran (${probeCommands.length} distinct)</summary><ul class="mono">${probeCommands.map((c) => `<li>${esc(c)}</li>`).join("")}</ul></details>`);
  if (j.warnings.length > 0) out.push(`<h3>Warnings</h3><ul>${j.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>`);
  out.push(
    `<details><summary>Timeline (${j.timeline.length} events)</summary><ul class="mono">${j.timeline.map((t) => `<li>${esc(`+${formatDuration(Math.max(0, Date.parse(t.at) - t0))} ${t.text}`)}</li>`).join("")}</ul></details>`,
  );
  return out;
}

/** Each fault in each pod: applied, reverted, confirmed; what the faults measured; the agents' commands. */
function faultsFacts(j: Journal, t0: number): string[] {
  const out = [`<table class="faults"><thead><tr><th>Step</th><th>Pod</th><th>Fault</th><th>Applied</th><th>Reverted</th><th>Revert confirmed</th></tr></thead><tbody>`];
  for (const f of j.faults) {
    const confirmed =
      f.revertConfirmed === true
        ? `<td class="pass">yes</td>`
        : f.revertConfirmed === false
          ? `<td class="fail">NO${f.revertDetail !== null ? `: ${esc(f.revertDetail)}` : ""}</td>`
          : `<td class="muted">—</td>`;
    out.push(
      `<tr><td>${esc(`${f.step + 1}. ${f.stepName}`)}</td><td>${esc(`${f.namespace}/${f.pod}`)}${f.iface !== null ? ` <span class="muted">${esc(f.iface)}</span>` : ""}</td><td>${esc(f.summary)}${f.lost !== null ? `<br><span class="fail">lost: ${esc(f.lost)}</span>` : ""}</td><td>${esc(fmtTime(f.appliedAt, t0))}</td><td>${esc(fmtTime(f.revertedAt, t0))}</td>${confirmed}</tr>`,
    );
  }
  out.push(`</tbody></table>`);
  // what kill, podDelete and stress measured in each pod (as the table and the Markdown say it)
  const observed = observationLines(j);
  if (observed.length > 0) out.push(`<h3>What the faults did</h3><ul class="observed">${observed.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>`);
  out.push(`<details><summary>Commands the agents ran (${j.faults.reduce((a, f) => a + f.applyCommands.length + f.revertCommands.length, 0)})</summary><ul class="mono">`);
  for (const f of j.faults) {
    for (const c of f.applyCommands) out.push(`<li>${esc(`${f.pod} apply: ${c.argv.join(" ")}${c.stdin !== null ? ` <<< ${c.stdin.trim()}` : ""} → ${c.exitCode}`)}</li>`);
    for (const c of f.revertCommands) out.push(`<li>${esc(`${f.pod} revert: ${c.argv.join(" ")}${c.stdin !== null ? ` <<< ${c.stdin.trim()}` : ""} → ${c.exitCode}`)}</li>`);
  }
  out.push(`</ul></details>`);
  return out;
}
