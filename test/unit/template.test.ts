// Probe templates: {{ target.ip }} as a URL's host is bracketed when it is IPv6; every template
// is filled wherever it stands, as a pair of what runs and what is shown (an environment
// variable's value never is); a Go template in a command's argv is someone else's.
import { describe, expect, it } from "vitest";
import { validateSource } from "../../src/scenario/load.js";
import { checkUrlTemplate, fillTemplate, renderTemplate, templateSecrets, unfilledTemplate } from "../../src/scenario/template.js";
import { scenarioOf } from "./engine-harness.js";

const v6 = { target: { ip: "fd00:c612::5", name: "web-0" }, env: { PORT: "8080" } };
const v4 = { target: { ip: "198.18.0.5", name: "web-0" }, env: { PORT: "8080" } };

describe("{{ target.ip }}", () => {
  it("an IPv6 address as the URL's host is bracketed, with or without a port or userinfo", () => {
    expect(renderTemplate("http://{{ target.ip }}/", v6)).toBe("http://[fd00:c612::5]/");
    expect(renderTemplate("http://{{ target.ip }}:{{ env.PORT }}/ready", v6)).toBe("http://[fd00:c612::5]:8080/ready");
    expect(renderTemplate("https://user:pw@{{target.ip}}/x", v6)).toBe("https://user:pw@[fd00:c612::5]/x");
  });
  it("IPv4 as it is; IPv6 elsewhere in the URL (a query, a path) as it is; an address already bracketed is left alone", () => {
    expect(renderTemplate("http://{{ target.ip }}/", v4)).toBe("http://198.18.0.5/");
    expect(renderTemplate("http://proxy/?to={{ target.ip }}", v6)).toBe("http://proxy/?to=fd00:c612::5");
    expect(renderTemplate("http://[{{ target.ip }}]:80/", v6)).toBe("http://[fd00:c612::5]:80/");
    expect(renderTemplate("http://{{ target.name }}.svc/", v6)).toBe("http://web-0.svc/");
  });
});

describe("a filled template: what runs and what is shown", () => {
  const values = { target: { ip: "198.18.0.5", name: "web-0" }, env: { PORT: "8080", PATH_: "/ready", API_TOKEN: "s3cr3t-t0ken" } };

  it("fills every template wherever it stands (port, path, query), showing an environment variable's template instead of its value", () => {
    const f = fillTemplate("http://{{ target.ip }}:{{ env.PORT }}{{ env.PATH_ }}?pod={{ target.name }}&token={{env.API_TOKEN}}", values);
    expect(f.real).toBe("http://198.18.0.5:8080/ready?pod=web-0&token=s3cr3t-t0ken");
    expect(f.shown).toBe("http://198.18.0.5:{{ env.PORT }}{{ env.PATH_ }}?pod=web-0&token={{env.API_TOKEN}}");
    expect(f.secrets).toEqual([
      { name: "PORT", value: "8080" },
      { name: "PATH_", value: "/ready" },
      { name: "API_TOKEN", value: "s3cr3t-t0ken" },
    ]);
    expect(f.parts.map((p) => p.literal)).toEqual([true, false, true, false, false, true, false, true, false]);
  });

  it("says what is missing; only lenient (a command's argv) leaves someone else's `{{ }}` as written", () => {
    expect(() => fillTemplate("{{ env.NOPE }}", values)).toThrow("{{ env.NOPE }} has no value (environment variable not set)");
    expect(() => fillTemplate("{{ target.ip }}", { env: {} })).toThrow("no target pod");
    expect(() => fillTemplate("{{.status.phase}}", values)).toThrow("only {{ target.ip }}, {{ target.name }} and {{ env.NAME }} exist");
    const go = fillTemplate("-o=go-template={{.status.phase}} {{ target.name }}", values, true);
    expect(go.real).toBe("-o=go-template={{.status.phase}} web-0");
    // a typo of ours is still an error there
    expect(() => fillTemplate("{{ target.nmae }}", values, true)).toThrow("{{ target.nmae }}");
  });

  it("the plan's view: every template as written", () => {
    const f = unfilledTemplate("http://{{ target.ip }}/a[1]{{ env.X }}");
    expect(f.real).toBe("http://{{ target.ip }}/a[1]{{ env.X }}");
    expect(f.shown).toBe(f.real);
    expect(f.parts.map((p) => p.literal)).toEqual([true, false, true, false]);
  });

  it("finds every environment variable a scenario's templates name, however deep, with its value where set", () => {
    const scenario = scenarioOf(`apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: t }
target: { namespace: default, selector: { app: web }, mode: all }
probes:
  api:
    http:
      url: "http://{{ env.HOST }}/"
      headers: { Authorization: "Bearer {{ env.API_TOKEN }}" }
      body: '{"k": "{{ env.UNSET }}"}'
  cmd: { cmd: { pod: "{{ target.name }}", argv: [sh, -c, "echo {{ env.EMPTY }}"] } }
steps:
  - { name: p, probe: api }
`);
    expect(templateSecrets(scenario, { HOST: "web.svc", API_TOKEN: "s3cr3t-t0ken", EMPTY: "", OTHER: "x" })).toEqual([
      { name: "HOST", value: "web.svc" },
      { name: "API_TOKEN", value: "s3cr3t-t0ken" },
    ]);
  });
});

