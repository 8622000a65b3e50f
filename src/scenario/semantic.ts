// Checks the schema cannot express, located by the same pointer → node function: references
// (probes, saved results, metrics), expressions and their units, templates, CIDRs, and a few
// cross-field rules. They read the data defensively, so they run (and report) even when the
// schema found problems elsewhere: every problem of a file at once.
import { readExpectation, operandsOf } from "../expect/expectation.js";
import type { Expectation, Operand } from "../expect/expectation.js";
import { typeCheck } from "../expect/expression.js";
import type { Expr } from "../expect/expression.js";
import { aggregateOf, faultMetricsOf, PROBE_KINDS, probeMetrics, prometheusDimension, resolveMetric } from "../expect/metrics.js";
import type { Dimension, MetricTable, ProbeKind } from "../expect/metrics.js";
import { parseJsonPath } from "./jsonpath.js";
import { defaultApiVersion, KNOWN_KINDS } from "./kinds.js";
import { parseCidr } from "./cidr.js";
import { diagnostic } from "./diagnostics.js";
import type { Diagnostic } from "./diagnostics.js";
import { joinPointer } from "./document.js";
import type { ParsedSource } from "./document.js";
import { closest } from "./suggest.js";
import { isOursMistyped, templateParts } from "./template.js";
import { SYSTEM_NAMESPACE_HINT, SYSTEM_NAMESPACES } from "./types.js";
import { formatDuration, parseDuration, parsePercent, parseSize } from "./units.js";

type Obj = Readonly<Record<string, unknown>>;

function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}
function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function int(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) ? v : undefined;
}

interface SavedAt {
  readonly stepIndex: number;
  readonly probe: string | undefined;
  readonly path: string;
  readonly label: string;
  /** saved from a continuous probe: its aggregates (NAME.METRIC.max) can be referred to */
  readonly series: boolean;
}

/** What validation needs to know of a declared probe. */
interface ProbeFacts {
  readonly kind: ProbeKind;
  readonly metrics: MetricTable;
}

/** The least interval of a continuous probe: each sample is an exec or an API call. */
export const MIN_EVERY_MS = 200;

/** A probe run somewhere in the scenario, in timeline order. */
interface RunSite {
  readonly path: string;
  readonly probe: unknown;
  readonly save: unknown;
  readonly expect: unknown;
  /** results saved by steps before this index are available; steadyState: -1 */
  readonly stepIndex: number;
  readonly label: string;
  /** `every:` as written */
  readonly every: unknown;
}

