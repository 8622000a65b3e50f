#!/usr/bin/env node
// The agent's half of `npm run lint`: gofmt must have nothing to say, go vet nothing to report.
// Argv only; exits non-zero with their output when either complains.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const agent = join(dirname(fileURLToPath(import.meta.url)), "..", "agent");
const env = { ...process.env, GOTOOLCHAIN: "local" };
let failed = false;
const gofmt = spawnSync("gofmt", ["-l", "."], { cwd: agent, env, encoding: "utf8" });
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
process.exit(failed ? 1 : 0);
