#!/usr/bin/env node
// The Go half of `npm run lint`: gofmt must have nothing to say, go vet nothing to report on the
// agent, and no hand-written function may run over 80 lines (Biome's noExcessiveLinesPerFunction
// does the same for the TypeScript). The lab's and the tools image's small Go programs get gofmt
// and the length check; their vet runs where they are built (their modules are fetched there,
// not at lint time). Argv only; exits non-zero with what complains.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const agent = join(repo, "agent");
const goDirs = ["agent", "tools", "test/lab/images"].map((d) => join(repo, d));
const env = { ...process.env, GOTOOLCHAIN: "local" };
let failed = false;
const gofmt = spawnSync("gofmt", ["-l", ...goDirs], { cwd: repo, env, encoding: "utf8" });
if (gofmt.status !== 0 || gofmt.stdout.trim() !== "") {
  process.stderr.write(`gofmt: these files need formatting (gofmt -w):\n${gofmt.stdout}${gofmt.stderr}`);
  failed = true;
}
for (const tags of ["", "kernel"]) {
  const vet = spawnSync("go", ["vet", ...(tags === "" ? [] : ["-tags", tags]), "./..."], { cwd: agent, env, encoding: "utf8" });
  if (vet.status !== 0) {
    process.stderr.write(`go vet${tags === "" ? "" : ` -tags ${tags}`}:\n${vet.stdout}${vet.stderr}`);
    failed = true;
  }
}
/** Every .go file under dir that a person wrote: no tests, no test fakes, no generated code. */
function* handWritten(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "testdata" && entry.name !== "fakekernel") yield* handWritten(path);
    } else if (entry.name.endsWith(".go") && !entry.name.endsWith("_test.go")) yield path;
  }
}

/**
 * Functions longer than max lines. gofmt (checked above) puts a top-level function's `func` and
 * its closing brace at column 0, so the lines between them are its body, closures included.
 */
function longFunctions(source, max) {
  const lines = source.split("\n");
  if (lines.some((l) => /^\/\/ Code generated .* DO NOT EDIT\.$/.test(l))) return [];
  const out = [];
  let start = -1;
  lines.forEach((line, i) => {
    if (line.startsWith("func ") && !line.endsWith("}")) start = i;
    else if (line === "}" && start >= 0) {
      if (i - start - 1 > max) out.push({ line: start + 1, length: i - start - 1, head: lines[start].replace(/ \{$/, "") });
      start = -1;
    }
  });
  return out;
}

const MAX_LINES = 80;
for (const file of goDirs.flatMap((d) => [...handWritten(d)])) {
  for (const f of longFunctions(readFileSync(file, "utf8"), MAX_LINES)) {
    process.stderr.write(`${relative(repo, file)}:${f.line}: ${f.head}: ${f.length} lines, over ${MAX_LINES}: split it by what its parts do\n`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
