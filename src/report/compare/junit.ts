// A comparison as JUnit XML, for a CI that reads test results: one test case per figure compared
// (a regression is a failed case, its message the values and the change, its text the rule's
// words; any other verdict passes, the rule in its system-out), one skipped case per thing not
// compared (the reason as its message), and the notes in the suite's system-out. Every text is
// XML-safe (report/sanitise.ts).
import { xmlText } from "../sanitise.js";
import type { Comparison, ComparisonRow, Unmatched } from "./comparison.js";
import { changeText, measureText, metricText, sourceText, summaryLine, unmatchedText } from "./words.js";

const xml = xmlText;

function rowCase(c: Comparison, r: ComparisonRow): string {
  const head = `    <testcase classname="${xml(`${c.new.scenario}.${r.section}`)}" name="${xml(`${sourceText(r)}: ${metricText(r)}`)}">`;
  const values = `base ${measureText(r.base, r)}, new ${measureText(r.new, r)}, change ${changeText(r)}`;
  if (r.verdict === "regressed") return `${head}<failure message="${xml(`regressed: ${values}`)}" type="Regression">${xml(r.rule.text)}</failure></testcase>`;
  return `${head}<system-out>${xml(`${r.verdict}: ${values}\n${r.rule.text}`)}</system-out></testcase>`;
}

function unmatchedCase(c: Comparison, u: Unmatched): string {
  return `    <testcase classname="${xml(`${c.new.scenario}.${u.section}`)}" name="${xml(`${u.what}${u.side === "both" ? "" : ` (${u.side} run only)`}`)}"><skipped message="${xml(`not compared: ${unmatchedText(u)}`)}"/></testcase>`;
}

export function renderCompareJUnit(c: Comparison): string {
  const cases = [...c.rows.map((r) => rowCase(c, r)), ...c.unmatched.map((u) => unmatchedCase(c, u))];
  const name = c.base.scenario === c.new.scenario ? c.new.scenario : `${c.base.scenario} → ${c.new.scenario}`;
  const properties = [
    ["baseRunId", c.base.runId],
    ["newRunId", c.new.runId],
    ["threshold", String(c.settings.threshold)],
    ["alpha", String(c.settings.alpha)],
    ["minEffect", String(c.settings.minEffect)],
    ["minChangeMs", String(c.settings.minChangeMs)],
  ]
    .map(([k, v]) => `<property name="${k}" value="${xml(v ?? "")}"/>`)
    .join("");
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="chaos-run compare">`,
    `  <testsuite name="${xml(`compare ${name}`)}" tests="${cases.length}" failures="${c.counts.regressed}" errors="0" skipped="${c.unmatched.length}" timestamp="${xml(c.new.startedAt)}">`,
    `    <properties>${properties}</properties>`,
    ...cases,
    `    <system-out>${xml([summaryLine(c), ...c.notes.map((n) => `note: ${n}`)].join("\n"))}</system-out>`,
    `  </testsuite>`,
    `</testsuites>`,
  ];
  return `${out.join("\n")}\n`;
}
