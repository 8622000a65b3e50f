// A run's result as the cluster keeps it: one ConfigMap, labelled so that a selector finds a
// scenario's runs by verdict and exit code (kubectl get cm -l chaos-run.dev/scenario=X), its
// journal gzip-compressed in binaryData within the API's 1 MiB limit for one object — what had
// to go to fit is said in an annotation — and a summary in annotations that a list of metadata
// alone can show (chaos-run history). Pure, but for compression.
import { gunzipSync, gzipSync } from "node:zlib";
import { UsageError } from "../errors.js";
import type { ConfigMapMeta, ConfigMapSpec, StoredConfigMap } from "../kube/types.js";
import { JOURNAL_VERSION, type Journal } from "../report/journal.js";
import { keyFigures, type KeyFigure } from "./figures.js";
import { longestSeries, trimLadder } from "./trim.js";

export const LABEL = {
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  instance: "app.kubernetes.io/instance",
  scenario: "chaos-run.dev/scenario",
  verdict: "chaos-run.dev/verdict",
  exitCode: "chaos-run.dev/exit-code",
  run: "chaos-run.dev/run",
} as const;

export const ANNOTATION = {
  startedAt: "chaos-run.dev/started-at",
  durationMs: "chaos-run.dev/duration-ms",
  summary: "chaos-run.dev/summary",
  trimmed: "chaos-run.dev/trimmed",
  journalBytes: "chaos-run.dev/journal-bytes",
} as const;

/** The selector of every result, and of one scenario's. */
export const RESULTS_SELECTOR = `${LABEL.name}=chaos-run,${LABEL.component}=result`;
export const scenarioSelector = (scenario: string): string => `${RESULTS_SELECTOR},${LABEL.scenario}=${scenario}`;

export const JOURNAL_KEY = "journal.json.gz";

/**
 * The API refuses a ConfigMap whose data and binaryData hold more than 1 MiB (1,048,576 bytes);
 * the journal keeps 48 KiB of it clear for the margin of what the API counts and etcd adds.
 */
export const JOURNAL_BUDGET_BYTES = 1_048_576 - 48 * 1024;

/** What a list of results shows of one run without reading its journal. */
export interface RunSummary {
  /** the targets' namespace */
  readonly namespace: string;
  readonly expectations: { readonly held: number; readonly total: number };
  readonly figures: readonly KeyFigure[];
  /** why it could not run or did not pass, first line */
  readonly message: string | null;
}

export interface EncodedJournal {
  /** undefined: not even the smallest form fit */
  readonly gzip: Uint8Array | undefined;
  /** what was dropped to fit, in words; empty: nothing */
  readonly trimmed: readonly string[];
  /** the whole journal's JSON, in bytes */
  readonly rawBytes: number;
}

const gzip = (j: Journal): Uint8Array => gzipSync(JSON.stringify(j), { level: 9 });

/** The journal compressed, trimmed step by step (trim.ts) until it fits the budget. */
export function encodeJournal(journal: Journal, budget = JOURNAL_BUDGET_BYTES): EncodedJournal {
  const rawBytes = Buffer.byteLength(JSON.stringify(journal));
  let current = journal;
  let packed = gzip(current);
  const trimmed: string[] = [];
  for (const step of trimLadder(longestSeries(journal))) {
    if (packed.byteLength <= budget) return { gzip: packed, trimmed, rawBytes };
    current = step.apply(current);
    packed = gzip(current);
    // a finer thinning says the last word on the samples
    const thinning = trimmed.findIndex((t) => t.startsWith("continuous probes' samples thinned"));
    if (thinning >= 0 && step.says.startsWith("continuous probes' samples thinned")) trimmed.splice(thinning, 1);
    trimmed.push(step.says);
  }
  if (packed.byteLength <= budget) return { gzip: packed, trimmed, rawBytes };
  return { gzip: undefined, trimmed: [...trimmed, `the journal itself dropped: ${packed.byteLength} bytes compressed even so, over the ${budget} the object can hold`], rawBytes };
}

/** `chaos-run-<scenario>-<yyyymmdd>-<hhmmss>-<run id>`: a DNS name that sorts by time. */
export function resultName(journal: Journal): string {
  const t = journal.startedAt
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "")
    .replace("T", "-");
  return `chaos-run-${journal.scenario.name}-${t}-${journal.runId}`;
}

export interface ResultContext {
  /** the runner's instance (CHAOS_RUN_INSTANCE: the Job's or CronJob's name) */
  readonly instance: string | undefined;
}

export function summaryOf(j: Journal): RunSummary {
  return {
    namespace: j.cluster?.namespace ?? "",
    expectations: { held: j.expectations.filter((e) => e.verdict === "pass").length, total: j.expectations.length },
    figures: keyFigures(j),
    message: j.message?.split("\n")[0] ?? null,
  };
}

