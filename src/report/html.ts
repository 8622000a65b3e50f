// The HTML report: one self-contained file, a pure function of the journal. Styles inline, no
// script, no font, no image, nothing fetched: it reads the same offline, in a CI artefact, or
// attached to an issue. Per probe, a timeline of its samples (hand-made SVG) with the fault
// windows shaded and labelled, the saved baseline as a band and each expectation as a line in
// its verdict's colour; then the expectations' table and the run's facts.
import { formatDuration, formatValue } from "../expect/format.js";
import type { Dimension } from "../expect/metrics.js";
import type { Journal, JournalExpectation, JournalProbe } from "./journal.js";
import { htmlText } from "./sanitise.js";
import { baselineBand, chartsFor, faultWindows, probesOf, sampleTime, sampleValue, samplesOf, valueDimensionOf, type Chart, type FaultWindow } from "./series.js";
import { faultEffects, effectLine, observationLines, stepLabel, verdictLine, verdictWord } from "./views.js";

/** Every text in the report, in an element or a quoted attribute (report/sanitise.ts). */
const esc = htmlText;

const W = 960;
const H = 230;
const M = { left: 72, right: 16, top: 30, bottom: 30 };
const COLORS = ["#1f6feb", "#8250df", "#bf3989", "#0a7d6b"];
const VERDICT_COLOR = { pass: "#1a7f37", fail: "#cf222e", error: "#bf8700" } as const;
const VERDICT_TEXT = { pass: "✓ PASS", fail: "✗ FAIL", error: "? NO VALUE" } as const;

/** Round tick values for a domain [0, max]. */
function ticks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

interface Scale {
  readonly x: (ms: number) => number;
  readonly y: (v: number) => number;
}

