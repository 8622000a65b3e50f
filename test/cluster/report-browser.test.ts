// The HTML report of a real demo run (test/fixtures/report/demo/journal.json: the journal the
// kernel lab's run of scenarios/nginx-latency.yaml wrote), rendered by this checkout and opened
// in a real headless Chromium (Debian's, installed by test/lab/setup): the only request the
// page makes is for the file itself (everything else is blocked and would be counted), no
// console error, and the screenshot shows the fault window shaded and the baseline band drawn —
// checked on the screenshot's own pixels, so a blank or unstyled page fails. The text of every
// chart (labels, ticks, legend), as Chromium lays it out, overprints no other, on the demo's
// report and on a crowded one (test/unit/report-crowded.ts); each label's box is within the
// one the report estimated for it.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../../src/report/html.js";
import { labelBox, type Box } from "../../src/report/chart/labels.js";
import type { Journal } from "../../src/report/journal.js";
import { launchChromium, type Headless } from "../support/browser.js";
import { repoRoot } from "../support/lab.js";
import { crowdedJournal } from "../unit/report-crowded.js";

const journal = JSON.parse(readFileSync(join(repoRoot, "test/fixtures/report/demo/journal.json"), "utf8")) as Journal;
const dir = mkdtempSync(join(tmpdir(), "chaos-run-html-"));
const file = join(dir, "report.html");
const url = pathToFileURL(file).href;
const crowdedFile = join(dir, "crowded.html");
const crowdedUrl = pathToFileURL(crowdedFile).href;
let headless: Headless;
const requests: string[] = [];
const blocked: string[] = [];
const consoleErrors: string[] = [];
let shot: Buffer;
let boxes: Record<string, { x: number; y: number; width: number; height: number } | null>;
/** Per report, per chart: every text element as Chromium lays it out. */
const texts: Record<string, ChartText[][]> = {};

interface ChartText {
  readonly text: string;
  readonly className: string;
  readonly x: number;
  readonly y: number;
  readonly anchor: string;
  /** where Chromium put it, in the SVG's own coordinates */
  readonly box: Box;
}

/** Every text of every chart of the page, with its box in the chart's coordinates (the SVG is drawn at its size). */
async function chartTexts(page: import("playwright-core").Page): Promise<ChartText[][]> {
  // runs in the page (a string: this project's TypeScript has no DOM types)
  return (await page.evaluate(`[...document.querySelectorAll("svg.chart")].map((svg) => {
    const s = svg.getBoundingClientRect();
    return [...svg.querySelectorAll("text")].map((t) => {
      const r = t.getBoundingClientRect();
      return {
        text: t.textContent, className: t.getAttribute("class") || "", x: Number(t.getAttribute("x")), y: Number(t.getAttribute("y")),
        anchor: t.getAttribute("text-anchor") || "start",
        box: { x0: r.left - s.left, y0: r.top - s.top, x1: r.right - s.left, y1: r.bottom - s.top },
      };
    });
  })`)) as ChartText[][];
}

/** The pairs of texts whose boxes, as laid out, share any area. */
function overprinted(chart: readonly ChartText[]): string[] {
  const out: string[] = [];
  chart.forEach((a, i) => {
    for (const b of chart.slice(i + 1)) if (a.box.x0 < b.box.x1 && b.box.x0 < a.box.x1 && a.box.y0 < b.box.y1 && b.box.y0 < a.box.y1) out.push(`${a.text} ⟷ ${b.text}`);
  });
  return out;
}

/**
 * The dominant colour of a region of a PNG (the most frequent, to 4 levels of 256 a channel: the
 * thin lines and dots drawn over a shading do not move it), decoded by the browser itself (a
 * canvas) on a page of its own.
 */
