// A run's events with one text everywhere a pod or a tool can put text — the pod's name, what
// an agent said about a fault (its detail, why it was lost, why a revert was not confirmed, a
// command's stderr), what a kill read from /proc/PID/cmdline, a probe's output, a warning, the
// run's error and hint — and every view of it: the terminal table (plain and in colour), JUnit,
// Markdown, HTML, the plain lines, the live view (listr2 in a pretend terminal). For the tests
// of what views let through: control characters (report-sanitise.test.ts) and secrets
// (secrets.test.ts).
import type { EngineEvent, ProbeWhere } from "../../src/engine/events.js";
import { planToJson } from "../../src/plan/format.js";
import { planRun } from "../../src/plan/plan.js";
import type { Plan } from "../../src/plan/types.js";
import type { ProbeOutcome } from "../../src/probes/run.js";
import { renderHtml } from "../../src/report/html.js";
import { newJournal, recordEvent, type Journal } from "../../src/report/journal.js";
import { renderJUnit, renderMarkdown, renderTable } from "../../src/report/views.js";
import { liveView } from "../../src/ui/live.js";
import { plainView } from "../../src/ui/plain.js";
import { scenarioOf } from "./engine-harness.js";

export const FIXTURE_SCENARIO = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: views }
target: { namespace: default, selector: { app: web }, mode: all }
probes:
  api: { http: { url: "http://{{ target.ip }}/", requests: 2 } }
steps:
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 10s
    during:
      - probe: api
        expect: { errorRatio: 0 }
`;

/** An http probe's outcome, its texts set to `x` (what a tool printed, what it measured in words). */
export function outcomeWith(x: string, pod: string): ProbeOutcome {
  return {
    probe: "api",
    kind: "http",
    pod,
    aggregate: false,
    argv: ["curl", "--silent", `http://198.18.0.7/${x}#[1-2]`],
    exitCode: 0,
    stdout: `200 0.001 0 \n000 0.002 7 ${x}\n`,
    stderr: x,
    durationMs: 12,
    metrics: { requests: 2, errors: 1, errorRatio: 0.5 },
    failures: undefined,
    keepAlive: true,
    stoppedEarly: undefined,
    detail: `2 requests: 1 × 200, 1 × no connection (${x})`,
  };
}

export interface Fixture {
  readonly plan: Plan;
  readonly events: EngineEvent[];
  readonly journal: Journal;
}

/** The events of a run whose pod and tool texts are all `x`; `outcomes` replaces the probe's, `end` the run's error. */
export function fixtureRun(x: string, options: { outcomes?: readonly ProbeOutcome[]; end?: { message: string; hint: string | undefined } } = {}): Fixture {
  const pod = `web-${x}`;
  const plan = planRun(scenarioOf(FIXTURE_SCENARIO), [{ name: pod, ip: "198.18.0.7" }], { runId: "r1", namespace: "default" });
  const step = plan.steps[0];
  if (step?.kind !== "fault") throw new Error("the fixture's first step is a fault");
  let t = Date.parse("2026-12-01T10:00:00.000Z");
  const at = (ms = 100): number => (t += ms);
  const ref = { namespace: "default", name: pod };
  const where: ProbeWhere = { phase: "during", index: 0, stepName: "slow" };
  const common = { index: 0, faultId: step.fault.id, pod: ref };
  const events: EngineEvent[] = [
    { type: "run:start", at: at(0), runId: "r1", plan, cluster: { context: "lab", server: "https://127.0.0.1:6443", user: "admin", namespace: "default" } },
    { type: "preflight", at: at(), check: "rbac", ok: true, detail: x },
    { type: "agent:ready", at: at(), pod: ref, container: "chaos-agent-r1", reused: false, durationMs: 900 },
    { type: "step:start", at: at(), index: 0, name: "slow", kind: "fault", durationMs: 10_000 },
    { ...common, type: "fault:applied", at: at(), iface: "eth0", families: [4], detail: x, commands: [{ argv: ["tc", x], exitCode: 0, stderr: x, durationMs: 1 }], durationMs: 300 },
    { ...common, type: "fault:observed", at: at(), kind: "kill", metrics: { restarts: 1 }, detail: `killed PID 7 (${x})` },
    { ...common, type: "fault:lost", at: at(), reason: x },
    { ...common, type: "fault:revert-retry", at: at(), attempt: 1, detail: x, retryInMs: 500 },
    { type: "probe:start", at: at(), where, probe: "api" },
  ];
  for (const o of options.outcomes ?? [outcomeWith(x, pod)]) events.push({ type: "probe:result", at: at(), where, outcome: o, save: undefined });
  const outcome = {
    metric: "errorRatio",
    dimension: "ratio" as const,
    verdict: "error" as const,
    actual: undefined,
    threshold: 0,
    thresholdText: "= 0%",
    description: `errorRatio = 0% (${x})`,
    reason: x,
  };
  events.push(
    { type: "expect:result", at: at(), where, probe: "api", pod, expected: "errorRatio: 0", outcome },
    { ...common, type: "fault:reverted", at: at(), confirmed: false, detail: x, attempts: 3, commands: [{ argv: ["tc", "del"], exitCode: 1, stderr: x, durationMs: 1 }], durationMs: 900 },
    { type: "step:end", at: at(), index: 0, ok: false, detail: x },
    { type: "warning", at: at(), message: x },
    { type: "run:end", at: at(), status: "error", exitCode: 3, message: options.end?.message ?? x, hint: options.end === undefined ? x : options.end.hint },
  );
  const journal = newJournal({ runId: "r1", version: "0.1.0", node: "v20", platform: "linux x64", file: "views.yaml", sha256: "0".repeat(64), startedAt: Date.parse("2026-12-01T10:00:00.000Z") });
  for (const e of events) recordEvent(journal, e, () => planToJson(plan, "views.yaml"));
  return { plan, events, journal };
}

/** The plain view's lines, each write as it was made. */
export function plainLines(events: readonly EngineEvent[]): string[] {
  const writes: string[] = [];
  const view = plainView({ write: (s) => void writes.push(s) });
  for (const e of events) view(e);
  return writes;
}

/**
 * What the live view (listr2's default renderer) writes to a pretend 120-column terminal while
 * it is given the events one by one, a renderer tick (real time) apart.
 */
export async function liveOutput(events: readonly EngineEvent[]): Promise<string> {
  const out = process.stdout as NodeJS.WriteStream & { isTTY: boolean };
  const err = process.stderr;
  const saved = { write: out.write, errWrite: err.write, isTTY: out.isTTY, columns: out.columns };
  let written = "";
  const capture = ((chunk: unknown): boolean => {
    written += String(chunk);
    return true;
  }) as typeof out.write;
  out.write = capture;
  err.write = capture;
  out.isTTY = true;
  out.columns = 120;
  try {
    const view = liveView();
    for (const e of events) {
      view.observe(e);
      await new Promise((r) => setTimeout(r, 120));
    }
    await view.finished();
  } finally {
    out.write = saved.write;
    err.write = saved.errWrite;
    out.isTTY = saved.isTTY;
    out.columns = saved.columns;
  }
  return written;
}

/** Every view of a journal, by name. */
export function views(f: Fixture): Record<string, string> {
  return {
    table: renderTable(f.journal, { color: false }),
    "table (colour)": renderTable(f.journal, { color: true }),
    junit: renderJUnit([f.journal]),
    markdown: renderMarkdown(f.journal),
    html: renderHtml(f.journal),
    "plain lines": plainLines(f.events).join(""),
  };
}
