// The new probe kinds' pure parts: curl's per-request lines → http metrics, the curl argv, the
// JSONPath subset and API objects → k8s metrics, Prometheus' answers → a value in its unit, an
// exec's outcome → cmd metrics, and the per-pod aggregate of ratios.
import { describe, expect, it } from "vitest";
import type { ExecResult } from "../../src/kube/types.js";
import { curlArgv } from "../../src/plan/plan.js";
import { measureCmd } from "../../src/probes/cmd.js";
import { abCommand, curlCommand } from "../../src/probes/command.js";
import { httpDetail, httpMetrics, parseCurl } from "../../src/probes/http.js";
import { measureObjects } from "../../src/probes/k8s.js";
import { parsePrometheus, queryUrl } from "../../src/probes/prometheus.js";
import { aggregateMetrics, runProbe } from "../../src/probes/run.js";
import { planRun } from "../../src/plan/plan.js";
import { evaluateJsonPath, numericValue, parseJsonPath } from "../../src/scenario/jsonpath.js";
import { fillTemplate } from "../../src/scenario/template.js";
import type { AbProbe, HttpProbe } from "../../src/scenario/types.js";
import { scenarioOf } from "./engine-harness.js";
import { probeContext } from "./probe-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

describe("http: curl's lines", () => {
  // real curl 7.88 output (--write-out '%{http_code} %{time_total} %{exitcode} %{errormsg}\n')
  const mixed = [
    "200 0.001873 0 ",
    "200 0.002511 0 ",
    "503 0.001201 0 ",
    "000 2.001632 28 Operation timed out after 2001 milliseconds with 0 bytes received",
    "000 0.000218 7 Failed to connect to 198.18.0.9 port 81 after 0 ms: Couldn't connect to server",
    "404 0.001004 0 ",
  ].join("\n");

  it("counts statuses by class and code, timeouts and refusals as errors, latency of the answered", () => {
    const p = parseCurl(mixed, "", 7);
    if (!p.ok) throw new Error(p.error);
    const m = httpMetrics(p.requests, undefined);
    expect(m).toMatchObject({ requests: 6, responses: 4, errors: 4, timeouts: 1, refused: 1, "status.2xx": 2, "status.4xx": 1, "status.5xx": 1, "status.200": 2, "status.503": 1, "status.404": 1 });
    expect(m["errorRatio"]).toBeCloseTo(4 / 6);
    expect(m["latency.min"]).toBeCloseTo(1.004);
    expect(m["latency.max"]).toBeCloseTo(2.511);
    expect(m["latency.p50"]).toBeCloseTo(1.201);
    expect(httpDetail(p.requests)).toBe("6 requests: 2 × 200, 1 × 503, 1 × timed out, 1 × no connection, 1 × 404 (Operation timed out after 2001 milliseconds with 0 bytes received)");
  });

  it("counts only expectStatus as success when it is given", () => {
    const p = parseCurl("200 0.001 0 \n404 0.001 0 \n", "", 0);
    if (!p.ok) throw new Error(p.error);
    expect(httpMetrics(p.requests, [404])).toMatchObject({ errors: 1, errorRatio: 0.5 });
    expect(httpMetrics(p.requests, undefined)).toMatchObject({ errors: 1 });
  });

  it("is an error only when curl could not run at all", () => {
    expect(parseCurl("", "curl: (3) URL using bad/illegal format or missing URL\n", 3)).toEqual({ ok: false, error: "curl: (3) URL using bad/illegal format or missing URL" });
    expect(parseCurl("", "", 127)).toEqual({ ok: false, error: "curl is not installed in the tools image" });
  });
});