async function dominantColour(png: Buffer, region: { x: number; y: number; width: number; height: number }): Promise<[number, number, number]> {
  const page = await headless.browser.newPage();
  try {
    // runs in the page (a string: this project's TypeScript has no DOM types)
    const mean = await page.evaluate(`(async () => {
      const img = new Image();
      img.src = "data:image/png;base64,${png.toString("base64")}";
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const d = g.getImageData(${Math.round(region.x)}, ${Math.round(region.y)}, ${Math.round(region.width)}, ${Math.round(region.height)}).data;
      const counts = new Map();
      for (let i = 0; i < d.length; i += 4) {
        const key = [d[i], d[i + 1], d[i + 2]].map((v) => v >> 2).join(",");
        counts.set(key, (counts.get(key) || 0) + 1);
      }
      const [best] = [...counts].sort((a, b) => b[1] - a[1])[0];
      return best.split(",").map((v) => Number(v) * 4);
    })()`);
    return mean as [number, number, number];
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  writeFileSync(file, renderHtml(journal));
  writeFileSync(crowdedFile, renderHtml(crowdedJournal({ faults: 3, expectations: 30 })));
  headless = await launchChromium();
  // nothing leaves the page: every request but the file itself is blocked, and counted
  await headless.browser.route("**/*", async (route) => {
    const u = route.request().url();
    if (u === url || u === crowdedUrl) await route.continue();
    else {
      blocked.push(u);
      await route.abort();
    }
  });
  const page = await headless.browser.newPage();
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  await page.goto(url, { waitUntil: "load" });
  const box = async (selector: string): Promise<{ x: number; y: number; width: number; height: number } | null> => page.locator(selector).first().boundingBox();
  boxes = {
    fault: await box("section.probe[data-probe=pulse] .fault-window rect"),
    band: await box("section.probe[data-probe=pulse] .baseline rect"),
    chart: await box("section.probe[data-probe=pulse] svg.chart"),
  };
  texts["demo"] = await chartTexts(page);
  shot = await page.screenshot({ fullPage: true });
  writeFileSync(join(dir, "report.png"), shot);
  await page.close();
  const crowded = await headless.browser.newPage();
  await crowded.goto(crowdedUrl, { waitUntil: "load" });
  texts["crowded"] = await chartTexts(crowded);
  await crowded.close();
}, 120_000);

afterAll(async () => {
  await headless.close();
});

describe("the demo's HTML report in headless Chromium", () => {
  it("makes no request but for the file itself, and logs no error", () => {
    expect(requests).toEqual([url]);
    expect(blocked).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it("shades the fault window: the pixels inside it are orange-tinted, those left of it white", async () => {
    const f = boxes["fault"];
    const chart = boxes["chart"];
    if (f === null || f === undefined || chart === null || chart === undefined) throw new Error("no fault window drawn");
    // the 30 s fault of a ≈ 50 s run: a wide band, not a sliver
    expect(f.width / chart.width).toBeGreaterThan(0.3);
    const inside = await dominantColour(shot, { x: f.x + f.width * 0.2, y: f.y + f.height * 0.2, width: f.width * 0.6, height: f.height * 0.6 });
    const before = await dominantColour(shot, { x: f.x - 40, y: f.y + f.height * 0.2, width: 30, height: f.height * 0.6 });
    console.log(`fault window ${JSON.stringify(f)}: inside rgb ${inside.map(Math.round).join(",")}, before it ${before.map(Math.round).join(",")}`);
    expect(inside[0]).toBeGreaterThan(inside[2] + 25);
    expect(inside[1]).toBeGreaterThan(inside[2] + 5);
    expect(Math.min(...before)).toBeGreaterThan(235);
  });

  it("draws the saved baseline as a green band", async () => {
    const b = boxes["band"];
    if (b === null || b === undefined) throw new Error("no baseline band drawn");
    expect(b.height).toBeGreaterThanOrEqual(3);
    // left of the fault window: the band alone, not its blend with the fault's shading
    const f = boxes["fault"];
    const right = f === null || f === undefined ? b.x + b.width : f.x;
    expect(right - b.x).toBeGreaterThan(40);
    const c = await dominantColour(shot, { x: b.x + 2, y: b.y + 1, width: right - b.x - 4, height: Math.max(1, b.height - 2) });
    console.log(`baseline band ${JSON.stringify(b)}: rgb ${c.map(Math.round).join(",")}`);
    expect(c[1]).toBeGreaterThan(c[0] + 15);
    expect(c[1]).toBeGreaterThan(c[2] + 10);
  });

  for (const report of ["demo", "crowded"]) {
    it(`overprints no text of a chart with another: the ${report} report's labels, ticks and legends`, () => {
      const charts = texts[report] ?? [];
      // latency: the faults, the band and the expectations; errors: the faults and the error expectations
      expect(charts.map((chart) => chart.filter((t) => /-label$/.test(t.className)).length)).toEqual(report === "demo" ? [5, 4] : [38, 7]);
      for (const chart of charts) {
        const labels = chart.filter((t) => /-label$/.test(t.className));
        expect(overprinted(chart)).toEqual([]);
        // the layout's estimate holds Chromium's box: a label's neighbours were kept clear of all of it
        for (const l of labels) {
          const estimate = labelBox({ x: l.x, anchor: l.anchor === "end" ? "end" : "start" }, l.y, l.text);
          expect([l.text, l.box.x0 >= estimate.x0 - 0.5 && l.box.x1 <= estimate.x1 + 0.5 && l.box.y0 >= estimate.y0 - 0.5 && l.box.y1 <= estimate.y1 + 0.5]).toEqual([l.text, true]);
        }
      }
    });
  }
});
