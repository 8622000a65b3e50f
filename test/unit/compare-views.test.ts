// The views of a comparison (src/report/compare/): the demo run against itself with every latency
// under the fault doubled (test/fixtures/compare/latency-x2), and a mixed pair — a kill whose
// recovery went missing, another scenario with a renamed step and one more — each rendered to its
// golden table, Markdown, JUnit and HTML in test/fixtures/compare/views/ (UPDATE_GOLDEN=1
// rewrites them). Beside the goldens, what each view must say whatever its layout: which rule
// judged each row, what was not compared and why, the regressions first where the format is read
// top down; and the HTML page draws both runs on the same axes.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { compareRuns } from "../../src/compare/compare.js";
import { loadJournal } from "../../src/compare/load.js";
import type { Comparison } from "../../src/compare/types.js";
import { renderCompareHtml } from "../../src/report/compare/html.js";
import { renderCompareJUnit } from "../../src/report/compare/junit.js";
import { renderCompareMarkdown } from "../../src/report/compare/markdown.js";
import { renderCompareTable } from "../../src/report/compare/table.js";
import { ruleBrief, unmatchedText } from "../../src/report/compare/words.js";
import { htmlText, markdownCode, markdownText } from "../../src/report/sanitise.js";
import type { Journal } from "../../src/report/journal.js";
import { LATENCY_X2, demo, killRun, planSteps, root } from "./compare-journals.js";

const golden = join(root, "test/fixtures/compare/views");

