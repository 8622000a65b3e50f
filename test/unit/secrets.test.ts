// A value filled into a template from the environment ({{ env.API_TOKEN }}) goes where it must —
// the probe's command in the tools pod, the runner's query — and nowhere else. A sentinel secret
// (with characters JSON, HTML and URLs escape) rides in an http probe's URL and header, every
// tool and API echoes it back in its output and its errors, and then: nothing a probe returns
// or throws holds it, no view of the run (table, JUnit, Markdown, HTML, plain lines, live view,
// plan) does, and what leaves the process through its files and streams does not either —
// its template does.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { guardOutput } from "../../src/cli/io.js";
import { formatPlan, planToJson } from "../../src/plan/format.js";
import { planRun } from "../../src/plan/plan.js";
import type { PlannedProbeRun } from "../../src/plan/types.js";
import { runProbe, type ProbeOutcome } from "../../src/probes/run.js";
import { appendFile, journalWriter, writeAtomic, writeJsonAtomic } from "../../src/report/files.js";
import { MIN_SECRET_LENGTH, Redactor, processRedactor } from "../../src/scenario/redact.js";
import { scenarioOf } from "./engine-harness.js";
import { probeContext } from "./probe-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { fixtureRun, liveOutput, views } from "./report-fixture.js";

const SECRET = 's3cr3t-"<&>-T0KEN-ÿ';
const TEMPLATE = "{{ env.API_TOKEN }}";
const env = { API_TOKEN: SECRET, PORT: "80" };
/** The secret in any form a file or a stream could carry it. */
const FORMS = [SECRET, JSON.stringify(SECRET).slice(1, -1), "s3cr3t-&quot;&lt;&amp;&gt;-T0KEN", encodeURIComponent(SECRET), "s3cr3t-"];

function expectClean(name: string, text: string): void {
  for (const form of FORMS) expect(text.includes(form), `${name} holds the secret (${form})`).toBe(false);
}

const SCENARIO = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: secrets }
target: { namespace: default, selector: { run: web }, mode: all }
probes:
  api:
    http:
      url: "http://{{ target.ip }}:{{ env.PORT }}/?token={{ env.API_TOKEN }}"
      headers: { Authorization: "Bearer {{ env.API_TOKEN }}" }
      requests: 2
  web: { ab: { url: "http://{{ target.ip }}/?token={{ env.API_TOKEN }}", requests: 50, concurrency: 1 } }
  prom: { prometheus: { url: "http://127.0.0.1:9/{{ env.API_TOKEN }}", query: 'up{token="{{ env.API_TOKEN }}"}' } }
  obj: { k8s: { kind: Deployment, name: "{{ env.API_TOKEN }}" } }
  run: { cmd: { pod: "{{ target.name }}", argv: [check, "--token={{ env.API_TOKEN }}"] } }
steps:
  - { name: api, probe: api }
  - { name: web, probe: web }
  - { name: prom, probe: prom }
  - { name: obj, probe: obj }
  - { name: run, probe: run }