/** The ConfigMap that keeps a finished run (its journal already redacted). */
export function resultConfigMap(journal: Journal, context: ResultContext, encoded = encodeJournal(journal)): ConfigMapSpec {
  const labels: Record<string, string> = {
    [LABEL.name]: "chaos-run",
    [LABEL.component]: "result",
    [LABEL.managedBy]: "chaos-run",
    [LABEL.scenario]: journal.scenario.name,
    [LABEL.verdict]: journal.status,
    [LABEL.exitCode]: String(journal.exitCode ?? 3),
    [LABEL.run]: journal.runId,
    ...(context.instance === undefined ? {} : { [LABEL.instance]: context.instance }),
  };
  const annotations: Record<string, string> = {
    [ANNOTATION.startedAt]: journal.startedAt,
    [ANNOTATION.durationMs]: String(journal.durationMs ?? 0),
    [ANNOTATION.summary]: JSON.stringify(boundedSummary(summaryOf(journal))),
    [ANNOTATION.journalBytes]: `${encoded.rawBytes} (${encoded.gzip?.byteLength ?? 0} compressed)`,
    ...(encoded.trimmed.length === 0 ? {} : { [ANNOTATION.trimmed]: encoded.trimmed.join("; ") }),
  };
  return { name: resultName(journal), labels, annotations, ...(encoded.gzip === undefined ? {} : { binaryData: { [JOURNAL_KEY]: encoded.gzip } }) };
}

/** Annotations together may hold 256 KiB: a summary keeps its first figures within 16 KiB. */
function boundedSummary(s: RunSummary): RunSummary {
  let figures = s.figures;
  while (figures.length > 0 && JSON.stringify({ ...s, figures }).length > 16 * 1024) figures = figures.slice(0, Math.floor(figures.length / 2));
  return { ...s, figures };
}

export interface StoredRunRef {
  readonly namespace: string;
  /** the ConfigMap's name: report --from-cluster NAME */
  readonly name: string;
  readonly scenario: string;
  readonly runId: string;
  readonly verdict: string;
  readonly exitCode: number | undefined;
  readonly startedAt: string;
  readonly durationMs: number | undefined;
  readonly summary: RunSummary | undefined;
  /** what was dropped to fit, in words; undefined: nothing */
  readonly trimmed: string | undefined;
}

function summaryFrom(text: string | undefined): RunSummary | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && "figures" in v && Array.isArray(v.figures) ? (v as RunSummary) : undefined;
  } catch {
    return undefined;
  }
}

/** A result's metadata, as history and compare read it. */
export function storedRunRef(m: ConfigMapMeta): StoredRunRef {
  const exit = m.labels[LABEL.exitCode];
  const duration = m.annotations[ANNOTATION.durationMs];
  return {
    namespace: m.namespace,
    name: m.name,
    scenario: m.labels[LABEL.scenario] ?? "",
    runId: m.labels[LABEL.run] ?? "",
    verdict: m.labels[LABEL.verdict] ?? "",
    exitCode: exit === undefined || !/^\d+$/.test(exit) ? undefined : Number(exit),
    startedAt: m.annotations[ANNOTATION.startedAt] ?? (m.createdAt === undefined ? "" : new Date(m.createdAt).toISOString()),
    durationMs: duration === undefined || !/^\d+$/.test(duration) ? undefined : Number(duration),
    summary: summaryFrom(m.annotations[ANNOTATION.summary]),
    trimmed: m.annotations[ANNOTATION.trimmed],
  };
}

/** Newest first (by when the run started, then by name). */
export function newestFirst(refs: readonly StoredRunRef[]): StoredRunRef[] {
  return [...refs].sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.name.localeCompare(a.name));
}

/** The results beyond the newest `keep` of each scenario: what pruning deletes. */
export function beyondKept(refs: readonly StoredRunRef[], keep: number): StoredRunRef[] {
  const byScenario = new Map<string, StoredRunRef[]>();
  for (const r of refs) byScenario.set(`${r.namespace}/${r.scenario}`, [...(byScenario.get(`${r.namespace}/${r.scenario}`) ?? []), r]);
  return [...byScenario.values()].flatMap((runs) => newestFirst(runs).slice(keep));
}

/** A stored result's journal; a usage error (exit 2) when it has none or it is not one this chaos-run reads. */
export function decodeJournal(cm: StoredConfigMap): Journal {
  const where = `result ${cm.namespace}/${cm.name}`;
  const packed = cm.binaryData[JOURNAL_KEY];
  if (packed === undefined) {
    const why = cm.annotations[ANNOTATION.trimmed];
    throw new UsageError(`${where} holds no journal${why === undefined ? " (it is not a chaos-run result)" : `: ${why}`}`, { hint: `chaos-run history -n ${cm.namespace} lists the results` });
  }
  let value: unknown;
  try {
    value = JSON.parse(gunzipSync(packed).toString("utf8"));
  } catch (e) {
    throw new UsageError(`${where}: its journal does not decompress to JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== "object" || value === null || !("journalVersion" in value) || !("expectations" in value)) throw new UsageError(`${where} does not hold a chaos-run journal`);
  if (value.journalVersion !== JOURNAL_VERSION) throw new UsageError(`${where} holds journal version ${String(value.journalVersion)}; this chaos-run reads version ${JOURNAL_VERSION}`);
  return value as Journal;
}
