// Views of a journal, all pure functions of it: the terminal table (cli-table3), JUnit XML (one
// testcase per expectation), and the Markdown summary (for $GITHUB_STEP_SUMMARY).
import Table from "cli-table3";
import { formatDuration } from "../expect/format.js";
import type { Journal, JournalExpectation, JournalProbe } from "./journal.js";
import { markdownBlock, markdownCode, markdownText, terminalLine, xmlText } from "./sanitise.js";
import { mainMetric, sampleValue, sparkline } from "./series.js";

export function stepLabel(e: { phase: string; step: number | null; stepName: string }): string {
  if (e.step === null) return e.stepName;
  return `${e.step + 1}. ${e.stepName}${e.phase === "during" ? " (during)" : ""}`;
}

const VERDICT = { pass: "PASS", fail: "FAIL", error: "NO VALUE" } as const;

/** The run's verdict in one word: PASS, FAIL, ERROR (could not run / revert unconfirmed), INTERRUPTED. */
export function verdictWord(j: Journal): string {
  switch (j.status) {
    case "passed":
      return "PASS";
    case "failed":
      return "FAIL";
    case "interrupted":
      return "INTERRUPTED";
    case "running":
      return "RUNNING";
    case "error":
      return "ERROR";
  }
}

export function verdictLine(j: Journal): string {
  const total = j.expectations.length;
  const held = j.expectations.filter((e) => e.verdict === "pass").length;
  const counts = total === 0 ? "no expectations" : `${held} of ${total} expectation${total > 1 ? "s" : ""} held`;
  const why = j.status === "passed" || j.status === "failed" || j.message === null ? "" : `: ${j.message.split("\n")[0] ?? ""}`;
  return `${verdictWord(j)} ${j.scenario.name}: ${counts}${why} (exit ${j.exitCode ?? "?"})`;
}

export interface FaultEffect {
  readonly step: number;
  readonly stepName: string;
  readonly pod: string | null;
  readonly probe: string;
  /** p50 during the fault minus p50 of the same probe's last run before it */
  readonly addedMs: number;
  readonly configuredDelayMs: number | undefined;
}

interface PlanStepJson {
  index: number;
  name: string;
  kind: string;
  fault?: { spec?: { kind?: string; netem?: { delayMs?: number }; http?: { delayMs?: number }; grpc?: { delayMs?: number }; dns?: { delayMs?: number } } };
}