describe("http: curl's argv", () => {
  it("builds curl's argv: one glob of N requests in a fragment curl never sends, headers, body, method, parallelism", () => {
    const probe: HttpProbe = {
      kind: "http",
      name: "api",
      http: {
        url: "http://[fd00::5]:8080/a[1]?q={x}",
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "@not-a-file",
        requests: 20,
        concurrency: 4,
        timeoutMs: 2500,
        expectStatus: undefined,
      },
      tools: { image: "chaos-tools:latest" },
    };
    expect(curlArgv(probe)).toEqual([
      "curl",
      "--silent",
      "--output",
      "/dev/null",
      "--write-out",
      "%{http_code} %{time_total} %{exitcode} %{errormsg}\\n",
      "--max-time",
      "2.5",
      "--request",
      "POST",
      "--header",
      "Content-Type: application/json",
      "--data-raw",
      "@not-a-file",
      "--parallel",
      "--parallel-immediate",
      "--parallel-max",
      "4",
      "http://[fd00::5]:8080/a\\[1\\]?q=\\{x\\}#[1-20]",
    ]);
    const get = curlArgv({ ...probe, http: { ...probe.http, url: "http://{{ target.ip }}/", method: "HEAD", headers: {}, body: undefined, concurrency: 1, requests: 1 } });
    expect(get.slice(7)).toEqual(["2.5", "--head", "http://{{ target.ip }}/#[1-1]"]);
  });
});

describe("http and ab: templates filled in, and several pods' metrics", () => {
  it("fills every template before escaping curl's globs: host, port, path, query, header values, body", () => {
    const probe: HttpProbe = {
      kind: "http",
      name: "api",
      http: {
        url: "http://{{ target.ip }}:{{ env.PORT }}{{ env.PATH_ }}/{{ target.name }}?q={{ env.Q }}",
        method: "POST",
        headers: { Authorization: "Bearer {{ env.API_TOKEN }}", "X-Pod": "{{ target.name }}" },
        body: '{"pod": "{{ target.name }}"}',
        requests: 3,
        concurrency: 1,
        timeoutMs: 2000,
        expectStatus: undefined,
      },
      tools: { image: "chaos-tools:latest" },
    };
    const env = { PORT: "8080", PATH_: "/ready", Q: "a[1]{b}", API_TOKEN: "s3cr3t-t0ken" };
    const fill = (ip: string) => (t: string) => fillTemplate(t, { target: { ip, name: "web-1" }, env });
    const v4 = curlCommand(probe, fill("198.18.0.5"));
    expect(v4.real.slice(8)).toEqual([
      "--request",
      "POST",
      "--header",
      "Authorization: Bearer s3cr3t-t0ken",
      "--header",
      "X-Pod: web-1",
      "--data-raw",
      '{"pod": "web-1"}',
      // a value's glob characters are escaped as the template's own are: curl reads the URL literally
      "http://198.18.0.5:8080/ready/web-1?q=a\\[1\\]\\{b\\}#[1-3]",
    ]);
    // what is shown: every environment variable's template, however short its value
    expect(v4.shown.slice(8)).toEqual([
      "--request",
      "POST",
      "--header",
      "Authorization: Bearer {{ env.API_TOKEN }}",
      "--header",
      "X-Pod: web-1",
      "--data-raw",
      '{"pod": "web-1"}',
      "http://198.18.0.5:{{ env.PORT }}{{ env.PATH_ }}/web-1?q={{ env.Q }}#[1-3]",
    ]);
    expect(v4.secrets.map((x) => x.name).sort()).toEqual(["API_TOKEN", "PATH_", "PORT", "Q"]);
    // an IPv6 target is the URL's host, bracketed, and curl leaves those brackets alone
    expect(curlCommand(probe, fill("fd00::5")).real.at(-1)).toBe("http://[fd00::5]:8080/ready/web-1?q=a\\[1\\]\\{b\\}#[1-3]");
    // a header value that becomes two headers once filled in is refused
    expect(() => curlCommand(probe, (t) => fillTemplate(t, { target: { ip: "198.18.0.5", name: "w" }, env: { ...env, API_TOKEN: "x\r\nHost: evil" } }))).toThrow("holds a line break");
  });

  it("ab: the URL filled in, its environment variables shown as templates", () => {
    const probe: AbProbe = {
      kind: "ab",
      name: "web",
      ab: { url: "http://{{ target.ip }}{{ env.PATH_ }}?t={{ env.API_TOKEN }}", requests: 10, concurrency: 2, keepAlive: true, timeoutMs: undefined },
      tools: { image: "chaos-tools:latest" },
    };
    const cmd = abCommand(probe, (t) => fillTemplate(t, { target: { ip: "198.18.0.5", name: "w" }, env: { PATH_: "/x", API_TOKEN: "s3cr3t-t0ken" } }));
    expect(cmd.real).toEqual(["ab", "-r", "-k", "-n", "10", "-c", "2", "-s", "10", "-e", "/dev/stderr", "http://198.18.0.5/x?t=s3cr3t-t0ken"]);
    expect(cmd.shown.at(-1)).toBe("http://198.18.0.5{{ env.PATH_ }}?t={{ env.API_TOKEN }}");
  });

  it("recomputes the error ratio of several pods from their counts", () => {
    const a = { requests: 10, errors: 0, errorRatio: 0, "latency.p95": 2 };
    const b = { requests: 30, errors: 15, errorRatio: 0.5, "latency.p95": 9 };
    expect(aggregateMetrics([a, b])).toMatchObject({ requests: 40, errors: 15, errorRatio: 15 / 40, "latency.p95": 9 });
  });
});

