// Where reports go on disk: <report-dir>/<scenario>-<UTC time>/journal.json, written whole and
// renamed into place as the run goes (a reader never sees half a file), and the invocation's
// index.json beside them. Every file chaos-run writes is written here, and redacted here
// (scenario/redact.ts): text as text, JSON as data before it is serialised (so a number is never
// taken for a secret, and an escaped value is found).
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CouldNotRunError, UsageError } from "../errors.js";
import { JOURNAL_VERSION, type Journal } from "./journal.js";
import { processRedactor } from "../scenario/redact.js";

export function runDirName(scenario: string, startedAt: number): string {
  const t = new Date(startedAt)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${scenario}-${t}`;
}

function replaceFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Writes a text file (a report, JUnit XML) whole, renamed into place. */
export function writeAtomic(path: string, text: string): void {
  replaceFile(path, processRedactor().text(text));
}

/** Writes a value as JSON, whole, renamed into place. */
export function writeJsonAtomic(path: string, value: unknown): void {
  replaceFile(path, `${JSON.stringify(processRedactor().value(value), null, 2)}\n`);
}

export interface JournalWriter {
  /** the journal changed: written within `intervalMs` */
  readonly update: (j: Journal) => void;
  /** writes a pending change now */
  readonly flush: () => void;
}

/**
 * Writes the journal as the run goes, at most every `intervalMs` unless flushed: a wide fan-out
 * makes hundreds of events, and rewriting the whole file for each would cost time quadratic in
 * the number of pods. Once a second: each write is the whole file renamed into place, and at four
 * a second those writes were a twentieth of a 50-pod fan-out's CPU (issue 21); a runner killed
 * outright loses at most its last second of events, its faults are the agents' leases' to end.
 * A failure to write is reported once, never fatal.
 */
export function journalWriter(path: string, onError: (e: unknown) => void, intervalMs = 1000): JournalWriter {
  let failed = false;
  let timer: NodeJS.Timeout | undefined;
  let pending: Journal | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const j = pending;
    pending = undefined;
    if (failed || j === undefined) return;
    try {
      writeJsonAtomic(path, j);
    } catch (e) {
      failed = true;
      onError(e);
    }
  };
  const update = (j: Journal): void => {
    pending = j;
    if (timer === undefined) {
      timer = setTimeout(flush, intervalMs);
      timer.unref();
    }
  };
  return { update, flush };
}

export function appendFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, processRedactor().text(text));
}

export interface IndexEntry {
  scenario: string;
  file: string;
  journal: string | null;
  status: string;
  exitCode: number;
}

export function writeIndex(dir: string, entries: readonly IndexEntry[], exitCode: number): string {
  const path = join(dir, "index.json");
  writeJsonAtomic(path, { indexVersion: 1, exitCode, runs: entries });
  return path;
}

function isJournal(v: unknown): v is Journal {
  return typeof v === "object" && v !== null && "journalVersion" in v && "expectations" in v && "scenario" in v;
}

export function readJournal(path: string): Journal {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, { hint: "chaos-run report chaos-run-report/<run>/journal.json" });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isJournal(value)) throw new UsageError(`${path} is not a chaos-run journal`);
  if (value.journalVersion !== JOURNAL_VERSION) {
    throw new CouldNotRunError(`${path} is journal version ${String(value.journalVersion)}; this chaos-run reads version ${JOURNAL_VERSION}`);
  }
  return value;
}