function checkGolden(name: string, actual: string): void {
  const path = join(golden, name);
  if (process.env["UPDATE_GOLDEN"] === "1") {
    mkdirSync(golden, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual, `${name} (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(path, "utf8"));
}

/** A kill of web-0 and web-1; in the new run web-0 never came back, the scenario is renamed, its first step too, and it has one more. */
function mixedPair(): { base: Journal; next: Journal } {
  const base = killRun({ "web-0": 4000, "web-1": 4400 });
  const next = killRun({ "web-0": null, "web-1": 4300 });
  next.scenario.name = "kill-v2";
  const steps = planSteps(next);
  (steps[0] as { name: string }).name = "first look";
  steps.push({ index: 3, name: "rest", kind: "wait", startMs: 42000, durationMs: 5000 } as unknown as (typeof steps)[number]);
  return { base, next };
}

interface Rendered {
  readonly c: Comparison;
  readonly base: Journal;
  readonly next: Journal;
  readonly views: Readonly<Record<"table.txt" | "table-colour.txt" | "md" | "junit.xml" | "html" | "json", string>>;
}

function render(base: Journal, next: Journal): Rendered {
  const c = compareRuns(base, next);
  return {
    c,
    base,
    next,
    views: {
      "table.txt": renderCompareTable(c, { color: false }),
      "table-colour.txt": renderCompareTable(c, { color: true }),
      md: renderCompareMarkdown(c),
      "junit.xml": renderCompareJUnit(c),
      html: renderCompareHtml(c, base, next),
      json: `${JSON.stringify(c, null, 2)}\n`,
    },
  };
}

const latency = render(demo(), loadJournal(LATENCY_X2).journal);
const mixed = (() => {
  const { base, next } = mixedPair();
  return render(base, next);
})();

describe("golden views", () => {
  for (const [name, r] of [
    ["latency-x2", latency],
    ["mixed", mixed],
  ] as const) {
    it(`${name}: table, Markdown, JUnit and HTML`, () => {
      // the JSON is the comparison itself (held below), which compare.test.ts holds to its numbers
      for (const [format, text] of Object.entries(r.views)) if (format !== "table-colour.txt" && format !== "json") checkGolden(`${name}.${format}`, text);
    });
  }

  it("the mixed pair holds what the views must show: a fault's rows, a missing value, unmatched steps, notes", () => {
    expect(mixed.c.rows.some((r) => r.origin === "fault" && r.rule.kind === "missing-value" && r.verdict === "regressed")).toBe(true);
    expect(mixed.c.unmatched.length).toBeGreaterThanOrEqual(2);
    expect(mixed.c.notes.length).toBeGreaterThan(0);
  });
});

describe("every view says which rule judged each row, and what was not compared", () => {
  for (const [name, r] of [
    ["latency-x2", latency],
    ["mixed", mixed],
  ] as const) {
    it(`${name}: the table names each row's rule in brief and each verdict beyond the noise in full`, () => {
      const table = r.views["table.txt"];
      for (const row of r.c.rows) expect(table).toContain(ruleBrief(row));
      for (const row of r.c.rows.filter((x) => x.verdict !== "within noise")) expect(table).toContain(row.rule.text);
      for (const u of r.c.unmatched) expect(table).toContain(`not compared: ${unmatchedText(u)}`);
      for (const n of r.c.notes) expect(table).toContain(`note: ${n}`);
    });

    it(`${name}: JUnit is well-formed, a case per row (a regression failed with its rule's words) and a skipped case per thing not compared`, () => {
      const xml = r.views["junit.xml"];
      expect(XMLValidator.validate(xml)).toBe(true);
      type Case = { name: string; failure?: { message: string; "#text": string }; skipped?: { message: string }; "system-out"?: string };
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", htmlEntities: true }).parse(xml) as {
        testsuites: { testsuite: { tests: string; failures: string; skipped: string; testcase: Case[] | Case } };
      };
      const suite = doc.testsuites.testsuite;
      const cases = [suite.testcase].flat();
      expect(cases).toHaveLength(r.c.rows.length + r.c.unmatched.length);
      expect(Number(suite.failures)).toBe(r.c.counts.regressed);
      expect(Number(suite.skipped)).toBe(r.c.unmatched.length);
      const failures = cases.filter((k) => k.failure !== undefined);
      expect(failures.map((k) => k.failure?.["#text"])).toEqual(r.c.rows.filter((x) => x.verdict === "regressed").map((x) => x.rule.text));
      for (const k of cases.filter((x) => x.failure === undefined && x.skipped === undefined)) expect(k["system-out"]).toMatch(/^(within noise|improved|changed): /);
      expect(cases.filter((k) => k.skipped !== undefined).map((k) => k.skipped?.message)).toEqual(r.c.unmatched.map((u) => `not compared: ${unmatchedText(u)}`));
    });

    it(`${name}: Markdown puts the summary first, then the regressions with their rules, the within-noise rows folded after`, () => {
      const md = r.views.md;
      const lines = md.split("\n");
      expect(lines[0]).toMatch(r.c.regressed ? /^### ❌ REGRESSED / : /^### ✅ NO REGRESSION /);
      const regressed = md.indexOf("#### ❌ Regressed");
      const folded = md.indexOf("<details><summary>");
      if (r.c.regressed) expect(regressed).toBeGreaterThan(0);
      expect(folded).toBeGreaterThan(regressed);
      // every table row has its 7 cells; a cell's own | is escaped
      for (const row of lines.filter((l) => l.startsWith("| "))) expect(row.replace(/\\\|/g, "").split("|").length - 1, row).toBe(8);
      const beyond = md.slice(0, folded);
      for (const row of r.c.rows.filter((x) => x.verdict !== "within noise")) expect(beyond).toContain(row.rule.text.replace(/\|/g, "\\|"));
      for (const u of r.c.unmatched) expect(md).toContain(`- ${markdownText(unmatchedText(u))}`);
    });

    it(`${name}: JSON is the comparison as it is`, () => {
      expect(JSON.parse(r.views.json)).toEqual(r.c);
    });
  }
});