describe("k8s: JSONPath and objects", () => {
  const pod = (name: string, ready: string, restarts: number) => ({
    metadata: { name },
    status: {
      conditions: [{ type: "Ready", status: ready }],
      containerStatuses: [
        { name: "sidecar", restartCount: 7 },
        { name: "web", restartCount: restarts },
      ],
    },
  });

  it("parses the subset kubectl users write, with or without { } and $", () => {
    for (const ok of [
      ".status.availableReplicas",
      "{.status.availableReplicas}",
      "$.status.containerStatuses[0].restartCount",
      '.status.containerStatuses[?(@.name=="web")].restartCount',
      ".metadata.labels['app.kubernetes.io/name']",
      ".items[*].x",
      ".a[-1]",
    ]) {
      expect(parseJsonPath(ok).ok, ok).toBe(true);
    }
    expect(parseJsonPath(".status[").ok).toBe(false);
    expect(parseJsonPath("status.x")).toMatchObject({ ok: false, error: expect.stringMatching(/unexpected `s`/) });
    expect(parseJsonPath('.a[?(@.name=~"x")]').ok).toBe(false);
  });

  it("evaluates filters, indexes and wildcards; numbers, booleans and condition statuses are numbers", () => {
    const p = pod("a", "True", 2);
    const path = parseJsonPath('.status.containerStatuses[?(@.name=="web")].restartCount');
    if (!path.ok) throw new Error(path.error);
    expect(evaluateJsonPath(path.segments, p)).toEqual([2]);
    const all = parseJsonPath(".status.containerStatuses[*].restartCount");
    if (!all.ok) throw new Error(all.error);
    expect(evaluateJsonPath(all.segments, p)).toEqual([7, 2]);
    expect([numericValue(true), numericValue("True"), numericValue("False"), numericValue("3"), numericValue("3Gi")]).toEqual([1, 1, 0, 3, undefined]);
  });

  it("measures objects: the field summed, the condition counted, a missing object as 0 with no value", () => {
    const path = parseJsonPath('.status.containerStatuses[?(@.name=="web")].restartCount');
    if (!path.ok) throw new Error(path.error);
    const field = { text: "...restartCount", segments: path.segments };
    const m = measureObjects([pod("a", "True", 1), pod("b", "False", 2)], { what: "Pod shop (app=web)", field, condition: "Ready" });
    expect(m.metrics).toEqual({ objects: 2, value: 3, conditionTrue: 1 });
    expect(m.detail).toBe("Pod shop (app=web): 2 objects, ...restartCount = 3 (sum of 2), Ready True in 1 of 2");
    const gone = measureObjects([], { what: "Deployment shop/web", field, condition: undefined });
    expect(gone).toEqual({ metrics: { objects: 0, value: undefined }, detail: "Deployment shop/web: not found" });
    const text = parseJsonPath(".metadata.name");
    if (!text.ok) throw new Error(text.error);
    expect(measureObjects([pod("a", "True", 0)], { what: "Pod a", field: { text: ".metadata.name", segments: text.segments }, condition: undefined }).detail).toBe(
      'Pod a: 1 object, .metadata.name is not a number: "a"',
    );
  });
});

