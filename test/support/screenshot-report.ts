// Renders a journal's HTML report with this checkout and screenshots it in headless Chromium:
//   npx tsx test/support/screenshot-report.ts JOURNAL OUT.png [WIDTH]
// The README's docs/report.png is test/fixtures/report/demo/journal.json through this.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { renderHtml } from "../../src/report/html.js";
import type { Journal } from "../../src/report/journal.js";
import { launchChromium } from "./browser.js";

const [journalPath, out, width] = process.argv.slice(2);
if (journalPath === undefined || out === undefined) throw new Error("usage: screenshot-report.ts JOURNAL OUT.png [WIDTH]");
const file = join(mkdtempSync(join(tmpdir(), "chaos-run-shot-")), "report.html");
writeFileSync(file, renderHtml(JSON.parse(readFileSync(journalPath, "utf8")) as Journal));
const h = await launchChromium();
try {
  const page = await h.browser.newPage();
  await page.setViewportSize({ width: Number(width ?? 1000), height: 800 });
  await page.goto(pathToFileURL(file).href);
  await page.screenshot({ path: out, fullPage: true });
} finally {
  await h.close();
}
