// Seeded fuzz of the scenario pipeline: never a crash, a stack trace or a hang; every case is
// valid or gives located diagnostics. Short here (test:unit); `npm run fuzz` runs
// FUZZ_CASES=10000 in-process plus FUZZ_CLI_CASES through the built CLI; by default a few CLI
// cases run through the sources (tsx), which need no build.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { PlanError, formatPlan, planOffline } from "../../src/plan/index.js";
import { CODES } from "../../src/scenario/codes.js";
import { MAX_ALIAS_COUNT, fastParse, yamlLib } from "../../src/scenario/document.js";
import { validateSource } from "../../src/scenario/load.js";
import { fuzzCase } from "./fuzz-lib.js";

const CASES = Number(process.env["FUZZ_CASES"] ?? 300);
const BUILT = process.env["FUZZ_CLI_CASES"] !== undefined;
const CLI_CASES = Number(process.env["FUZZ_CLI_CASES"] ?? 3);
const CLI = BUILT ? ["dist/cli/main.js"] : ["--import", "tsx", "src/cli/main.ts"];
const SEED = Number(process.env["FUZZ_SEED"] ?? 20240601);
const MAX_OUTPUT = 256 << 20;
const corpus = readdirSync("scenarios")
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => readFileSync(join("scenarios", f), "utf8"));

function checkCase(n: number): { valid: boolean } {
  const text = fuzzCase(corpus, SEED, n);
  const where = `case ${n} (FUZZ_SEED=${SEED})`;
  let result: ReturnType<typeof validateSource>;
  try {
    result = validateSource(`case-${n}.yaml`, text);
  } catch (e) {
    throw new Error(`${where}: validateSource threw ${String(e)}\n--- text ---\n${text.slice(0, 2000)}`);
  }
  for (const d of result.diagnostics) {
    if (!(d.code in CODES) || d.message === "" || d.start < 0 || d.end < d.start || d.end > text.length) {
      throw new Error(`${where}: bad diagnostic ${JSON.stringify(d)}`);
    }
  }
  const errors = result.diagnostics.some((d) => d.severity === "error");
  if (errors !== (result.scenario === undefined)) throw new Error(`${where}: scenario and errors disagree`);
  if (result.scenario !== undefined) {
    try {
      formatPlan(planOffline(result.scenario), "x.yaml");
    } catch (e) {
      if (!(e instanceof PlanError)) throw new Error(`${where}: planning threw ${String(e)}\n--- text ---\n${text.slice(0, 2000)}`);
    }
  }
  // a scenario found valid on the fast path (js-yaml) reads the same with the yaml library
  // (an invalid one is re-read by yaml anyway, whose errors then win)
  const fast = result.scenario !== undefined ? fastParse(text) : undefined;
  if (fast !== undefined) {
    const yaml = yamlLib();
    const doc = yaml.parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true });
    if (doc.errors.length > 0) throw new Error(`${where}: js-yaml accepts what yaml rejects (${doc.errors[0]?.message ?? ""})\n--- text ---\n${text.slice(0, 2000)}`);
    const data: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (!isDeepStrictEqual(data, fast.data)) throw new Error(`${where}: js-yaml and yaml read different data\n--- text ---\n${text.slice(0, 2000)}`);
  }
  return { valid: !errors };
}

describe("fuzz", () => {
  it(`${CASES} mutated catalog files in-process`, () => {
    let valid = 0;
    for (let n = 0; n < CASES; n++) if (checkCase(n).valid) valid++;
    // most mutations break something, some do not: both paths are exercised
    expect(valid).toBeGreaterThan(0);
    expect(valid).toBeLessThan(CASES);
  }, 600_000);

  it(`${CLI_CASES} cases through the ${BUILT ? "built CLI" : "CLI's sources"}`, () => {
    if (BUILT && !existsSync("dist/cli/main.js")) throw new Error("dist/cli/main.js is missing: npm run build first");
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-fuzz-"));
    try {
      for (let n = 0; n < CLI_CASES; n++) {
        const file = join(dir, `case-${n}.yaml`);
        writeFileSync(file, fuzzCase(corpus, SEED + 1, n));
        // a large output is read whole (spawnSync's default 1 MiB would kill the process and look
        // like a hang); a process that is killed says why: the timeout, or the buffer
        const r = spawnSync(process.execPath, [...CLI, "validate", "--format", "json", file], { encoding: "utf8", timeout: 20_000, maxBuffer: MAX_OUTPUT });
        const where = `CLI case ${n} (FUZZ_SEED=${SEED + 1})`;
        if (r.error !== undefined) {
          const why = (r.error as NodeJS.ErrnoException).code === "ENOBUFS" ? `printed more than ${MAX_OUTPUT} bytes` : `did not end within 20 s (${r.error.message})`;
          throw new Error(`${where}: validate ${why}`);
        }
        if (r.status !== 0 && r.status !== 2) throw new Error(`${where}: exit ${String(r.status)} ${r.signal ?? ""}\n${r.stderr}`);
        // one file's diagnostics are capped (scenario/diagnostics.ts): never megabytes of them
        if (r.stdout.length > 64_000) throw new Error(`${where}: ${r.stdout.length} bytes of diagnostics for one file`);
        if (/internal error|\n\s+at /.test(r.stderr)) throw new Error(`${where}: ${r.stderr}`);
        const diagnostics = JSON.parse(r.stdout) as { line: number; col: number; file: string }[];
        expect(diagnostics.length > 0).toBe(r.status === 2);
        for (const d of diagnostics) {
          if (!(d.line >= 1 && d.col >= 1 && d.file === file)) throw new Error(`${where}: unlocated ${JSON.stringify(d)}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
