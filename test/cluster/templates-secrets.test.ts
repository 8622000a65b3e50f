// Templates and secrets against the lab's nginx, through the built CLI. Every template is filled
// wherever it stands: a port and a path from the environment, the pod's own name in a path and
// a header, a token in a header and a query string (nginx answers 200 only when each request
// reached the pod it names and carried the token), a cmd probe's argv. And the token's value
// appears in nothing chaos-run writes or prints — stdout, stderr, journal.json, report.html,
// index.json, JUnit, the Markdown summary, `report` in every format, `plan` — while its template
// does; the run ends in a probe that cannot reach Prometheus, so the error and its hint are
// written too.
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun, type Finished } from "../support/chaos.js";
import { kubeconfig, kubectl, kubectlOk, makeNamespace, waitFor } from "../support/lab.js";

const ns = "templates-lab";
const dir = mkdtempSync(join(tmpdir(), "chaos-run-templates-"));
// a token as a CI secret would be; every test run its own
const TOKEN = `sk-lab-${Math.random().toString(36).slice(2, 12)}-${Date.now().toString(36)}`;
const TEMPLATE = "{{ env.API_TOKEN }}";

// nginx answers /pod/NAME with 200 only on the pod named NAME ($hostname is the pod's name),
// with the pod's name in X-Pod, and the token in both the Authorization header and the query
const NGINX_CONF = `user www-data;
worker_processes 1;
pid /run/nginx.pid;
daemon off;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen 80 default_server;
    listen 8080;
    location = /health { return 200 "ok\\n"; }
    location ~ ^/pod/(?<pod>[^/]+)$ {
      if ($pod != $hostname) { return 409 "another pod\\n"; }
      if ($http_x_pod != $hostname) { return 409 "another pod in X-Pod\\n"; }
      if ($http_authorization != "Bearer ${TOKEN}") { return 401 "no token\\n"; }
      if ($arg_token != "${TOKEN}") { return 403 "no token in the query\\n"; }
      return 200 "ok\\n";
    }
    location / { return 404 "not here\\n"; }
  }
}
`;

const SCENARIO = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: templates }
target: { namespace: ${ns}, selector: { app: web }, mode: all }
probes:
  health: { http: { url: "http://{{ target.ip }}:{{ env.PORT }}{{ env.PATH_ }}", requests: 3 } }
  whoami:
    http:
      url: "http://{{ target.ip }}/pod/{{ target.name }}?token={{ env.API_TOKEN }}"
      headers: { Authorization: "Bearer {{ env.API_TOKEN }}", X-Pod: "{{ target.name }}" }
      requests: 2
  inside:
    cmd:
      pod: "{{ target.name }}"
      argv: [sh, -c, 'test "$(cat /etc/hostname)" = "$0" && test "$1" = "$EXPECTED_TOKEN"', "{{ target.name }}", "{{ env.API_TOKEN }}"]
  prom: { prometheus: { url: "http://127.0.0.1:65531/{{ env.API_TOKEN }}", query: up, timeout: 2s } }
steps:
  - name: port and path
    probe: health
    expect: { status.200: 3, errors: 0 }
  - name: whoami
    probe: whoami
    expect: { status.200: 2, errors: 0 }
  - name: inside
    probe: inside
    expect: { succeeded: 1 }
  - name: prometheus
    probe: prom
`;

/** Every file under a directory. */
function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

let r: Finished;
let journal: Journal;
const reports = join(dir, "reports");
const junit = join(dir, "junit.xml");
const summary = join(dir, "summary.md");
const file = join(dir, "templates.yaml");
const env = { API_TOKEN: TOKEN, PORT: "8080", PATH_: "/health", GITHUB_STEP_SUMMARY: summary };

beforeAll(async () => {
  await makeNamespace(ns);
  writeFileSync(join(dir, "nginx.conf"), NGINX_CONF);
  await kubectlOk(["create", "configmap", "web-conf", "-n", ns, "--from-file", `nginx.conf=${join(dir, "nginx.conf")}`]);
  const manifest = join(dir, "web.yaml");
  writeFileSync(
    manifest,
    `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${ns} }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: nginx
          image: nginx
          imagePullPolicy: IfNotPresent
          env: [{ name: EXPECTED_TOKEN, value: "${TOKEN}" }]
          volumeMounts: [{ name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf }]
      volumes: [{ name: conf, configMap: { name: web-conf } }]