export function semanticDiagnostics(source: ParsedSource): Diagnostic[] {
  const file = source.file;
  const out: Diagnostic[] = [];
  const root = obj(source.data);
  if (root === undefined) return out;

  // ---- target
  const target = obj(root["target"]);
  if (target !== undefined) {
    const maxPods = int(target["maxPods"]);
    const mode = target["mode"];
    const count = int(obj(mode)?.["count"]);
    const pods = Array.isArray(target["pods"]) ? target["pods"].length : undefined;
    const modePath = "/target/mode";
    if (count !== undefined && maxPods !== undefined && count > maxPods) {
      out.push(
        diagnostic(
          file,
          "blast-radius",
          { detail: `mode asks for ${count} pods but maxPods is ${maxPods}` },
          source.locate(modePath),
          "lower the count or raise maxPods: the guard refuses, it never clamps",
        ),
      );
    }
    if (count !== undefined && pods !== undefined && count > pods) {
      out.push(diagnostic(file, "blast-radius", { detail: `mode asks for ${count} pods but only ${pods} are listed in \`pods\`` }, source.locate(modePath), "list more pods or lower the count"));
    }
    if (mode === "all" && pods !== undefined && maxPods !== undefined && pods > maxPods) {
      out.push(
        diagnostic(
          file,
          "blast-radius",
          { detail: `mode all hits the ${pods} listed pods but maxPods is ${maxPods}` },
          source.locate("/target/maxPods"),
          "list fewer pods, use another mode, or raise maxPods",
        ),
      );
    }
    const namespace = str(target["namespace"]);
    if (namespace !== undefined && SYSTEM_NAMESPACES.includes(namespace) && target["allowSystemNamespaces"] !== true) {
      out.push(diagnostic(file, "system-namespace", { namespace }, source.locate("/target/namespace"), SYSTEM_NAMESPACE_HINT));
    }
  }

  // ---- agent
  const agent = obj(root["agent"]);
  if (agent !== undefined) {
    const ttl = parseDuration(str(agent["ttl"]) ?? "10m");
    const lease = parseDuration(str(agent["lease"]) ?? "15s");
    if (ttl !== undefined && lease !== undefined && lease >= ttl) {
      out.push(
        diagnostic(
          file,
          "lease-above-ttl",
          { lease: formatDuration(lease), ttl: formatDuration(ttl) },
          source.locate(agent["lease"] !== undefined ? "/agent/lease" : "/agent/ttl"),
          "the lease is renewed while the runner lives; the ttl is the hard stop",
        ),
      );
    }
  }

  // ---- probes
  const probeKinds = new Map<string, ProbeFacts | undefined>();
  const probes = obj(root["probes"]);
  for (const [name, raw] of Object.entries(probes ?? {})) {
    const probe = obj(raw);
    const kind = PROBE_KINDS.find((k) => obj(probe?.[k]) !== undefined);
    const body = kind === undefined ? undefined : obj(probe?.[kind]);
    if (kind === undefined || body === undefined) {
      probeKinds.set(name, undefined);
      continue;
    }
    probeKinds.set(name, { kind, metrics: probeMetrics(kind, kind === "prometheus" ? prometheusDimension(str(body["unit"])) : undefined) });
    const base = joinPointer("/probes", name, kind);
    if (probe?.["tools"] !== undefined && kind !== "ab" && kind !== "http") {
      out.push(
        diagnostic(
          file,
          "conflicting-keys",
          { key: "tools", other: kind },
          source.locate(joinPointer("/probes", name, "tools"), "key"),
          `${kind} probes do not run in the chaos-tools pod: remove \`tools\``,
        ),
      );
    }
    switch (kind) {
      case "ab":
      case "http": {
        const url = str(body["url"]);
        if (url !== undefined) checkUrl(source, out, joinPointer(base, "url"), url, kind === "ab" ? "ab" : "curl", kind === "ab");
        for (const [header, value] of Object.entries(obj(body["headers"]) ?? {})) {
          if (typeof value === "string") checkTemplates(source, out, joinPointer(base, "headers", header), value);
        }
        const payload = str(body["body"]);
        if (payload !== undefined) checkTemplates(source, out, joinPointer(base, "body"), payload);
        const requests = int(body["requests"]) ?? (kind === "http" ? 10 : undefined);
        const concurrency = int(body["concurrency"]);
        if (requests !== undefined && concurrency !== undefined && concurrency > requests) {
          out.push(
            diagnostic(
              file,
              "concurrency-above-requests",
              { concurrency, requests },
              source.locate(joinPointer(base, "concurrency")),
              kind === "ab" ? "ab refuses a concurrency above the number of requests" : "lower concurrency to at most requests",
            ),
          );
        }
        break;
      }
      case "k8s": {
        const field = str(body["field"]);
        if (field !== undefined) {
          const r = parseJsonPath(field);
          if (!r.ok)
            out.push(
              diagnostic(
                file,
                "bad-jsonpath",
                { value: field, reason: r.error },
                source.locate(joinPointer(base, "field")),
                'e.g. .status.availableReplicas or .status.containerStatuses[?(@.name=="web")].restartCount',
              ),
            );
        }
        const objName = str(body["name"]);
        if (objName !== undefined) checkTemplates(source, out, joinPointer(base, "name"), objName);
        const objKind = str(body["kind"]);
        if (objKind !== undefined && body["apiVersion"] === undefined && defaultApiVersion(objKind) === undefined) {
          const s = closest(objKind, KNOWN_KINDS);
          out.push(
            diagnostic(
              file,
              "missing-key",
              { keys: ["apiVersion"], where: `a k8s probe of kind ${objKind}` },
              source.locate(joinPointer(base, "kind")),
              `${s !== undefined ? `did you mean \`${s}\`? ` : ""}chaos-run knows the apiVersion of ${KNOWN_KINDS.join(", ")}; for other kinds, give it (kubectl api-resources)`,
            ),
          );
        }
        break;
      }
      case "prometheus": {
        const url = str(body["url"]);
        if (url !== undefined) checkUrl(source, out, joinPointer(base, "url"), url, "the runner", false);
        const query = str(body["query"]);
        if (query !== undefined) checkTemplates(source, out, joinPointer(base, "query"), query);
        break;
      }
      case "cmd": {
        const pattern = str(body["stdout"]);
        if (pattern !== undefined) {
          try {
            new RegExp(pattern);
          } catch (e) {
            out.push(
              diagnostic(
                file,
                "bad-regex",
                { value: pattern, reason: e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : String(e) },
                source.locate(joinPointer(base, "stdout")),
                "JavaScript's syntax: e.g. ^accepting connections$ (quote it in YAML)",
              ),
            );
          }
        }
        const podName = str(body["pod"]);
        if (podName !== undefined) checkTemplates(source, out, joinPointer(base, "pod"), podName);
        // a `{{ … }}` in argv that is not ours (a Go template for kubectl) is left as written
        arr(body["argv"]).forEach((a, i) => {
          if (typeof a === "string") checkTemplates(source, out, joinPointer(base, "argv", String(i)), a, true);
        });
        break;
      }
    }
  }

  // ---- steps: names, faults; collect probe runs in timeline order
  const sites: RunSite[] = [];
  arr(root["steadyState"]).forEach((raw, i) => {
    const c = obj(raw);
    if (c !== undefined)
      sites.push({ path: joinPointer("/steadyState", i), probe: c["probe"], save: undefined, expect: c["expect"], stepIndex: -1, label: `steadyState entry ${i + 1}`, every: c["every"] });
  });
  const stepNames = new Map<string, number>();
  const faultExpects: { path: string; kind: string | undefined; expect: Obj; stepIndex: number; label: string }[] = [];
  let deletedAt: string | undefined;
  arr(root["steps"]).forEach((raw, i) => {
    const step = obj(raw);
    if (step === undefined) return;
    const path = joinPointer("/steps", i);
    const name = str(step["name"]);
    if (name !== undefined) {
      if (stepNames.has(name)) out.push(diagnostic(file, "duplicate-step", { name }, source.locate(joinPointer(path, "name")), `step ${(stepNames.get(name) ?? 0) + 1} has this name already`));
      else stepNames.set(name, i);
    }
    const label = `step ${i + 1}${name !== undefined ? ` (${name})` : ""}`;
    const fault = obj(step["fault"]);
    if (fault !== undefined) {
      const kind = ["netem", "partition", "http", "kill", "stress", "podDelete"].find((k) => fault[k] !== undefined);
      if (deletedAt !== undefined)
        out.push(
          diagnostic(
            file,
            "fault-after-pod-delete",
            { step: label, deleted: deletedAt },
            source.locate(joinPointer(path, "fault")),
            "end the scenario's faults with the podDelete step; probe and wait steps may follow it (their probes measure the replacements)",
          ),
        );
      if (kind === "podDelete") deletedAt = label;
      checkStress(source, out, obj(fault["stress"]), joinPointer(path, "fault", "stress"));
      const expect = obj(step["expect"]);
      if (expect !== undefined) faultExpects.push({ path, kind, expect, stepIndex: i, label });
      const cidr = str(obj(fault["to"])?.["cidr"]);
      if (cidr !== undefined) {
        const r = parseCidr(cidr);
        if (!r.ok) out.push(diagnostic(file, "bad-cidr", { value: cidr, reason: r.reason }, source.locate(joinPointer(path, "fault", "to", "cidr")), "e.g. 10.0.0.0/8, 10.1.2.3, fd00::/64"));
      }
      arr(step["during"]).forEach((d, j) => {
        const dp = obj(d);
        if (dp !== undefined) sites.push({ path: joinPointer(path, "during", j), probe: dp["probe"], save: dp["save"], expect: dp["expect"], stepIndex: i, label, every: dp["every"] });
      });
    } else if (step["probe"] !== undefined) {
      sites.push({ path, probe: step["probe"], save: step["save"], expect: step["expect"], stepIndex: i, label, every: undefined });
    }
  });

  // ---- probe references and saved results
  const saved = new Map<string, SavedAt>();
  for (const site of sites) {
    const save = str(site.save);
    if (save === undefined) continue;
    const prior = saved.get(save);
    if (prior !== undefined) {
      out.push(diagnostic(file, "duplicate-result", { name: save }, source.locate(joinPointer(site.path, "save")), `${prior.label} saves \`${save}\` already: pick another name`));
      continue;
    }
    saved.set(save, { stepIndex: site.stepIndex, probe: str(site.probe), path: joinPointer(site.path, "save"), label: site.label, series: site.every !== undefined });
  }
  for (const fe of faultExpects) {
    const metrics = fe.kind === undefined ? undefined : faultMetricsOf(fe.kind);
    for (const [metric, raw] of Object.entries(fe.expect)) {
      const path = joinPointer(fe.path, "expect", metric);
      let dim: Dimension | undefined;
      if (fe.kind !== undefined && metrics === undefined) {
        out.push(
          diagnostic(
            file,
            "fault-metric",
            { detail: `${fe.kind} faults measure nothing themselves` },
            source.locate(path, "key"),
            "measure their effect with a probe under `during:` (or in a probe step after them)",
          ),
        );
      } else if (metrics !== undefined) {
        const info = metrics[metric];
        if (info === undefined) {
          const names = Object.keys(metrics);
          const s = closest(metric, names);
          out.push(
            diagnostic(
              file,
              "fault-metric",
              { detail: `${fe.kind ?? "this"} faults measure no ${metric}` },
              source.locate(path, "key"),
              `${s !== undefined ? `did you mean \`${s}\`? ` : ""}${fe.kind ?? ""} metrics: ${names.join(", ")}`,
            ),
          );
        } else dim = info.dimension;
      }
      const read = readExpectation(metric, raw, path);
      if (!read.ok) {
        for (const p of read.problems) {
          if (p.path === path && p.error.start === 0 && p.error.end === 0)
            out.push(diagnostic(file, "bad-comparison", { detail: p.error.message }, source.locate(path), "e.g. recovery.time: { below: 30s }"));
          else out.push(diagnostic(file, "bad-expression", { detail: p.error.message }, exprSpan(source, p.path, p.error.start, p.error.end), EXPRESSION_HINT));
        }
        continue;
      }
      checkExpectation(
        source,
        out,
        read.expectation,
        dim,
        { path: fe.path, probe: undefined, save: undefined, expect: fe.expect, stepIndex: fe.stepIndex, label: fe.label, every: undefined },
        saved,
        probeKinds,
      );
    }
  }

  const probeNames = [...probeKinds.keys()];
  for (const site of sites) {
    const every = str(site.every);
    const series = site.every !== undefined;
    if (every !== undefined) {
      const ms = parseDuration(every);
      if (ms !== undefined && ms < MIN_EVERY_MS) {
        out.push(
          diagnostic(
            file,
            "out-of-range",
            { value: every, bound: `at least ${formatDuration(MIN_EVERY_MS)}` },
            source.locate(joinPointer(site.path, "every")),
            "each sample is an exec or an API call: sample less often",
          ),
        );
      }
    }
    const probe = str(site.probe);
    let facts: ProbeFacts | undefined;
    if (probe !== undefined) {
      if (!probeKinds.has(probe)) {
        const s = closest(probe, probeNames);
        const hint = probeNames.length === 0 ? "declare it under `probes:`" : `${s !== undefined ? `did you mean \`${s}\`? ` : ""}declared probes: ${probeNames.join(", ")}`;
        out.push(diagnostic(file, "unknown-probe", { name: probe }, source.locate(joinPointer(site.path, "probe")), hint));
      } else facts = probeKinds.get(probe);
    }
    const expect = obj(site.expect);
    if (expect === undefined) continue;
    for (const [metric, raw] of Object.entries(expect)) {
      const path = joinPointer(site.path, "expect", metric);
      let dim: Dimension | undefined;
      if (facts !== undefined) {
        const resolved = resolveMetric(facts.kind, facts.metrics, metric, series);
        if (resolved !== undefined) dim = resolved.info.dimension;
        else if (aggregateOf(facts.kind, facts.metrics, metric) !== undefined) {
          out.push(
            diagnostic(
              file,
              "needs-every",
              { what: `the aggregate \`${metric}\`` },
              source.locate(path, "key"),
              "sample the probe continuously with `every: 2s` on this entry (during a fault, or in steadyState)",
            ),
          );
        } else {
          const names = Object.keys(facts.metrics);
          const s = closest(metric, names);
          const extra = facts.kind === "http" ? ", status.NNN" : "";
          const aggregates = series ? "; on a series also METRIC.min, .max, .mean, .median, .last" : "";
          out.push(
            diagnostic(
              file,
              "unknown-metric",
              { metric, kind: facts.kind },
              source.locate(path, "key"),
              `${s !== undefined ? `did you mean \`${s}\`? ` : ""}${facts.kind} metrics: ${names.join(", ")}${extra}${aggregates}`,
            ),
          );
        }
      }
      const samples = obj(raw)?.["samples"];
      if (samples !== undefined && !series) {
        out.push(diagnostic(file, "needs-every", { what: "`samples`" }, source.locate(joinPointer(path, "samples"), "key"), "a share of samples is about a series: sample the probe with `every: 2s`"));
      } else if (samples !== undefined && facts !== undefined && resolveMetric(facts.kind, facts.metrics, metric, series)?.aggregate !== undefined) {
        out.push(
          diagnostic(
            file,
            "conflicting-keys",
            { key: "samples", other: metric },
            source.locate(joinPointer(path, "samples"), "key"),
            "an aggregate is one value: judge the samples one by one (no suffix) or the aggregate (no samples)",
          ),
        );
      }
      const read = readExpectation(metric, raw, path);
      if (!read.ok) {
        for (const p of read.problems) {
          if (p.path === path && p.error.start === 0 && p.error.end === 0)
            out.push(diagnostic(file, "bad-comparison", { detail: p.error.message }, source.locate(path), "e.g. latency.p95: { below: 50ms }"));
          else if (p.path.endsWith("/samples")) out.push(diagnostic(file, "bad-percent", { value: String(obj(raw)?.["samples"]) }, source.locate(p.path), p.error.message));
          else out.push(diagnostic(file, "bad-expression", { detail: p.error.message }, exprSpan(source, p.path, p.error.start, p.error.end), EXPRESSION_HINT));
        }
        continue;
      }
      checkExpectation(source, out, read.expectation, dim, site, saved, probeKinds);
    }
  }
  return out;
}

/** What the schema cannot say about a stress fault: a load above nothing, a size the agent takes. */
function checkStress(source: ParsedSource, out: Diagnostic[], stress: Obj | undefined, path: string): void {
  if (stress === undefined) return;
  const load = str(obj(stress["cpu"])?.["load"]);
  if (load !== undefined && parsePercent(load) === 0) {
    out.push(diagnostic(source.file, "out-of-range", { value: load, bound: "above 0%" }, source.locate(joinPointer(path, "cpu", "load")), "a worker at 0% does nothing: e.g. 50%"));
  }
  const size = str(obj(stress["memory"])?.["size"]);
  const bytes = size === undefined ? undefined : parseSize(size);
  if (size !== undefined && bytes !== undefined && (bytes < 4096 || bytes > 1024 ** 4)) {
    out.push(diagnostic(source.file, "out-of-range", { value: size, bound: "from 4Ki to 1Ti" }, source.locate(joinPointer(path, "memory", "size")), "e.g. 64Mi"));
  }
}

const EXPRESSION_HINT = "an expression uses numbers, durations (90ms), percentages (5%), saved results (baseline.latency.p95), + - * / and parentheses";

/** The span of part of an operand's text, when the YAML source holds the text verbatim. */
function exprSpan(source: ParsedSource, path: string, start: number, end: number): { path: string; start: number; end: number } {
  const at = source.locate(path, "value");
  const raw = valueAtPointer(source, path);
  if (typeof raw !== "string") return at;
  const index = source.text.slice(at.start, at.end).indexOf(raw);
  if (index < 0) return at;
  const s = at.start + index + start;
  return { path, start: s, end: Math.max(s + 1, at.start + index + end) };
}

function valueAtPointer(source: ParsedSource, pointer: string): unknown {
  let cur: unknown = source.data;
  for (const seg of pointer.split("/").slice(1)) {
    const key = seg.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (typeof cur === "object" && cur !== null) cur = (cur as Obj)[key];
    else return undefined;
  }
  return cur;
}

function checkExpectation(
  source: ParsedSource,
  out: Diagnostic[],
  exp: Expectation,
  metricDim: Dimension | undefined,
  site: RunSite,
  saved: ReadonlyMap<string, SavedAt>,
  probeKinds: ReadonlyMap<string, ProbeFacts | undefined>,
): void {
  const file = source.file;
  for (const operand of operandsOf(exp.comparison)) {
    const refType = (ref: Extract<Expr, { kind: "ref" }>): Dimension | undefined => {
      const at = saved.get(ref.result);
      const span = (): ReturnType<typeof exprSpan> => exprSpan(source, operand.path, ref.start, ref.end);
      if (at === undefined) {
        const s = closest(ref.result, saved.keys());
        const names = [...saved.keys()];
        out.push(
          diagnostic(
            file,
            "unknown-result",
            { name: ref.result },
            span(),
            `${s !== undefined ? `did you mean \`${s}\`? ` : ""}${names.length > 0 ? `saved results: ${names.join(", ")}` : "save one with `save: NAME` on a probe step"}`,
          ),
        );
        return undefined;
      }
      if (at.stepIndex >= site.stepIndex) {
        const when =
          site.stepIndex < 0
            ? "steadyState runs before every step"
            : at.stepIndex === site.stepIndex
              ? "a step's results are available from the next step on"
              : "results are available from the step after the one that saves them";
        out.push(diagnostic(file, "result-used-before-saved", { name: ref.result, savedAt: at.label }, span(), when));
        return undefined;
      }
      const facts = at.probe === undefined ? undefined : probeKinds.get(at.probe);
      if (facts === undefined) return undefined;
      const resolved = resolveMetric(facts.kind, facts.metrics, ref.metric, at.series);
      if (resolved === undefined) {
        const names = Object.keys(facts.metrics);
        const s = closest(ref.metric, names);
        out.push(
          diagnostic(
            file,
            "unknown-metric",
            { metric: ref.metric, kind: facts.kind },
            span(),
            `${s !== undefined ? `did you mean \`${ref.result}.${s}\`? ` : ""}${facts.kind} metrics: ${names.join(", ")}${at.series ? "; of a series also METRIC.min, .max, .mean, .median, .last" : ""}`,
          ),
        );
        return undefined;
      }
      return resolved.info.dimension;
    };
    const typed = typeCheck(operand.expr, refType);
    for (const err of typed.errors) {
      out.push(diagnostic(file, "unit-mismatch", { detail: err.message }, exprSpan(source, operand.path, err.start, err.end), "durations carry units (90ms); scale them with plain numbers (* 1.5)"));
    }
    // a ratio compared with a plain number from 0 to 1 (errorRatio: 0, below: 0.05) is what it says
    const plainShare = metricDim === "ratio" && typed.dimension === "number" && isShareLiteral(operand.expr);
    if (metricDim !== undefined && typed.dimension !== undefined && typed.dimension !== metricDim && !plainShare) {
      out.push(diagnostic(file, "unit-mismatch", { detail: mismatchText(exp.metric, metricDim, operand, typed.dimension) }, source.locate(operand.path), mismatchHint(metricDim, operand)));
    }
  }
}

function isShareLiteral(e: Expr): boolean {
  return e.kind === "number" && e.value >= 0 && e.value <= 1;
}

const DIM_TEXT: Readonly<Record<Dimension, string>> = { duration: "a duration", number: "a plain number", ratio: "a percentage" };

function mismatchText(metric: string, dim: Dimension, operand: Operand, operandDim: Dimension): string {
  return `${metric} is ${DIM_TEXT[dim]} but \`${operand.text}\` is ${DIM_TEXT[operandDim]}`;
}

function mismatchHint(dim: Dimension, operand: Operand): string {
  if (dim === "duration" && operand.expr.kind === "number") return `give it a unit: ${operand.text}ms`;
  if (dim === "duration") return "give the constants in it a unit (90ms)";
  if (dim === "ratio" && operand.expr.kind === "number") return `write it as a percentage: ${operand.text}%`;
  if (dim === "ratio") return "compare a ratio with a percentage (5%) or a plain number from 0 to 1";
  return "compare counts and rates with plain numbers";
}

function checkTemplates(source: ParsedSource, out: Diagnostic[], path: string, text: string, lenient = false): boolean {
  const problems = templateParts(text).problems.filter((p) => !lenient || isOursMistyped(p.text));
  for (const p of problems) {
    out.push(diagnostic(source.file, "unknown-template", { text: p.text }, source.locateInScalar(path, p.text), p.reason));
  }
  return problems.length === 0;
}

/** `tool` speaks http(s) and is named in the reason; `needsPath`: ab wants a path after the host. */
function checkUrl(source: ParsedSource, out: Diagnostic[], path: string, url: string, tool: string, needsPath: boolean): void {
  const file = source.file;
  const { parts } = templateParts(url);
  if (!checkTemplates(source, out, path, url)) return;
  if (url.startsWith("{{")) return; // the whole URL comes from a template: nothing to check now
  let concrete = url;
  for (const part of [...parts].reverse()) {
    const sample = part.name === "target.ip" ? "192.0.2.1" : part.name === "target.name" ? "pod" : "1";
    concrete = concrete.slice(0, part.start) + sample + concrete.slice(part.start + part.text.length);
  }
  let parsed: URL;
  try {
    parsed = new URL(concrete);
  } catch {
    out.push(diagnostic(file, "bad-url", { value: url, reason: "it does not parse" }, source.locate(path), "e.g. http://{{ target.ip }}:8080/health"));
    return;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    out.push(diagnostic(file, "bad-url", { value: url, reason: `${tool} speaks http and https here, not ${parsed.protocol.slice(0, -1)}` }, source.locate(path), "e.g. http://{{ target.ip }}/"));
  } else if (needsPath && /^https?:\/\/[^/]+$/i.test(url)) {
    out.push(diagnostic(file, "bad-url", { value: url, reason: "ab needs a path" }, source.locate(path), `add a slash: ${url}/`));
  } else if (url.includes("#")) {
    out.push(diagnostic(file, "bad-url", { value: url, reason: "a fragment (#…) is never sent to the server" }, source.locate(path), "remove the #… part"));
  }
}