function chartSvg(
  j: Journal,
  probe: string,
  chart: Chart,
  samples: readonly JournalProbe[],
  windows: readonly FaultWindow[],
  runMs: number,
  expectations: readonly { e: JournalExpectation; value: number | readonly [number, number] | undefined; fromMs: number; toMs: number }[],
  withBand: boolean,
): string {
  const metrics = chart.metrics;
  const dimension: Dimension = metrics[0]?.dimension ?? "number";
  const points = metrics.map((m) => samples.map((p) => ({ t: sampleTime(j, p), v: p.error !== undefined ? undefined : sampleValue(p, m.metric), p })));
  const band = withBand
    ? baselineBand(
        j,
        probe,
        metrics.map((m) => m.metric),
      )
    : undefined;
  const lines = expectations.filter((x) => metrics.some((m) => m.metric === baseMetric(x.e.metric)));
  // the scale follows the bulk of the samples: one outlier (a p95 of a few requests) must not
  // flatten the rest; what lies above is drawn at the top edge
  const all = points
    .flat()
    .map((p) => p.v)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  const bulk = all.length === 0 ? 0 : (all[Math.min(all.length - 1, Math.floor(all.length * 0.9))] ?? 0);
  const firstMax = Math.max(0, ...(points[0] ?? []).map((p) => p.v ?? 0));
  const dataMax = Math.max(bulk * 1.25, firstMax, band?.high ?? 0);
  const limits = lines.flatMap((x) => (x.value === undefined ? [] : typeof x.value === "number" ? [x.value] : [...x.value]));
  // a threshold far above the data would flatten it: drawn at the top edge instead
  const cap = dataMax > 0 ? dataMax * 4 : Math.max(1, ...limits);
  let max = Math.max(dataMax, ...limits.filter((v) => v <= cap));
  if (dimension === "ratio") max = Math.max(max, 0.05);
  if (max === 0) max = 1;
  const yTicks = ticks(max * 1.08);
  const yMax = yTicks[yTicks.length - 1] ?? max;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const span = Math.max(runMs, 1);
  const sc: Scale = { x: (ms) => M.left + (Math.max(0, Math.min(span, ms)) / span) * plotW, y: (v) => M.top + plotH - (Math.min(v, yMax) / yMax) * plotH };
  const out: string[] = [];
  out.push(`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(`${probe} ${chart.title} over time`)}">`);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" class="plot"/>`);
  for (const w of windows) {
    const x0 = sc.x(w.startMs);
    const x1 = Math.max(sc.x(w.endMs), x0 + 2);
    out.push(
      `<g class="fault-window" data-step="${w.step + 1}"><rect x="${x0.toFixed(1)}" y="${M.top}" width="${(x1 - x0).toFixed(1)}" height="${plotH}" class="fault"><title>${esc(`${w.label}: applied at +${formatDuration(w.startMs)}, reverted at +${formatDuration(w.endMs)}${w.reverted ? " (confirmed)" : " (NOT confirmed)"}`)}</title></rect>`,
    );
    out.push(`<text x="${(x0 + 4).toFixed(1)}" y="${M.top + 13}" class="fault-label">${esc(w.label.length > 60 ? `${w.label.slice(0, 58)}…` : w.label)}</text></g>`);
  }
  if (band !== undefined) {
    const y0 = sc.y(band.high);
    const y1 = sc.y(band.low);
    out.push(
      `<g class="baseline"><rect x="${M.left}" y="${(Math.min(y0, y1 - 3)).toFixed(1)}" width="${plotW}" height="${Math.max(3, y1 - y0).toFixed(1)}" class="band"><title>${esc(`saved as ${band.name}: ${formatValue(band.low, dimension)} – ${formatValue(band.high, dimension)}`)}</title></rect>`,
    );
    out.push(
      `<text x="${W - M.right - 4}" y="${(Math.min(y0, y1 - 3) - 3).toFixed(1)}" class="band-label" text-anchor="end">${esc(`baseline (${band.name}) ${formatValue(band.low, dimension)} – ${formatValue(band.high, dimension)}`)}</text></g>`,
    );
  }
  for (const v of yTicks) {
    const y = sc.y(v);
    out.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(y + 4).toFixed(1)}" class="tick" text-anchor="end">${esc(formatValue(v, dimension))}</text>`,
    );
  }
  for (const v of ticks(span / 1000, 8)) {
    const x = sc.x(v * 1000);
    out.push(`<text x="${x.toFixed(1)}" y="${H - 10}" class="tick" text-anchor="middle">${esc(`${Math.round(v * 10) / 10}s`)}</text>`);
  }
  // labels are placed where they overlap no other: their extent is estimated (11px bold ≈ 6.3px a character)
  const labelled: { x0: number; x1: number; y: number }[] = [];
  const place = (text: string, anchorX: number, start: boolean, y: number): { x: number; y: number } => {
    const width = text.length * 6.3;
    const x0 = start ? anchorX : anchorX - width;
    let ly = y;
    while (labelled.some((l) => Math.abs(l.y - ly) < 11 && l.x0 < x0 + width && x0 < l.x1)) ly -= 12;
    labelled.push({ x0, x1: x0 + width, y: ly });
    return { x: anchorX, y: ly };
  };
  if (band !== undefined) {
    const y0 = sc.y(band.high);
    const text = `baseline (${band.name}) ${formatValue(band.low, dimension)} – ${formatValue(band.high, dimension)}`;
    labelled.push({ x0: W - M.right - 4 - text.length * 6.3, x1: W - M.right - 4, y: Math.min(y0, sc.y(band.low) - 3) - 3 });
  }
  for (const x of lines) {
    const color = VERDICT_COLOR[x.e.verdict];
    const x0 = sc.x(x.fromMs);
    const x1 = Math.max(sc.x(x.toMs), x0 + 24);
    const values = x.value === undefined ? [] : typeof x.value === "number" ? [x.value] : [...x.value];
    for (const v of values) {
      const above = v > yMax;
      const y = above ? M.top + 1 : sc.y(v);
      const leftHalf = (x0 + x1) / 2 < M.left + plotW / 2;
      const text = `${x.e.metric} ${x.e.threshold}${above ? " ↑" : ""} ${VERDICT_TEXT[x.e.verdict]}`;
      const at = place(text, leftHalf ? Math.max(x0, M.left) + 2 : x1 - 2, leftHalf, y - 3);
      const lx = at.x;
      const ly = at.y;
      out.push(
        `<g class="expectation" data-verdict="${x.e.verdict}"><line x1="${x0.toFixed(1)}" x2="${x1.toFixed(1)}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${color}" class="limit"><title>${esc(`${stepLabel(x.e)}: ${x.e.metric} ${x.e.threshold} — measured ${x.e.actualText}: ${VERDICT_TEXT[x.e.verdict]}`)}</title></line>`,
      );
      out.push(`<text x="${lx.toFixed(1)}" y="${Math.max(M.top + 9, ly).toFixed(1)}" class="limit-label" text-anchor="${leftHalf ? "start" : "end"}" fill="${color}">${esc(text)}</text></g>`);
    }
  }
  points.forEach((series, i) => {
    const color = COLORS[i % COLORS.length] ?? "#1f6feb";
    // the line breaks where a sample has no value (a failed sample, no answer): no line across a gap
    const runs: { t: number; v: number }[][] = [[]];
    for (const p of series) {
      if (p.v === undefined) runs.push([]);
      else runs[runs.length - 1]?.push({ t: p.t, v: p.v });
    }
    for (const r of runs.filter((x) => x.length > 1)) out.push(`<polyline class="series" stroke="${color}" points="${r.map((p) => `${sc.x(p.t).toFixed(1)},${sc.y(p.v).toFixed(1)}`).join(" ")}"/>`);
    for (const p of series) {
      if (p.v === undefined) continue;
      const off = p.v > yMax ? " (off the scale)" : "";
      out.push(
        `<circle cx="${sc.x(p.t).toFixed(1)}" cy="${sc.y(p.v).toFixed(1)}" r="${off === "" ? "2.6" : "3.5"}" fill="${off === "" ? color : "#fff"}" stroke="${color}"><title>${esc(`${metrics[i]?.label ?? ""} ${formatValue(p.v, dimension)} at +${formatDuration(p.t)} (${p.p.stepName})${off}`)}</title></circle>`,
      );
    }
  });
  for (const p of samples.filter((s) => s.error !== undefined)) {
    const x = sc.x(sampleTime(j, p));
    const y = M.top + plotH - 6;
    out.push(
      `<g class="sample-error"><path d="M${(x - 4).toFixed(1)},${(y - 4).toFixed(1)}l8,8m0,-8l-8,8" stroke="${VERDICT_COLOR.fail}"/><title>${esc(`+${formatDuration(sampleTime(j, p))}: could not measure: ${p.error ?? ""}`)}</title></g>`,
    );
  }
  const legend = metrics.map((m, i) => `<tspan fill="${COLORS[i % COLORS.length] ?? ""}">● ${esc(m.label)}</tspan>`).join("  ");
  out.push(`<text x="${M.left}" y="${M.top - 10}" class="legend">${esc(chart.title)}  ${legend}</text>`);
  out.push("</svg>");
  return out.join("");
}