`,
  );
  await kubectlOk(["apply", "-f", manifest]);
  await waitFor(
    "deployment web available",
    async () => ((await kubectlOk(["get", "deployment", "web", "-n", ns, "-o", "jsonpath={.status.availableReplicas}"])).trim() === "2" ? true : undefined),
    120_000,
    500,
  );
  writeFileSync(file, SCENARIO);
  r = await chaosRun([file, "--kubeconfig", kubeconfig, "--report-dir", reports, "--junit", junit], env);
  const sub = readdirSync(reports).find((d) => d.startsWith("templates"));
  journal = JSON.parse(readFileSync(join(reports, sub ?? "", "journal.json"), "utf8")) as Journal;
}, 240_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
});

describe("templates are filled wherever they stand", () => {
  it("a port and a path from the environment; each pod's own name in the path and a header, the token in a header and the query", () => {
    expect(r.code, r.stderr + r.stdout).toBe(3);
    const held = journal.expectations.filter((e) => e.verdict === "pass").map((e) => `${e.stepName} ${e.pod ?? ""} ${e.metric}`);
    const pods = [...new Set(journal.probes.filter((p) => !p.aggregate && p.pod !== null).map((p) => p.pod))].sort();
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(held).toEqual(expect.arrayContaining([`port and path ${pod} status.200`, `port and path ${pod} errors`, `whoami ${pod} status.200`, `whoami ${pod} errors`, `inside ${pod} succeeded`]));
    }
    // the command as it is recorded: the pod's own values, an environment variable's template
    const whoami = journal.probes.find((p) => p.probe === "whoami" && !p.aggregate);
    expect(whoami?.argv).toContain(`Authorization: Bearer ${TEMPLATE}`);
    expect(whoami?.argv.at(-1)).toBe(`http://${whoami?.argv.at(-1)?.split("/")[2] ?? ""}/pod/${whoami?.pod ?? ""}?token=${TEMPLATE}#[1-2]`);
    expect(journal.probes.find((p) => p.probe === "health" && !p.aggregate)?.argv.at(-1)).toMatch(/^http:\/\/198\.18\.[\d.]+:\{\{ env\.PORT \}\}\{\{ env\.PATH_ \}\}#\[1-3\]$/);
    expect(journal.message).toMatch(/^probe prom: Prometheus at http:\/\/127\.0\.0\.1:65531\/\{\{ env\.API_TOKEN \}\} did not answer: connection refused/);
  });
});

describe("the token's value is in nothing chaos-run writes or prints", () => {
  it("stdout, stderr, and every file of the run: journal, HTML report, JUnit, Markdown summary", () => {
    const outputs: Record<string, string> = { stdout: r.stdout, stderr: r.stderr };
    for (const f of [...filesUnder(reports), junit, summary]) outputs[f] = readFileSync(f, "utf8");
    expect(Object.keys(outputs).some((k) => k.endsWith("report.html"))).toBe(true);
    for (const [name, text] of Object.entries(outputs)) {
      expect(text.length, name).toBeGreaterThan(0);
      expect(text.includes(TOKEN), `${name} holds the token`).toBe(false);
    }
    // its template stands where the value would have
    for (const name of Object.keys(outputs).filter((k) => /journal\.json|report\.html|junit\.xml|summary\.md$/.test(k) || k === "stderr")) {
      expect(outputs[name], name).toContain(TEMPLATE);
    }
  });

  it("report in every format, and plan", async () => {
    const sub = readdirSync(reports).find((d) => d.startsWith("templates")) ?? "";
    const path = join(reports, sub, "journal.json");
    for (const format of ["table", "junit", "markdown", "html"]) {
      const out = await chaosRun(["report", path, "--format", format], env);
      expect(out.code, out.stderr).toBe(3); // the run's own status
      expect((out.stdout + out.stderr).includes(TOKEN), `report --format ${format}`).toBe(false);
    }
    const plan = await chaosRun(["plan", file, "--offline", "--format", "json"], env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(TEMPLATE);
    expect((plan.stdout + plan.stderr).includes(TOKEN)).toBe(false);
  });
});