`;

const scenario = scenarioOf(SCENARIO);
const cluster = new RecordingCluster([pod("web-a", { ip: "198.18.0.10" })]);
const plan = planRun(scenario, [{ name: "web-a", ip: "198.18.0.10" }], { runId: "r1", namespace: "default" });

function probeRun(name: string): PlannedProbeRun {
  const step = plan.steps.find((s) => s.name === name);
  if (step?.kind !== "probe") throw new Error(`no probe step ${name}`);
  return step.run;
}

// the runner's HTTP says which URL it could not reach, as fetch's errors do
const ctx = probeContext(cluster, env, async (url) => {
  throw new Error(`connect ECONNREFUSED ${url}`);
});

/** Runs a probe; its outcomes, or the error it threw. */
async function attempt(name: string): Promise<{ outcomes?: ProbeOutcome[]; error?: Error & { hint?: string } }> {
  try {
    return { outcomes: await runProbe(probeRun(name), ctx) };
  } catch (e) {
    return { error: e as Error & { hint?: string } };
  }
}

const dir = mkdtempSync(join(tmpdir(), "chaos-run-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("at the source: what a probe returns or throws", () => {
  it("the value goes into the command that runs; what curl echoes of it comes back as its template", async () => {
    // curl tells each request's URL back, and the whole command on stderr
    cluster.programs = (argv) => ({ kind: "raw", exitCode: 0, stdout: `200 0.001 0 \n000 0.001 3 URL rejected: ${argv.at(-1) ?? ""}\n`, stderr: `curl: ${argv.join(" ")}` });
    const { outcomes } = await attempt("api");
    const exec = cluster.calls.find((c) => c.op === "exec" && c.argv?.[0] === "curl");
    expect(exec?.argv).toContain(`Authorization: Bearer ${SECRET}`);
    expect(exec?.argv?.at(-1)).toBe(`http://198.18.0.10:80/?token=${SECRET}#[1-2]`);
    const text = JSON.stringify(outcomes);
    expectClean("the outcomes", text);
    const first = outcomes?.[0];
    expect(first?.argv).toContain(`Authorization: Bearer ${TEMPLATE}`);
    // a value too short to be searched for in free text still shows as its template where it stands
    expect(first?.argv.at(-1)).toBe(`http://198.18.0.10:{{ env.PORT }}/?token=${TEMPLATE}#[1-2]`);
    expect(first?.detail).toContain(`URL rejected: http://198.18.0.10:80/?token=${TEMPLATE}`);
    expect(first?.stderr).toContain(`Bearer ${TEMPLATE}`);
  });

  it("errors that quote the command, the URL, the name or the argv say the template instead", async () => {
    cluster.programs = (argv) => ({ kind: "raw", exitCode: 3, stdout: "", stderr: `curl: (3) URL using bad/illegal format: ${argv.at(-1) ?? ""}` });
    const failures = {
      "curl that cannot run": (await attempt("api")).error,
      "an unreachable Prometheus": (await attempt("prom")).error,
    };
    cluster.objects = (q) => new Error(`deployments.apps "${q.name ?? ""}" is forbidden`);
    cluster.programs = (argv) => ({ kind: "drop", error: `exec ${argv.join(" ")}: container not found` });
    Object.assign(failures, { "a refused read": (await attempt("obj")).error, "an exec that broke": (await attempt("run")).error });
    for (const [what, e] of Object.entries(failures)) {
      expect(e, what).toBeInstanceOf(Error);
      expectClean(`${what}: its message`, e?.message ?? "");
      expectClean(`${what}: its hint`, e?.hint ?? "");
      expectClean(`${what}: its stack`, e?.stack ?? "");
      expect(`${e?.message ?? ""} ${e?.hint ?? ""}`, what).toContain(TEMPLATE);
    }
    expect(failures["curl that cannot run"]?.hint).toContain(`--header Authorization: Bearer ${TEMPLATE}`);
    expect(failures["an unreachable Prometheus"]?.message).toContain(
      `Prometheus at http://127.0.0.1:9/${TEMPLATE} did not answer: connect ECONNREFUSED http://127.0.0.1:9/${TEMPLATE}/api/v1/query?query=up%7Btoken%3D%22${TEMPLATE}`,
    );
  });
});

