// What validate prints for a file with thousands of problems (the first of them, and how many
// more), and a reader that goes away early (`chaos-run validate … | head`): real processes and
// a real pipe, through the CLI's sources (tsx), as the fuzz test runs them.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_DIAGNOSTICS_PER_FILE, capDiagnostics, diagnostic } from "../../src/scenario/diagnostics.js";
import { validateSource } from "../../src/scenario/load.js";
import { fuzzCase } from "./fuzz-lib.js";

const CLI = ["--import", "tsx", "src/cli/main.ts"];
const dir = mkdtempSync(join(tmpdir(), "chaos-run-cli-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the fuzz case that once printed 4,161 diagnostics (1.1 MB of JSON) for 16 KB: a nesting that
// overflows the YAML parser's stack, then one error per token
const corpus = readdirSync("scenarios")
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => readFileSync(join("scenarios", f), "utf8"));
const flood = fuzzCase(corpus, 20240602, 216);
const floodFile = join(dir, "flood.yaml");
writeFileSync(floodFile, flood);

describe("diagnostics of one file are capped", () => {
  it("the first MAX_DIAGNOSTICS_PER_FILE, then one saying how many more, where the first of them is", () => {
    const r = validateSource("flood.yaml", flood);
    expect(r.diagnostics).toHaveLength(MAX_DIAGNOSTICS_PER_FILE + 1);
    const more = r.diagnostics.at(-1);
    expect(more?.code).toBe("too-many-problems");
    expect(more?.severity).toBe("error");
    expect(r.omitted.errors).toBeGreaterThan(4000);
    expect(more?.message).toBe(`${r.omitted.errors + r.omitted.warnings} more problems in this file not shown (the first ${MAX_DIAGNOSTICS_PER_FILE} are)`);
    expect(more?.start).toBeGreaterThanOrEqual(r.diagnostics.at(-2)?.start ?? Number.POSITIVE_INFINITY);
  });

  it("left-out warnings only: the last line is a warning (the file's verdict does not change)", () => {
    const warning = (i: number) => diagnostic("w.yaml", "yaml-warning", { detail: `w${i}` }, { path: "", start: i, end: i });
    const capped = capDiagnostics(
      Array.from({ length: 7 }, (_, i) => warning(i)),
      5,
    );
    expect(capped.map((d) => d.code)).toEqual(["yaml-warning", "yaml-warning", "yaml-warning", "yaml-warning", "yaml-warning", "too-many-problems"]);
    expect(capped.at(-1)).toMatchObject({ severity: "warning", start: 5, message: "2 more problems in this file not shown (the first 5 are)" });
    expect(capDiagnostics([warning(1)], 5)).toEqual([warning(1)]);
  });

  it("validate --format json prints them, located, in a few kilobytes; the text summary counts every problem", () => {
    const r = spawnSync(process.execPath, [...CLI, "validate", "--format", "json", floodFile], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout.length).toBeLessThan(32_000);
    const list = JSON.parse(r.stdout) as { code: string; line: number; col: number; message: string }[];
    expect(list).toHaveLength(MAX_DIAGNOSTICS_PER_FILE + 1);
    expect(list.at(-1)).toMatchObject({ code: "too-many-problems", line: expect.any(Number) as number });
    expect(list.at(-1)?.message).toMatch(/^\d+ more problems in this file not shown \(the first 50 are\)$/);
    const text = spawnSync(process.execPath, [...CLI, "validate", floodFile], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 });
    expect(text.status).toBe(2);
    expect(text.stderr.split("\n").filter((l) => l.includes(": error[")).length).toBe(MAX_DIAGNOSTICS_PER_FILE + 1);
    const total = validateSource("flood.yaml", flood).omitted.errors + MAX_DIAGNOSTICS_PER_FILE;
    expect(text.stderr).toContain(`1 file of 1 invalid: ${total} errors\n`);
  }, 120_000);
});

describe("a reader that goes away (validate … | head)", () => {
  it("ends quietly with validate's own status: no EPIPE, no stack trace", async () => {
    // more than a pipe holds (64 KiB), so the writes go on after the reader has gone
    const many = join(dir, "many");
    mkdirSync(many);
    for (let i = 0; i < 30; i++) writeFileSync(join(many, `c${i}.yaml`), flood);
    const child = spawn(process.execPath, [...CLI, "validate", "--format", "json", many], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    let first = "";
    // the reader takes a little, then closes its end, as `head -c 100` does
    child.stdout.once("data", (d: Buffer) => {
      first = d.toString().slice(0, 100);
      child.stdout.destroy();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(first).toMatch(/^\[\n {2}\{/);
    expect(stderr).toBe("");
    expect(code).toBe(2);
  }, 120_000);
});