describe("prometheus: the query API's answers", () => {
  const vector = (...values: string[]): string =>
    JSON.stringify({ status: "success", data: { resultType: "vector", result: values.map((v, i) => ({ metric: { pod: `p${i}` }, value: [1796100000.1, v] })) } });

  it("reads one series or a scalar, in the declared unit", () => {
    expect(parsePrometheus(200, vector("0.25"), "number")).toEqual({ ok: true, metrics: { value: 0.25, series: 1 }, detail: "1 series, value 0.25" });
    expect(parsePrometheus(200, vector("0.25"), "seconds")).toMatchObject({ metrics: { value: 250 } });
    expect(parsePrometheus(200, vector("12.5"), "percent")).toMatchObject({ metrics: { value: 0.125 } });
    expect(parsePrometheus(200, JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "3"] } }), "number")).toMatchObject({ metrics: { value: 3, series: 1 } });
  });

  it("measures no series as no value; NaN likewise", () => {
    expect(parsePrometheus(200, vector(), "number")).toEqual({ ok: true, metrics: { value: undefined, series: 0 }, detail: "no series (the query matched nothing)" });
    expect(parsePrometheus(200, vector("NaN"), "number")).toMatchObject({ ok: true, metrics: { value: undefined, series: 1 } });
  });

  it("says Prometheus' own error, and refuses several series or a range", () => {
    expect(parsePrometheus(400, JSON.stringify({ status: "error", errorType: "bad_data", error: "1:11: parse error: unclosed left parenthesis" }), "number")).toEqual({
      ok: false,
      error: "query error (bad_data): 1:11: parse error: unclosed left parenthesis",
    });
    expect(parsePrometheus(200, vector("1", "2"), "number")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the query returned 2 series \(\{"pod":"p0"\}, \{"pod":"p1"\}\): aggregate them/),
    });
    expect(parsePrometheus(200, JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }), "number")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/returned a matrix/),
    });
    expect(parsePrometheus(502, "<html>bad gateway</html>", "number")).toMatchObject({ ok: false, error: expect.stringMatching(/HTTP 502 .*not Prometheus' JSON/) });
    expect(queryUrl("http://127.0.0.1:29090/", 'up{job="x"}')).toBe("http://127.0.0.1:29090/api/v1/query?query=up%7Bjob%3D%22x%22%7D");
  });
});

describe("cmd: an exec's outcome", () => {
  const exec = (fields: Partial<ExecResult>): ExecResult => ({
    argv: ["pg_isready"],
    pod: "db-0",
    container: "db",
    exitCode: 0,
    stdout: "",
    stderr: "",
    durationMs: 12,
    timedOut: false,
    canceled: false,
    error: undefined,
    ...fields,
  });

  it("measures exit codes, the stdout pattern and a timeout; only an exec that could not start is an error", () => {
    expect(measureCmd(exec({ stdout: "accepting connections\n" }), /accepting/, 1000)).toMatchObject({ ok: true, metrics: { exitCode: 0, succeeded: 1, stdoutMatched: 1, timedOut: 0, duration: 12 } });
    expect(measureCmd(exec({ stdout: "no response\n" }), /accepting/, 1000)).toMatchObject({ ok: true, metrics: { exitCode: 0, succeeded: 0, stdoutMatched: 0 } });
    expect(measureCmd(exec({ exitCode: 2, stderr: "boom\n" }), undefined, 1000)).toEqual({
      ok: true,
      metrics: { exitCode: 2, succeeded: 0, stdoutMatched: undefined, timedOut: 0, duration: 12 },
      detail: "exit 2; stderr: boom",
    });
    expect(measureCmd(exec({ exitCode: undefined, timedOut: true }), undefined, 1000)).toMatchObject({ ok: true, metrics: { timedOut: 1, succeeded: 0 } });
    expect(measureCmd(exec({ exitCode: undefined, error: 'pods "db-0" not found' }), undefined, 1000)).toEqual({ ok: false, error: 'pods "db-0" not found' });
  });
});