describe("every view of a run with them", () => {
  it("table, JUnit, Markdown, HTML, plain lines, live view, journal, plan: the template, never the value", async () => {
    // ab answers with its real report (the recording cluster's), curl with the URL it could not reach
    cluster.programs = (argv) => (argv[0] === "ab" ? undefined : { kind: "raw", exitCode: 0, stdout: `000 0.001 7 no route to ${argv.at(-1) ?? ""}\n`, stderr: argv.join(" ") });
    const outcomes = [...((await attempt("api")).outcomes ?? []), ...((await attempt("web")).outcomes ?? [])];
    expect(outcomes.map((o) => o.kind)).toEqual(["http", "ab"]);
    cluster.programs = (argv) => ({ kind: "raw", exitCode: 3, stdout: "", stderr: `curl: (3) ${argv.join(" ")}` });
    const { error } = await attempt("api");
    const f = fixtureRun("pod text", { outcomes, end: { message: error?.message ?? "", hint: error?.hint } });
    const all: Record<string, string> = {
      ...views(f),
      "live view": await liveOutput(f.events),
      journal: JSON.stringify(f.journal),
      plan: formatPlan(plan, "secrets.yaml"),
      "plan --format json": JSON.stringify(planToJson(plan, "secrets.yaml")),
    };
    for (const [name, text] of Object.entries(all)) expectClean(name, text);
    for (const name of ["html", "journal", "junit", "markdown", "plan"]) expect(all[name], name).toContain(name === "html" ? "Bearer {{ env.API_TOKEN }}" : "{{ env.API_TOKEN }}");
  }, 30_000);
});

describe("at the edge: what leaves the process", () => {
  // a value a probe filled in is known to the process's redactor (runProbe adds it), as the CLI
  // adds every value a scenario's templates name before it runs
  const leaked = `raw ${SECRET}, in JSON ${JSON.stringify(SECRET)}, in HTML s3cr3t-&quot;&lt;&amp;&gt;-T0KEN-ÿ, in a URL ${encodeURIComponent(SECRET)}`;

  it("files: text written, appended and replaced, and JSON as data (a number stays a number)", () => {
    expect(processRedactor().text(SECRET)).toBe(TEMPLATE);
    const text = join(dir, "report.html");
    writeAtomic(text, leaked);
    appendFile(join(dir, "summary.md"), leaked);
    const json = join(dir, "index.json");
    writeJsonAtomic(json, { message: leaked, [SECRET]: 1, port: 80, n: 123456 });
    const journal = join(dir, "journal.json");
    const writer = journalWriter(journal, (e) => {
      throw e;
    });
    writer.update(fixtureRun(SECRET).journal);
    writer.flush();
    for (const file of [text, join(dir, "summary.md"), json, journal]) expectClean(file, readFileSync(file, "utf8"));
    expect(readFileSync(text, "utf8")).toBe(`raw ${TEMPLATE}, in JSON "${TEMPLATE}", in HTML ${TEMPLATE}, in a URL ${TEMPLATE}`);
    expect(JSON.parse(readFileSync(json, "utf8"))).toEqual({ message: `raw ${TEMPLATE}, in JSON "${TEMPLATE}", in HTML ${TEMPLATE}, in a URL ${TEMPLATE}`, [TEMPLATE]: 1, port: 80, n: 123456 });
  });

  it("stdout and stderr as main.ts guards them (listr2 writes there too)", async () => {
    const stream = new PassThrough();
    let out = "";
    stream.on("data", (d: Buffer) => {
      out += d.toString();
    });
    guardOutput(stream);
    stream.write(`${leaked}\n`);
    await new Promise<void>((resolve) => stream.write("", () => resolve()));
    expectClean("the stream", out);
    expect(out).toContain(`raw ${TEMPLATE}`);
  });

  it("a redactor leaves short values, other data and the errors it does not need to copy alone", () => {
    const r = new Redactor([
      { name: "PORT", value: "8080" },
      { name: "T", value: "abcdef" },
    ]);
    expect("8080".length).toBeLessThan(MIN_SECRET_LENGTH);
    expect(r.text("port 8080, abcdefg")).toBe(`port 8080, {{ env.T }}g`);
    const data = { a: ["x", 1, null], b: { c: true } };
    expect(r.value(data)).toBe(data);
    const plain = new Error("nothing to hide");
    expect(r.error(plain)).toBe(plain);
  });
});
