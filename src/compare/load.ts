// The only I/O of compare: a journal.json, or a run directory holding one, read and checked
// against schemas/journal.schema.json before anything trusts it — by a validator precompiled
// from it (scripts/gen-validator.mjs), as compiling the schema here took longer than comparing
// two journals of 10,000 samples. Every problem is a UsageError (exit 2) that names the file:
// unreadable, not JSON, another journal version, not a journal.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ErrorObject } from "ajv";
import { UsageError, errorMessage } from "../errors.js";
import { journalVersion, validate } from "./generated/validate-journal.js";
import type { Journal } from "./types.js";

export interface LoadedJournal {
  /** the journal.json read (a run directory's, when a directory was given) */
  readonly file: string;
  readonly journal: Journal;
}

const HINT = "give a run's journal.json, or its directory: chaos-run-report/<scenario>-<time>/";

/** Problems shown at most; the rest are counted. */
const SHOWN = 3;

function problem(e: ErrorObject): string {
  const where = e.instancePath === "" ? "the top level" : e.instancePath;
  const extra = e.keyword === "additionalProperties" ? ` (${String(e.params["additionalProperty"])})` : e.keyword === "enum" ? ` (${JSON.stringify(e.params["allowedValues"])})` : "";
  return `${where} ${e.message ?? "is invalid"}${extra}`;
}

/** Which file a path names: itself, or a directory's journal.json. */
function journalFile(path: string): string {
  try {
    return statSync(path).isDirectory() ? join(path, "journal.json") : path;
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${errorMessage(e)}`, { hint: HINT });
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${errorMessage(e)}`, { hint: HINT });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not JSON: ${errorMessage(e)}`, { hint: HINT });
  }
}

/**
 * A value checked as a journal before anything trusts it: `where` names it in the errors (a file,
 * or a result kept in the cluster, which whoever may write ConfigMaps there could have made).
 */
export function checkJournal(value: unknown, where: string, hint = HINT): Journal {
  const version = typeof value === "object" && value !== null && "journalVersion" in value ? value.journalVersion : undefined;
  if (version === undefined) throw new UsageError(`${where} is not a chaos-run journal (it has no journalVersion)`, { hint });
  if (version !== journalVersion)
    throw new UsageError(`${where} is journal version ${JSON.stringify(version)}; this chaos-run compares version ${JSON.stringify(journalVersion)}`, {
      hint: "compare runs made by the same chaos-run release",
    });
  if (!validate(value)) {
    const errors = validate.errors ?? [];
    const more = errors.length > SHOWN ? ` (and ${errors.length - SHOWN} more)` : "";
    throw new UsageError(`${where} is not a valid chaos-run journal: ${errors.slice(0, SHOWN).map(problem).join("; ")}${more}`, { hint });
  }
  return value as Journal;
}

/** Reads and checks one run's journal: `path` is a journal.json or a run directory. */
export function loadJournal(path: string): LoadedJournal {
  const file = journalFile(path);
  return { file, journal: checkJournal(readJson(file), file) };
}