/** What each fault did to latency, measured: the median during it against the median just before. */
export function faultEffects(j: Journal): FaultEffect[] {
  const steps = (typeof j.plan === "object" && j.plan !== null && "steps" in j.plan && Array.isArray(j.plan.steps) ? j.plan.steps : []) as PlanStepJson[];
  const effects: FaultEffect[] = [];
  for (const step of steps.filter((s) => s.kind === "fault")) {
    // a probe run once during the fault is one group; a continuous one's samples are one (its median)
    const groups = new Map<string, JournalProbe[]>();
    for (const p of j.probes.filter((x) => x.phase === "during" && x.step === step.index && !x.aggregate && x.error === undefined)) {
      const key = `${p.series ?? `run-${p.id}`}:${p.pod ?? ""}`;
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    for (const group of groups.values()) {
      const first = group[0];
      if (first === undefined) continue;
      // the last run of the same probe before the fault that was not itself sampled through it (the monitor)
      const before = j.probes.filter((p) => p.id < first.id && p.probe === first.probe && p.pod === first.pod && (p.phase === "before" || p.phase === "step") && !p.aggregate).at(-1);
      const values = group
        .map((p) => p.metrics["latency.p50"])
        .filter((v): v is number => v !== undefined && v !== null)
        .sort((x, y) => x - y);
      const mid = Math.floor(values.length / 2);
      const a = values.length === 0 ? undefined : values.length % 2 === 1 ? values[mid] : ((values[mid - 1] ?? 0) + (values[mid] ?? 0)) / 2;
      const b = before?.metrics["latency.p50"];
      if (a === undefined || b === undefined || b === null) continue;
      effects.push({
        step: step.index,
        stepName: step.name,
        pod: first.pod,
        probe: first.probe,
        addedMs: a - b,
        configuredDelayMs: step.fault?.spec?.netem?.delayMs ?? step.fault?.spec?.http?.delayMs ?? step.fault?.spec?.grpc?.delayMs ?? step.fault?.spec?.dns?.delayMs,
      });
    }
  }
  return effects;
}

export function effectLine(e: FaultEffect): string {
  const ratio =
    e.configuredDelayMs !== undefined && e.configuredDelayMs > 0
      ? `; configured delay ${formatDuration(e.configuredDelayMs)}: measured/configured ${(e.addedMs / e.configuredDelayMs).toFixed(3)}`
      : "";
  const sign = e.addedMs >= 0 ? "+" : "−";
  return `step ${e.step + 1} (${e.stepName}): latency.p50 ${sign}${formatDuration(Math.abs(e.addedMs))} on ${e.pod ?? "the target"} (probe ${e.probe}, median during the fault − median before)${ratio}`;
}

/** What faults measured themselves (kill, podDelete, stress, http, grpc, dns), one line per fault and pod. */
export function observationLines(j: Journal): string[] {
  return j.faults.flatMap((f) => (f.observed === undefined || f.observed === null ? [] : [`step ${f.step + 1} (${f.stepName}) in pod ${f.pod}: ${f.observed.detail}`]));
}

function rows(j: Journal): JournalExpectation[] {
  return j.expectations;
}

/** The values of a series' samples for an expectation's metric (its base, without an aggregate suffix). */
function seriesValues(j: Journal, e: JournalExpectation): (number | undefined)[] {
  if (e.series === undefined) return [];
  const base = e.metric.replace(/\.(min|max|mean|median|last)$/, "");
  return j.probes.filter((p) => p.series === e.series && !p.aggregate && (p.pod ?? null) === e.pod).map((p) => (p.error !== undefined ? undefined : sampleValue(p, base)));
}

/** One line per continuous probe's series: its main metric as a sparkline, its range, its samples. */
export function seriesLines(j: Journal): string[] {
  const ids = [...new Set(j.probes.filter((p) => p.series !== undefined).map((p) => p.series ?? ""))];
  return ids.map((id) => {
    const samples = j.probes.filter((p) => p.series === id && (p.aggregate || !j.probes.some((q) => q.series === id && q.aggregate)));
    const first = samples[0];
    const kind = first?.kind ?? "ab";
    const metric = mainMetric(kind, samples);
    const values = samples.map((p) => (p.error !== undefined ? undefined : sampleValue(p, metric)));
    const present = values.filter((v): v is number => v !== undefined);
    const fmt = (v: number): string => (metric.startsWith("latency.") || metric === "duration" ? formatDuration(v) : String(Math.round(v * 1000) / 1000));
    const range = present.length === 0 ? "no value" : `${fmt(Math.min(...present))} … ${fmt(Math.max(...present))}`;
    const failed = values.length - present.length;
    const where = first === undefined ? "" : first.phase === "monitor" ? "steady state, through the run" : stepLabel(first);
    return `series ${first?.probe ?? id} (${where}): ${metric} ${sparkline(values)} ${range}, ${samples.length} samples${failed > 0 ? `, ${failed} without a value` : ""}`;
  });
}

export function renderTable(j: Journal, options: { color: boolean }): string {
  const table = new Table({
    head: ["Step", "Target", "Metric", "Expected", "Measured", "Verdict"],
    style: options.color ? { head: ["bold"] } : { head: [], border: [] },
    wordWrap: true,
  });
  // every cell and line is sanitised for the terminal (pod names, messages, what a pod printed)
  // before chaos-run's own colours are added
  const cell = terminalLine;
  for (const e of rows(j)) {
    const verdict = VERDICT[e.verdict];
    const painted = !options.color ? verdict : e.verdict === "pass" ? `\u001b[32m${verdict}\u001b[39m` : `\u001b[31m${verdict}\u001b[39m`;
    const spark = sparkline(seriesValues(j, e));
    table.push([cell(stepLabel(e)), cell(e.pod ?? "-"), cell(e.metric), cell(e.threshold), spark === "" ? cell(e.actualText) : `${cell(e.actualText)}\n${spark}`, painted]);
  }
  const lines: string[] = [];
  if (j.expectations.length > 0) lines.push(table.toString());
  lines.push(...seriesLines(j).map(cell));
  for (const effect of faultEffects(j)) lines.push(cell(effectLine(effect)));
  lines.push(...observationLines(j).map(cell));
  const keepAlive = [...new Set(j.probes.filter((p) => (p.kind ?? "ab") === "ab").map((p) => p.keepAlive))];
  if (keepAlive.length > 0)
    lines.push(`ab ran ${keepAlive.length > 1 ? "with and without keep-alive" : keepAlive[0] === true ? "with keep-alive (-k)" : "without keep-alive: a delay shows up twice (SYN and request)"}`);
  for (const w of j.warnings) lines.push(cell(`warning: ${w}`));
  const verdict = cell(verdictLine(j));
  lines.push(options.color ? (j.status === "passed" ? `\u001b[32m${verdict}\u001b[39m` : `\u001b[31m${verdict}\u001b[39m`) : verdict);
  return `${lines.join("\n")}\n`;
}

/** JUnit's text and attributes (report/sanitise.ts). */
const xml = xmlText;

/** One <testsuite> per journal; one <testcase> per expectation; a run that could not finish adds an <error> case. */
export function renderJUnitSuite(j: Journal): string {
  const cases: string[] = [];
  for (const e of j.expectations) {
    const name = `${stepLabel(e)}: ${e.metric} ${e.threshold}${e.pod !== null ? ` [${e.pod}]` : ""}`;
    const body =
      e.verdict === "pass"
        ? ""
        : e.verdict === "fail"
          ? `<failure message="${xml(`measured ${e.actualText}, expected ${e.threshold}`)}" type="ExpectationFailed">${xml(e.description)}</failure>`
          : `<failure message="${xml(`no value measured: ${e.reason ?? ""}`)}" type="NoValue">${xml(e.description)}</failure>`;
    cases.push(`    <testcase classname="${xml(j.scenario.name)}" name="${xml(name)}">${body}</testcase>`);
  }
  const broken = j.status === "error" || j.status === "interrupted" || j.status === "running";
  if (broken) {
    cases.push(
      `    <testcase classname="${xml(j.scenario.name)}" name="run"><error message="${xml(j.message ?? j.status)}" type="${j.status === "error" ? `exit ${j.exitCode ?? "?"}` : j.status}">${xml([j.message ?? "", j.hint ?? ""].filter((x) => x !== "").join("\n"))}</error></testcase>`,
    );
  }
  const failures = j.expectations.filter((e) => e.verdict !== "pass").length;
  const time = ((j.durationMs ?? 0) / 1000).toFixed(3);
  // what the faults counted themselves (a dns fault's queries, an http fault's requests …): the suite's output
  const observed = observationLines(j);
  const out = observed.length > 0 ? `    <system-out>${xml(observed.join("\n"))}</system-out>\n` : "";
  return (
    `  <testsuite name="${xml(j.scenario.name)}" tests="${cases.length}" failures="${failures}" errors="${broken ? 1 : 0}" time="${time}" timestamp="${xml(j.startedAt)}">\n` +
    `    <properties><property name="runId" value="${xml(j.runId)}"/><property name="file" value="${xml(j.scenario.file)}"/><property name="exitCode" value="${j.exitCode ?? ""}"/></properties>\n` +
    cases.join("\n") +
    (cases.length > 0 ? "\n" : "") +
    out +
    `  </testsuite>\n`
  );
}

export function renderJUnit(journals: readonly Journal[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="chaos-run">\n${journals.map(renderJUnitSuite).join("")}</testsuites>\n`;
}

/** Markdown's text and table cells (report/sanitise.ts). */
const md = markdownText;

export function renderMarkdown(j: Journal): string {
  const icon = j.status === "passed" ? "✅" : j.status === "failed" ? "❌" : "⚠️";
  const out = [`### ${icon} ${md(verdictLine(j))}`, ""];
  if (j.scenario.description !== null) out.push(`_${md(j.scenario.description)}_`, "");
  if (j.expectations.length > 0) {
    out.push("| Step | Target | Metric | Expected | Measured | Verdict |", "|---|---|---|---|---|---|");
    for (const e of j.expectations) {
      const spark = sparkline(seriesValues(j, e));
      out.push(
        `| ${md(stepLabel(e))} | ${md(e.pod ?? "-")} | ${markdownCode(e.metric)} | ${md(e.threshold)} | ${md(e.actualText)}${spark !== "" ? ` ${spark}` : ""} | ${e.verdict === "pass" ? "✅" : "❌"} ${VERDICT[e.verdict]} |`,
      );
    }
    out.push("");
  }
  for (const line of seriesLines(j)) out.push(`- ${md(line)}`);
  for (const effect of faultEffects(j)) out.push(`- ${md(effectLine(effect))}`);
  for (const line of observationLines(j)) out.push(`- ${md(line)}`);
  if (j.message !== null && j.status !== "passed" && j.status !== "failed") out.push("", markdownBlock(j.message));
  for (const w of j.warnings) out.push(`- ⚠️ ${md(w)}`);
  out.push("", `<sub>${md(`run ${j.runId}, ${j.scenario.file}, context ${j.cluster?.context ?? "?"}, ${j.startedAt}`)}</sub>`, "");
  return out.join("\n");
}
