// The probes declared under `probes:`: what each kind's fields must be beyond the schema (URLs,
// templates, a JSONPath, a regular expression, an apiVersion chaos-run can infer), and what the
// rest of the checks need to know of each (its kind and metrics).
import { PROBE_KINDS, probeMetrics, prometheusDimension } from "../../expect/metrics.js";
import type { MetricTable, ProbeKind } from "../../expect/metrics.js";
import { joinPointer } from "../document.js";
import { parseJsonPath } from "../jsonpath.js";
import { KNOWN_KINDS, defaultApiVersion } from "../kinds.js";
import { closest, didYouMean } from "../suggest.js";
import type { Findings } from "./findings.js";
import { arr, int, obj, str } from "./read.js";
import type { Obj } from "./read.js";
import { checkTemplates, checkUrl } from "./templates.js";
import { templateParts } from "../template.js";
import { DEFAULT_GRPC_REQUESTS, MAX_DNS_TIMEOUT_MS, MAX_GRPC_TIMEOUT_MS } from "../types.js";
import { parseDuration } from "../units.js";

/** What validation needs to know of a declared probe. */
export interface ProbeFacts {
  readonly kind: ProbeKind;
  readonly metrics: MetricTable;
}

/** The probes by name; undefined for one whose kind cannot be told (the schema says why). */
export type DeclaredProbes = ReadonlyMap<string, ProbeFacts | undefined>;

export function checkProbes(findings: Findings, probes: Obj | undefined): DeclaredProbes {
  const declared = new Map<string, ProbeFacts | undefined>();
  for (const [name, raw] of Object.entries(probes ?? {})) {
    const probe = obj(raw);
    const kind = PROBE_KINDS.find((k) => obj(probe?.[k]) !== undefined);
    const body = kind === undefined ? undefined : obj(probe?.[kind]);
    if (kind === undefined || body === undefined) {
      declared.set(name, undefined);
      continue;
    }
    declared.set(name, { kind, metrics: probeMetrics(kind, kind === "prometheus" ? prometheusDimension(str(body["unit"])) : undefined) });
    if (probe?.["tools"] !== undefined && kind !== "ab" && kind !== "http" && kind !== "grpc") {
      findings.add(
        "conflicting-keys",
        { key: "tools", other: kind },
        findings.locate(joinPointer("/probes", name, "tools"), "key"),
        `${kind} probes do not run in the chaos-tools pod: remove \`tools\``,
      );
    }
    checkProbeBody(findings, kind, body, joinPointer("/probes", name, kind));
  }
  return declared;
}

function checkProbeBody(findings: Findings, kind: ProbeKind, body: Obj, base: string): void {
  switch (kind) {
    case "ab":
    case "http":
      checkWebProbe(findings, body, base, kind);
      break;
    case "grpc":
      checkGrpcProbe(findings, body, base);
      break;
    case "k8s":
      checkK8sProbe(findings, body, base);
      break;
    case "prometheus":
      checkPrometheusProbe(findings, body, base);
      break;
    case "cmd":
      checkCmdProbe(findings, body, base);
      break;
    case "dns":
      checkDnsProbe(findings, body, base);
      break;
  }
}

/** dns: a query's timeout the agent accepts (1 ms to 30 s). */
function checkDnsProbe(findings: Findings, body: Obj, base: string): void {
  const timeout = str(body["timeout"]);
  const ms = timeout === undefined ? undefined : parseDuration(timeout);
  if (timeout !== undefined && ms !== undefined && (ms < 1 || ms > MAX_DNS_TIMEOUT_MS)) {
    findings.add("out-of-range", { value: timeout, bound: "from 1ms to 30s" }, findings.locate(joinPointer(base, "timeout")), "a resolver waits 5s by default (resolv.conf's timeout): e.g. 2s");
  }
}

/** ab and http: a URL, headers and a body that may hold templates, and no more at once than in all. */
function checkWebProbe(findings: Findings, body: Obj, base: string, kind: "ab" | "http"): void {
  const url = str(body["url"]);
  if (url !== undefined) checkUrl(findings, joinPointer(base, "url"), url, kind === "ab" ? "ab" : "curl", kind === "ab");
  for (const [header, value] of Object.entries(obj(body["headers"]) ?? {})) {
    if (typeof value === "string") checkTemplates(findings, joinPointer(base, "headers", header), value);
  }
  const payload = str(body["body"]);
  if (payload !== undefined) checkTemplates(findings, joinPointer(base, "body"), payload);
  const requests = int(body["requests"]) ?? (kind === "http" ? 10 : undefined);
  const concurrency = int(body["concurrency"]);
  if (requests !== undefined && concurrency !== undefined && concurrency > requests) {
    findings.add(
      "concurrency-above-requests",
      { concurrency, requests },
      findings.locate(joinPointer(base, "concurrency")),
      kind === "ab" ? "ab refuses a concurrency above the number of requests" : "lower concurrency to at most requests",
    );
  }
}

