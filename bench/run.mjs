#!/usr/bin/env node
// Benchmarks, by section: `npm run bench` runs them all, `npm run bench -- scenario` one.
// Each section is a module of bench/ exporting `default async function (ctx)` that prints its
// measurements as ratios (never pass/fail on a wall-clock number in a test). A section returns
// false when a quality bar is missed; the run then exits 1.
// To add a section: write bench/NAME.mjs and add it to SECTIONS.
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

const SECTIONS = {
  scenario: () => import("./scenario.mjs"),
  fanout: () => import("./fanout.mjs"),
  "time-to-fault": () => import("./time-to-fault.mjs"),
  lab: () => import("./lab.mjs"),
  "process-faults": () => import("./process-faults.mjs"),
  http: () => import("./http.mjs"),
  "http-reference": () => import("./http-reference.mjs"),
  "proxy-memory": () => import("./proxy-memory.mjs"),
  grpc: () => import("./grpc.mjs"),
  compare: () => import("./compare.mjs"),
  "compare-noise": () => import("./compare-noise.mjs"),
  "in-cluster": () => import("./in-cluster.mjs"),
  dns: () => import("./dns.mjs"),
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !(w in SECTIONS));
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(", ")} (sections: ${Object.keys(SECTIONS).join(", ")})`);
  process.exit(2);
}
let ok = true;
for (const name of wanted.length > 0 ? wanted : Object.keys(SECTIONS)) {
  const section = (await SECTIONS[name]()).default;
  console.log(`== ${name}`);
  const result = await section({ root, log: (line) => console.log(`  ${line}`) });
  if (result === false) ok = false;
}
process.exit(ok ? 0 : 1);
