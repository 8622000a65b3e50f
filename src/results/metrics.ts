// A finished run as Prometheus metrics, pushed to a Pushgateway (`--pushgateway URL`) for
// dashboards and alerts. Names are stable (chaos_run_*) and carry their unit; the run's
// scenario and namespace are the push's grouping key (with job="chaos-run"), so each push
// replaces the scenario's previous one and a dashboard reads `chaos_run_passed{scenario="…"}`;
// per-step figures are labelled step (1-based), step_name, probe and pod. The text format:
// https://prometheus.io/docs/instrumenting/exposition_formats/ (version 0.0.4).
import type { Journal } from "../report/journal.js";
import { keyFigures, type FigureName } from "./figures.js";

interface Family {
  readonly name: string;
  readonly help: string;
  readonly samples: readonly { readonly labels: Readonly<Record<string, string>>; readonly value: number }[];
}

const FIGURE_HELP: Readonly<Record<FigureName, string>> = {
  added_latency_seconds: "latency a fault added: the median during it minus the median just before, per step, probe and pod",
  recovery_seconds: "time from a kill or a pod deletion until the pod (or its replacement) was Ready again, per step and pod",
  error_ratio: "failed requests over all requests a probe made during a fault (0 to 1), per step, probe and pod",
};

/** A label value as the text format quotes it. */
function quoted(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`;
}

function line(name: string, labels: Readonly<Record<string, string>>, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${quoted(v)}`);
  // 12 significant digits: the measurement's own precision, without a float's binary tail (0.10713400000000001)
  const text = Number.isFinite(value) ? String(Number(value.toPrecision(12))) : Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
  return `${name}${pairs.length === 0 ? "" : `{${pairs.join(",")}}`} ${text}`;
}

function families(j: Journal): Family[] {
  const verdicts = ["pass", "fail", "error"] as const;
  const out: Family[] = [
    { name: "chaos_run_passed", help: "1 when the run passed (every expectation held), else 0", samples: [{ labels: {}, value: j.status === "passed" ? 1 : 0 }] },
    {
      name: "chaos_run_exit_code",
      help: "the run's exit code (0 passed, 1 an expectation failed, 3 could not run, 4 a revert unconfirmed, 143 terminated)",
      samples: [{ labels: {}, value: j.exitCode ?? 3 }],
    },
    { name: "chaos_run_duration_seconds", help: "how long the run took", samples: [{ labels: {}, value: (j.durationMs ?? 0) / 1000 }] },
    { name: "chaos_run_last_run_timestamp_seconds", help: "when the run ended, in seconds since the epoch", samples: [{ labels: {}, value: Date.parse(j.endedAt ?? j.startedAt) / 1000 }] },
    {
      name: "chaos_run_expectations",
      help: "the run's expectations by verdict (pass, fail, error: no value)",
      samples: verdicts.map((v) => ({ labels: { verdict: v }, value: j.expectations.filter((e) => e.verdict === v).length })),
    },
  ];
  const figures = keyFigures(j);
  for (const name of Object.keys(FIGURE_HELP) as FigureName[]) {
    const samples = figures
      .filter((f) => f.name === name)
      .map((f) => ({ labels: { step: String(f.step), step_name: f.stepName, ...(f.probe === null ? {} : { probe: f.probe }), ...(f.pod === null ? {} : { pod: f.pod }) }, value: f.value }));
    if (samples.length > 0) out.push({ name: `chaos_run_${name}`, help: FIGURE_HELP[name], samples });
  }
  return out;
}

/** The run's metrics in the text exposition format (the grouping key's labels are not repeated). */
export function renderMetrics(j: Journal): string {
  return families(j)
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`, ...f.samples.map((s) => line(f.name, s.labels, s.value))].join("\n"))
    .join("\n")
    .concat("\n");
}

/** Where a run's metrics go: `<url>/metrics/job/chaos-run/scenario/<name>/namespace/<ns>` (each push replaces that group's). */
export function pushUrl(base: string, j: Journal): string {
  const root = base.replace(/\/+$/, "");
  const part = (v: string): string => (v === "" ? "@base64/=" : encodeURIComponent(v));
  return `${root}/metrics/job/chaos-run/scenario/${part(j.scenario.name)}/namespace/${part(j.cluster?.namespace ?? "")}`;
}

/** PUTs the metrics; rejects with what the Pushgateway said, or why it could not be reached, within `timeoutMs`. */
export async function pushMetrics(base: string, j: Journal, timeoutMs: number, fetcher: typeof fetch = fetch): Promise<string> {
  const url = pushUrl(base, j);
  const res = await fetcher(url, { method: "PUT", headers: { "Content-Type": "text/plain; version=0.0.4" }, body: renderMetrics(j), signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`the Pushgateway answered ${res.status} ${res.statusText}: ${(await res.text()).trim().slice(0, 300)}`);
  return url;
}