describe("the HTML page", () => {
  const html = latency.views.html;

  it("is self-contained: no script, nothing fetched", () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(/i);
    expect(html.startsWith("<!doctype html>")).toBe(true);
  });

  it("draws both runs of each chart one above the other, on the same axes", () => {
    const svgs = [...html.matchAll(/<svg class="chart"[^>]*>(.*?)<\/svg>/gs)].map((m) => m[1] ?? "");
    expect(svgs.length).toBeGreaterThan(0);
    for (const svg of svgs) {
      const plots = [...svg.matchAll(/<rect x="(\d+)" y="([\d.]+)" width="(\d+)" height="([\d.]+)" class="plot"\/>/g)];
      expect(plots).toHaveLength(2);
      const [upper, lower] = plots.map((p) => ({ y: Number(p[2]), height: Number(p[4]) }));
      expect((lower?.y ?? 0) > (upper?.y ?? 0) + (upper?.height ?? 0)).toBe(true);
      expect(svg).toContain(`base ${latency.base.runId}: `);
      expect(svg).toContain(`new ${latency.next.runId}: `);
      // the y ticks of both panels: the same values, where the new run's latencies are twice the base's
      const ticks = [...svg.matchAll(/class="tick" text-anchor="end">([^<]+)</g)].map((m) => m[1]);
      const half = ticks.length / 2;
      expect(ticks.slice(0, half)).toEqual(ticks.slice(half));
    }
  });

  it("holds every row with its rule, and what was not compared", () => {
    const rows = [...html.matchAll(/<tr><td>/g)].length;
    expect(rows).toBe(latency.c.rows.length);
    const page = mixed.views.html;
    for (const u of mixed.c.unmatched) expect(page).toContain(`<li>${htmlText(unmatchedText(u))}</li>`);
  });
});

describe("text from the scenario and the pods is shown, never acting", () => {
  const HOSTILE = "ok\u001b[2J\u001b]0;pwned\u0007\rFORGED\u0000nul```\n### heading\n</script><img src=x onerror=alert(1)>|cell|`tick`\u2028sep\u202eevil\ud800\u009b31m";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters looked for
  const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])/;
  /** Every string and key of a journal equal to one of `names` (the pod, the probe, a step's name, a metric) with the hostile text after it. */
  const hostile = (j: Journal, names: readonly string[]): Journal => {
    const named = (v: string): string => (names.includes(v) ? `${v}${HOSTILE}` : v);
    const walk = (v: unknown): unknown => {
      if (typeof v === "string") return named(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [named(k), walk(x)]));
      return v;
    };
    return walk(j) as Journal;
  };
  const names = ["nginx", "pulse", "add latency", "nginx-latency-timeline", "requests"];
  const base = hostile(demo(), names);
  const next = hostile(loadJournal(LATENCY_X2).journal, [...names, "baseline"]);
  const r = render(base, next);

  it("the comparison carries the text (else the checks below would pass for nothing)", () => {
    expect(r.c.rows.some((x) => x.pod?.includes(HOSTILE) === true && x.verdict === "regressed")).toBe(true);
    expect(r.c.unmatched.some((u) => u.reason.includes(HOSTILE))).toBe(true);
    expect(r.c.rows.some((x) => x.metric.includes(HOSTILE))).toBe(true);
  });

  it("the table, plain and in colour: no control character but chaos-run's own colours", () => {
    for (const name of ["table.txt", "table-colour.txt"] as const) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: chaos-run's own colour codes
      const own = r.views[name].replace(/\u001b\[(?:1|22|31|32|33|39|90)m/g, "");
      expect(ACTIVE.exec(own), name).toBeNull();
      expect(own).toContain("nginxok\\x1b[2J\\x1b]0;pwned\\x07\\rFORGED\\x00nul");
    }
  });

  it("Markdown: no control character, no tag, link or heading of theirs; every table row keeps its 7 cells", () => {
    const md = r.views.md;
    expect(ACTIVE.exec(md)).toBeNull();
    // a metric's name is a code span that its text cannot end: inside it a tag is text
    const spans = [...new Set(r.c.rows.map((x) => markdownCode(x.metric)))];
    expect(spans.some((x) => x.includes("<img"))).toBe(true);
    const outside = spans.reduce((text, span) => text.replaceAll(span, "`metric`"), md);
    expect(outside).not.toMatch(/(?<!\\)<img|(?<!\\)<\/script|^#+ heading/m);
    for (const row of md.split("\n").filter((l) => l.startsWith("| "))) expect(row.replace(/\\\|/g, "").split("|").length - 1, row).toBe(8);
  });

  it("JUnit: well-formed XML without a control character", () => {
    expect(XMLValidator.validate(r.views["junit.xml"])).toBe(true);
    expect(ACTIVE.exec(r.views["junit.xml"])).toBeNull();
  });

  it("HTML: no tag of theirs, no control character", () => {
    expect(ACTIVE.exec(r.views.html)).toBeNull();
    expect(r.views.html).not.toMatch(/<\/script|<img|<script/i);
    expect(r.views.html).toContain("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
  });
});
