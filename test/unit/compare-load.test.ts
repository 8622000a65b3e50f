// The one I/O of compare: a journal.json or the run directory that holds one, read and checked
// against schemas/journal.schema.json; whatever it cannot use is a usage error (exit 2) that names
// the file and says why.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ErrorObject } from "ajv";
import { generateJournalValidatorSource } from "../../scripts/journal-validator-source.mjs";
import { createAjv, validationSchema } from "../../scripts/validator-source.mjs";
import { validate as standalone } from "../../src/compare/generated/validate-journal.js";
import { loadJournal } from "../../src/compare/load.js";
import { isChaosRunError } from "../../src/errors.js";
import { DEMO, LATENCY_X2, demo } from "./compare-journals.js";

describe("loadJournal", () => {
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-compare-"));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const failure = (path: string): { exitCode: number; message: string } => {
    try {
      loadJournal(path);
    } catch (e) {
      if (isChaosRunError(e)) return { exitCode: e.exitCode, message: e.message };
      throw e;
    }
    throw new Error(`${path} loaded`);
  };

  it("reads a journal.json, or the run directory that holds one", () => {
    expect(loadJournal(DEMO).journal.runId).toBe("k28jj9uo");
    expect(loadJournal(join(DEMO, "..")).file).toBe(DEMO);
  });

  it("names the file it cannot use, and why, with exit 2", () => {
    const valid = readFileSync(DEMO, "utf8");
    const bad = JSON.parse(valid) as { probes: { metrics: Record<string, unknown> }[]; status: string };
    (bad.probes[0] as { metrics: Record<string, unknown> }).metrics["latency.p50"] = "fast";
    bad.status = "done";
    const cases: [string, string][] = [
      [join(dir, "missing.json"), `cannot read ${join(dir, "missing.json")}: ENOENT`],
      [dir, `cannot read ${join(dir, "journal.json")}: ENOENT`],
      [write("text.json", "not json"), `${join(dir, "text.json")} is not JSON: `],
      [write("other.json", '{"name": "x"}'), `${join(dir, "other.json")} is not a chaos-run journal (it has no journalVersion)`],
      [write("v1.json", valid.replace('"journalVersion": 2', '"journalVersion": 1')), `${join(dir, "v1.json")} is journal version 1; this chaos-run compares version 2`],
      [write("bad.json", JSON.stringify(bad)), `${join(dir, "bad.json")} is not a valid chaos-run journal: /status must be equal to one of the allowed values`],
    ];
    for (const [path, message] of cases) {
      const f = failure(path);
      expect(f.exitCode).toBe(2);
      expect(f.message).toContain(message);
    }
    expect(failure(join(dir, "bad.json")).message).toContain("/probes/0/metrics/latency.p50 must be number,null");
  });
});

describe("the journal's precompiled validator", () => {
  const schema = JSON.parse(readFileSync("schemas/journal.schema.json", "utf8")) as unknown;

  it("is what the generator makes from the schema now (run `npm run build` after editing the schema)", () => {
    expect(readFileSync("src/compare/generated/validate-journal.js", "utf8")).toBe(generateJournalValidatorSource(schema));
  });

  it("gives the same verdicts and errors as ajv compiling the schema at run time", () => {
    const runtime = createAjv({ messages: true }).compile(validationSchema(schema));
    const view = (errors: ErrorObject[] | null | undefined) => (errors ?? []).map((e) => ({ i: e.instancePath, k: e.keyword, p: e.params, m: e.message }));
    const broken = demo() as unknown as Record<string, unknown>;
    broken["status"] = "done";
    broken["extra"] = 1;
    (broken["probes"] as Record<string, unknown>[])[0] = { id: "one" };
    const journals = [demo(), JSON.parse(readFileSync(join(LATENCY_X2, "journal.json"), "utf8")) as unknown, broken, {}, []];
    for (const [i, j] of journals.entries()) {
      const a = standalone(j);
      const b = runtime(j);
      expect({ i, valid: a, errors: view(standalone.errors) }).toEqual({ i, valid: b, errors: view(runtime.errors) });
    }
    expect(standalone(broken)).toBe(false);
  });
});