describe("a probe URL's shape, one check for a scenario file and for --url", () => {
  /** each `bad-url` of a scenario whose one probe of `kind` has this URL, as [reason, hint] */
  const fileSays = (kind: "ab" | "http" | "prometheus", url: string): [string, string | undefined][] => {
    const probe = kind === "prometheus" ? `{ url: "${url}", query: up }` : `{ url: "${url}" }`;
    const r = validateSource(
      "u.yaml",
      `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: t }
target: { namespace: default, selector: { app: web }, mode: all }
probes:
  p: { ${kind}: ${probe} }
steps:
  - { name: s, probe: p }
`,
    );
    return r.diagnostics.filter((d) => d.code === "bad-url").map((d) => [d.message.replace(/^.* is not a usable URL: /, ""), d.hint]);
  };

  it("a scheme other than http(s), said with the tool that would refuse it", () => {
    expect(fileSays("ab", "ftp://{{ target.ip }}/")).toEqual([["ab speaks http and https here, not ftp", "e.g. http://{{ target.ip }}/"]]);
    expect(fileSays("http", "ftp://{{ target.ip }}/")).toEqual([["curl speaks http and https here, not ftp", "e.g. http://{{ target.ip }}/"]]);
    expect(fileSays("prometheus", "ftp://{{ env.PROM }}/")).toEqual([["the runner speaks http and https here, not ftp", "e.g. http://{{ target.ip }}/"]]);
    expect(checkUrlTemplate("ftp://{{ target.ip }}/")).toBe("ab speaks http and https, not ftp");
  });

  it("ab wants a path after the host; curl and the runner do not", () => {
    expect(fileSays("ab", "http://{{ target.ip }}:8080")).toEqual([["ab needs a path", "add a slash: http://{{ target.ip }}:8080/"]]);
    expect(fileSays("http", "http://{{ target.ip }}:8080")).toEqual([]);
    expect(fileSays("prometheus", "http://{{ env.PROM }}:9090")).toEqual([]);
    expect(checkUrlTemplate("http://{{ target.ip }}:8080")).toBe("ab needs a path: http://{{ target.ip }}:8080/");
  });

  it("a URL that does not parse once its templates are filled in with samples", () => {
    expect(fileSays("ab", "http://{{ target.ip }}:99999/")).toEqual([["it does not parse", "e.g. http://{{ target.ip }}:8080/health"]]);
    expect(checkUrlTemplate("http://{{ target.ip }}:99999/")).toBe("it does not parse as a URL");
    expect(checkUrlTemplate("http://{{ target.name }}.svc:{{ env.PORT }}/ready?q={{ env.Q }}")).toBeUndefined();
  });

  it("a fragment is refused in a file (it is never sent); --url has always taken it", () => {
    expect(fileSays("http", "http://{{ target.ip }}/health#x")).toEqual([["a fragment (#…) is never sent to the server", "remove the #… part"]]);
    expect(checkUrlTemplate("http://{{ target.ip }}/health#x")).toBeUndefined();
  });

  it("a template that is not ours is said as such, and the shape is not checked then; a URL wholly from a template is checked when filled in", () => {
    expect(fileSays("ab", "ftp://{{ nope }}")).toEqual([]);
    expect(checkUrlTemplate("ftp://{{ nope }}")).toBe("{{ nope }}: only {{ target.ip }}, {{ target.name }} and {{ env.NAME }} exist");
    expect(fileSays("prometheus", "{{ env.PROM_URL }}")).toEqual([]);
  });
});