describe("a probe run fills its templates for each target pod", () => {
  /** Runs a scenario's first probe step against two pods; curl answers one line per request. */
  async function run(probes: string, env: Record<string, string>) {
    const scenario = scenarioOf(`apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: fill }
target: { namespace: default, selector: { run: web }, mode: all }
probes:
${probes}
steps:
  - { name: p, probe: p }
`);
    const cluster = new RecordingCluster([pod("web-a", { ip: "198.18.0.10" }), pod("web-b", { ip: "198.18.0.11" })]);
    cluster.programs = () => ({ kind: "raw", exitCode: 0, stdout: "200 0.001 0 \n", stderr: "" });
    const plan = planRun(
      scenario,
      [...cluster.pods.values()].map((p) => ({ name: p.name, ip: p.ip })),
      { runId: "r1", namespace: "default" },
    );
    const step = plan.steps[0];
    if (step?.kind !== "probe") throw new Error("a probe step");
    const ctx = probeContext(cluster, env);
    const outcomes = await runProbe(step.run, ctx);
    const execs = cluster.calls.filter((c) => c.op === "exec").map((c) => ({ pod: c.pod, argv: c.argv ?? [] }));
    return { outcomes, execs };
  }

  it("port and path from the environment, the pod's own name in the path: each pod gets its own URL", async () => {
    const { outcomes, execs } = await run(`  p: { http: { url: "http://{{ target.ip }}:{{ env.PORT }}{{ env.PATH_ }}/{{ target.name }}", requests: 1 } }`, { PORT: "8080", PATH_: "/health" });
    expect(execs.map((e) => e.argv.at(-1))).toEqual(["http://198.18.0.10:8080/health/web-a#[1-1]", "http://198.18.0.11:8080/health/web-b#[1-1]"]);
    expect(outcomes.filter((o) => !o.aggregate).map((o) => o.argv.at(-1))).toEqual([
      "http://198.18.0.10:{{ env.PORT }}{{ env.PATH_ }}/web-a#[1-1]",
      "http://198.18.0.11:{{ env.PORT }}{{ env.PATH_ }}/web-b#[1-1]",
    ]);
  });

  it("a header and a body name the pod: the probe runs once per pod, each with its own", async () => {
    const { execs } = await run(`  p: { http: { url: "http://{{ env.SVC }}/", headers: { X-Pod: "{{ target.name }}" }, body: "{{ target.ip }}", requests: 1 } }`, { SVC: "web.default" });
    expect(execs).toHaveLength(2);
    expect(execs.map((e) => e.argv.filter((a) => a.startsWith("X-Pod:") || a.startsWith("198.")))).toEqual([
      ["X-Pod: web-a", "198.18.0.10"],
      ["X-Pod: web-b", "198.18.0.11"],
    ]);
  });

  it("a cmd probe's argv is filled in too; a Go template in it is passed as written", async () => {
    const { execs, outcomes } = await run(`  p: { cmd: { pod: "{{ target.name }}", argv: [kubectl, get, pod, "{{ target.name }}", "-o", "go-template={{.status.phase}}", "{{ env.TOKEN }}"] } }`, {
      TOKEN: "s3cr3t-t0ken",
    });
    expect(execs.map((e) => [e.pod, ...e.argv])).toEqual([
      ["web-a", "kubectl", "get", "pod", "web-a", "-o", "go-template={{.status.phase}}", "s3cr3t-t0ken"],
      ["web-b", "kubectl", "get", "pod", "web-b", "-o", "go-template={{.status.phase}}", "s3cr3t-t0ken"],
    ]);
    expect(outcomes[0]?.argv.at(-1)).toBe("{{ env.TOKEN }}");
  });
});