/** HOST:PORT once its templates are in: a name or an address (IPv6 in brackets), and a port. */
const GRPC_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$/;

/** grpc: an address of HOST:PORT (templates in), no more calls at once than in all, a deadline of at most 60 s. */
function checkGrpcProbe(findings: Findings, body: Obj, base: string): void {
  const address = str(body["address"]);
  if (address !== undefined && checkTemplates(findings, joinPointer(base, "address"), address)) {
    // a template stands for a host (target.ip, target.name) or anything (env): a sample of each
    let concrete = address;
    for (const part of [...templateParts(address).parts].reverse()) {
      const sample = part.name === "target.ip" ? "192.0.2.1" : part.name === "target.name" ? "pod" : "1";
      concrete = concrete.slice(0, part.start) + sample + concrete.slice(part.start + part.text.length);
    }
    const port = Number(GRPC_ADDRESS.exec(concrete)?.[1] ?? 0);
    if (!address.startsWith("{{ env.") && (port < 1 || port > 65535)) {
      findings.add(
        "bad-value",
        { value: address, what: "HOST:PORT (a port from 1 to 65535)" },
        findings.locate(joinPointer(base, "address")),
        "e.g. {{ target.ip }}:50051 or greeter.shop.svc:50051 (plain HTTP/2: no scheme)",
      );
    }
  }
  if (body["health"] === false) {
    // the schema takes a boolean for `health: true`; false would leave the probe with nothing to call
    findings.add(
      "bad-value",
      { value: "false", what: "`true` or a gRPC service's full name" },
      findings.locate(joinPointer(base, "health")),
      "for a method's calls, leave `health` out and give `method`",
    );
  }
  const requests = int(body["requests"]) ?? DEFAULT_GRPC_REQUESTS;
  const concurrency = int(body["concurrency"]);
  if (concurrency !== undefined && concurrency > requests) {
    findings.add("concurrency-above-requests", { concurrency, requests }, findings.locate(joinPointer(base, "concurrency")), "lower concurrency to at most requests");
  }
  const timeout = str(body["timeout"]);
  const timeoutMs = timeout === undefined ? undefined : parseDuration(timeout);
  if (timeout !== undefined && timeoutMs !== undefined && (timeoutMs <= 0 || timeoutMs > MAX_GRPC_TIMEOUT_MS)) {
    findings.add("out-of-range", { value: timeout, bound: "above 0 and at most 60s" }, findings.locate(joinPointer(base, "timeout")), "each call's deadline, e.g. 2s");
  }
}

function checkK8sProbe(findings: Findings, body: Obj, base: string): void {
  const field = str(body["field"]);
  if (field !== undefined) {
    const r = parseJsonPath(field);
    if (!r.ok) {
      findings.add(
        "bad-jsonpath",
        { value: field, reason: r.error },
        findings.locate(joinPointer(base, "field")),
        'e.g. .status.availableReplicas or .status.containerStatuses[?(@.name=="web")].restartCount',
      );
    }
  }
  const objName = str(body["name"]);
  if (objName !== undefined) checkTemplates(findings, joinPointer(base, "name"), objName);
  const objKind = str(body["kind"]);
  if (objKind !== undefined && body["apiVersion"] === undefined && defaultApiVersion(objKind) === undefined) {
    findings.add(
      "missing-key",
      { keys: ["apiVersion"], where: `a k8s probe of kind ${objKind}` },
      findings.locate(joinPointer(base, "kind")),
      `${didYouMean(closest(objKind, KNOWN_KINDS))}chaos-run knows the apiVersion of ${KNOWN_KINDS.join(", ")}; for other kinds, give it (kubectl api-resources)`,
    );
  }
}

function checkPrometheusProbe(findings: Findings, body: Obj, base: string): void {
  const url = str(body["url"]);
  if (url !== undefined) checkUrl(findings, joinPointer(base, "url"), url, "the runner", false);
  const query = str(body["query"]);
  if (query !== undefined) checkTemplates(findings, joinPointer(base, "query"), query);
}

function checkCmdProbe(findings: Findings, body: Obj, base: string): void {
  const pattern = str(body["stdout"]);
  if (pattern !== undefined) {
    try {
      new RegExp(pattern);
    } catch (e) {
      findings.add(
        "bad-regex",
        { value: pattern, reason: e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : String(e) },
        findings.locate(joinPointer(base, "stdout")),
        "JavaScript's syntax: e.g. ^accepting connections$ (quote it in YAML)",
      );
    }
  }
  const podName = str(body["pod"]);
  if (podName !== undefined) checkTemplates(findings, joinPointer(base, "pod"), podName);
  // a `{{ … }}` in argv that is not ours (a Go template for kubectl) is left as written
  arr(body["argv"]).forEach((a, i) => {
    if (typeof a === "string") checkTemplates(findings, joinPointer(base, "argv", String(i)), a, true);
  });
}
