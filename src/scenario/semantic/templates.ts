// Templates in probes ({{ target.ip }}, {{ target.name }}, {{ env.NAME }}; src/scenario/template.ts)
// and the probe URLs they are part of: the URL's shape is checked as it will be once filled in.
import { templateParts, isOursMistyped, urlShapeProblem } from "../template.js";
import type { Findings } from "./findings.js";

/** Reports each `{{ … }}` that is not ours; `lenient`: only those that look meant as ours (a command's argv). True when none was. */
export function checkTemplates(findings: Findings, path: string, text: string, lenient = false): boolean {
  const problems = templateParts(text).problems.filter((p) => !lenient || isOursMistyped(p.text));
  for (const p of problems) findings.add("unknown-template", { text: p.text }, findings.source.locateInScalar(path, p.text), p.reason);
  return problems.length === 0;
}

/** `tool` speaks http(s) and is named in the reason; `needsPath`: ab wants a path after the host. */
export function checkUrl(findings: Findings, path: string, url: string, tool: string, needsPath: boolean): void {
  if (!checkTemplates(findings, path, url)) return;
  if (url.startsWith("{{")) return; // the whole URL comes from a template: nothing to check now
  const problem = urlShapeProblem(url, needsPath);
  switch (problem?.kind) {
    case "unparsable":
      findings.add("bad-url", { value: url, reason: "it does not parse" }, findings.locate(path), "e.g. http://{{ target.ip }}:8080/health");
      break;
    case "scheme":
      findings.add("bad-url", { value: url, reason: `${tool} speaks http and https here, not ${problem.scheme}` }, findings.locate(path), "e.g. http://{{ target.ip }}/");
      break;
    case "no-path":
      findings.add("bad-url", { value: url, reason: "ab needs a path" }, findings.locate(path), `add a slash: ${url}/`);
      break;
    case "fragment":
      findings.add("bad-url", { value: url, reason: "a fragment (#…) is never sent to the server" }, findings.locate(path), "remove the #… part");
      break;
  }
}