function baseMetric(metric: string): string {
  return metric.replace(/\.(min|max|mean|median|last)$/, "");
}

function fmtTime(iso: string | null, t0: number): string {
  return iso === null ? "—" : `+${formatDuration(Math.max(0, Date.parse(iso) - t0))}`;
}

const STYLE = `
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
.fault{fill:#ff8c00;fill-opacity:.18;stroke:#e36209;stroke-opacity:.5}.fault-label{font-size:11px;fill:#953800;font-weight:600}
.band{fill:#2da44e;fill-opacity:.22}.band-label{font-size:11px;fill:#116329}
.limit{stroke-width:1.5;stroke-dasharray:6 4}.limit-label{font-size:11px;font-weight:600}
.series{fill:none;stroke-width:1.8}.legend{font-size:12px;fill:#1f2328;font-weight:600}
details{margin:4px 0}summary{cursor:pointer}
ul{margin:4px 0;padding-left:20px}
`;

/** The report of one run, as one self-contained HTML document. */
export function renderHtml(j: Journal): string {
  const t0 = Date.parse(j.startedAt);
  const end = j.endedAt !== null ? Date.parse(j.endedAt) : Math.max(t0, ...j.probes.map((p) => Date.parse(p.at)));
  const runMs = Math.max(1, end - t0);
  const windows = faultWindows(j);
  const word = verdictWord(j);
  const out: string[] = [];
  out.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`);
  out.push(`<title>${esc(`chaos-run ${j.scenario.name}: ${word}`)}</title><style>${STYLE}</style></head><body><main>`);
  out.push(`<h1><span class="verdict v-${word}">${esc(word)}</span>${esc(j.scenario.name)}</h1>`);
  if (j.scenario.description !== null) out.push(`<p>${esc(j.scenario.description)}</p>`);
  out.push(
    `<p class="muted">${esc(verdictLine(j))}<br>run ${esc(j.runId)} · ${esc(j.scenario.file)} · started ${esc(j.startedAt)} · ${esc(formatDuration(runMs))} · context ${esc(j.cluster?.context ?? "?")} (${esc(j.cluster?.server ?? "?")}) · chaos-run ${esc(j.tool.version)}</p>`,
  );
  if (j.message !== null && j.status !== "passed" && j.status !== "failed") out.push(`<pre class="mono">${esc(j.message)}${j.hint !== null ? `\nhint: ${esc(j.hint)}` : ""}</pre>`);

  out.push(
    `<h2>Timelines</h2><p class="muted">Each probe's samples over the run (seconds since it started). Shaded: the faults, from applied to reverted. Green band: the saved baseline. Dashed: each expectation, in its verdict's colour, over the samples it judged.</p>`,
  );
  const probes = probesOf(j);
  if (probes.length === 0) out.push(`<p class="muted">No probe ran.</p>`);
  for (const { probe, kind } of probes) {
    const samples = samplesOf(j, probe);
    const valueDim = valueDimensionOf(j, probe);
    const charts = chartsFor(kind, samples, valueDim).filter(
      (c) =>
        c.title !== "errors" ||
        samples.some((p) => (sampleValue(p, c.metrics[0]?.metric ?? "") ?? 0) > 0) ||
        j.expectations.some((e) => e.probe === probe && /^(errorRatio|errors|failedRequests|timeouts|refused)/.test(e.metric)),
    );
    const continuous = samples.some((p) => p.series !== undefined);
    out.push(
      `<section class="probe" data-probe="${esc(probe)}"><h3>probe ${esc(probe)} <span class="muted">(${esc(kind)}, ${samples.length} sample${samples.length === 1 ? "" : "s"}${continuous ? `, every ${formatDuration(samples.find((p) => p.everyMs !== undefined)?.everyMs ?? 0)}` : ""})</span></h3>`,
    );
    const exps = j.expectations
      .filter((e) => e.probe === probe)
      .map((e) => {
        const judged = e.series !== undefined ? samples.filter((p) => p.series === e.series) : samples.filter((p) => p.phase === e.phase && p.step === e.step);
        const times = judged.map((p) => sampleTime(j, p));
        const at = Date.parse(e.at) - t0;
        return { e, value: e.limit, fromMs: times.length > 0 ? Math.min(...times) : at, toMs: times.length > 0 ? Math.max(...times) : at };
      });
    // the baseline band on the probe's main chart (latency, the value)
    for (const [i, c] of charts.entries()) out.push(chartSvg(j, probe, c, samples, windows, runMs, exps, i === 0));
    out.push(`</section>`);
  }

  out.push(`<h2>Expectations</h2>`);
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

  out.push(`<h2>Facts</h2>`);
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
  else {
    out.push(`<table class="faults"><thead><tr><th>Step</th><th>Pod</th><th>Fault</th><th>Applied</th><th>Reverted</th><th>Revert confirmed</th></tr></thead><tbody>`);
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
  }
  const probeCommands = [...new Set(j.probes.filter((p) => p.argv.length > 0 && !p.aggregate).map((p) => p.argv.join(" ")))];
  if (probeCommands.length > 0)
    out.push(`<details><summary>Commands the probes ran (${probeCommands.length} distinct)</summary><ul class="mono">${probeCommands.map((c) => `<li>${esc(c)}</li>`).join("")}</ul></details>`);
  if (j.warnings.length > 0) out.push(`<h3>Warnings</h3><ul>${j.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>`);
  out.push(
    `<details><summary>Timeline (${j.timeline.length} events)</summary><ul class="mono">${j.timeline.map((t) => `<li>${esc(`+${formatDuration(Math.max(0, Date.parse(t.at) - t0))} ${t.text}`)}</li>`).join("")}</ul></details>`,
  );
  out.push(`<p class="muted">Written by chaos-run from ${esc(j.scenario.file)}'s journal (journal.json beside this file).</p>`);
  out.push(`</main></body></html>\n`);
  return out.join("\n");
}
