// Probes: the chaos-tools pod they run in, and one probe run of any kind — ab and http by
// argv in that pod, cmd by argv in a pod of the scenario's, k8s through the API, prometheus
// over HTTP from the runner — once per target pod when the probe names its target, plus an
// aggregate. What the system does is measured, never an error; only a probe that cannot
// measure at all is (CouldNotRunError: exit 3 for a run once; a failed sample of a series).
import { CouldNotRunError, isChaosRunError } from "../errors.js";
import type { ProbeKind } from "../expect/metrics.js";
import { resolveRequest } from "../faults/requests.js";
import type { Reply, ResolveRequest } from "../faults/protocol.generated.js";
import type { Cluster, PodInfo } from "../kube/types.js";
import { parseJsonPath } from "../scenario/jsonpath.js";
import { defaultApiVersion, isClusterScoped } from "../scenario/kinds.js";
import { processRedactor, Redactor } from "../scenario/redact.js";
import { fillTemplate, templateSecrets, type Filled, type TemplateValues } from "../scenario/template.js";
import type { Probe } from "../scenario/types.js";
import { parseAb, type AbFailures } from "./ab.js";
import { measureCmd } from "./cmd.js";
import { dnsMetrics } from "./dns.js";
import { toolCommand, type ToolCommand } from "./command.js";
import { grpcCommand, grpcDetail, grpcMetrics, parseGrpcLoad } from "./grpc.js";
import type { HttpGet } from "./fetch.js";
import { httpDetail, httpMetrics, parseCurl } from "./http.js";
import { measureObjects } from "./k8s.js";
import { parsePrometheus, queryUrl } from "./prometheus.js";

export type Metrics = Readonly<Record<string, number | undefined>>;

/** What running a probe takes of its planned run (the plan's PlannedProbeRun carries it). */
export interface ProbeRunSpec {
  readonly probe: string;
  /** the probe as declared, normalised (what k8s, prometheus and cmd runs read) */
  readonly spec: Probe;
  /**
   * ab and http: the probe's argv in the tools pod, its URL still a template ({{ target.ip }} …),
   * last; cmd: the command run in its pod; k8s and prometheus: empty (no program runs)
   */
  readonly argv: readonly string[];
  /** true when the probe uses {{ target.* }}: the probe runs once per target pod */
  readonly perTargetPod: boolean;
}

export interface ProbeOutcome {
  readonly probe: string;
  readonly kind: ProbeKind;
  /** the target pod this run measured; undefined when the URL names no target */
  readonly pod: string | undefined;
  /** true for the aggregate of several per-pod runs */
  readonly aggregate: boolean;
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly metrics: Metrics;
  readonly failures: AbFailures | undefined;
  readonly keepAlive: boolean;
  /** ab stopped early (a socket timeout): every request was counted as failed */
  readonly stoppedEarly: string | undefined;
  /** when the run started (where a sample sits on a timeline) */
  readonly startedAt?: number | undefined;
  /** what was measured, in words, e.g. `Deployment default/web: .status.availableReplicas = 3` */
  readonly detail?: string | undefined;
  /** a sample of a continuous probe that could not measure: why (a run once throws instead) */
  readonly error?: string | undefined;
}

export interface ToolsPod {
  readonly namespace: string;
  readonly name: string;
  /** the container the probes exec in */
  readonly container: string;
  readonly image: string;
  /** made by this run (and deleted at its end) rather than found running */
  readonly created: boolean;
}

/** Metrics combined by taking the least (the others of their kind take the worst, the largest). */
const LEAST = new Set(["latency.min", "succeeded", "stdoutMatched"]);
const WORST = /^latency\.|^(exitCode|timedOut|duration)$/;

/**
 * Combines per-pod results: counts and throughput add up, the mean is weighted by completed
 * requests, min is the least and the other percentiles the worst (the largest) of the pods —
 * percentiles of different pods cannot be merged exactly, so the aggregate errs towards alarm.
 * A ratio is recomputed from its counts (errorRatio = errors / requests, or calls for grpc).
 */
export function aggregateMetrics(results: readonly Metrics[]): Metrics {
  const values = (k: string): number[] => results.map((r) => r[k]).filter((v): v is number => v !== undefined);
  const sum = (k: string): number | undefined => (values(k).length === 0 ? undefined : values(k).reduce((a, b) => a + b, 0));
  const keys = new Set(results.flatMap((r) => Object.keys(r)));
  const out: Record<string, number | undefined> = {};
  for (const k of keys) {
    const vs = values(k);
    if (vs.length === 0) out[k] = undefined;
    else if (k === "latency.mean") {
      // the runs' own counts of what their latency is of: ab's served requests, http's answers, grpc's calls ended OK
      const count = (r: Metrics): number =>
        r["completeRequests"] !== undefined
          ? (r["completeRequests"] ?? 0) - (r["failedRequests"] ?? 0)
          : (r["responses"] ?? r["status.OK"] ?? (r["queries"] ?? 0) - (r["timeouts"] ?? 0) - (r["unsent"] ?? 0));
      const weighted = results.filter((r) => r[k] !== undefined && count(r) > 0);
      const total = weighted.reduce((a, r) => a + count(r), 0);
      out[k] = total === 0 ? undefined : weighted.reduce((a, r) => a + (r[k] ?? 0) * count(r), 0) / total;
    } else if (k === "errorRatio") {
      // http's requests, dns's queries, grpc's calls
      const requests = sum("requests") ?? sum("queries") ?? sum("calls") ?? 0;
      out[k] = requests === 0 ? undefined : (sum("errors") ?? 0) / requests;
    } else if (LEAST.has(k)) out[k] = Math.min(...vs);
    else if (WORST.test(k)) out[k] = Math.max(...vs);
    else out[k] = sum(k);
  }
  return out;
}

export interface ProbeRunContext {
  readonly cluster: Cluster;
  /** this run's chaos-tools pod for the image (created on first use): ab and http run there */
  readonly tools: (image: string) => Promise<ToolsPod>;
  readonly targets: readonly PodInfo[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  /** ab's own bound is requests × -s; this bounds the exec as a whole */
  readonly timeoutMs: number;
  /** the target's namespace: where k8s and cmd probes look unless they name another */
  readonly namespace: string;
  /** HTTP from the runner (prometheus) */
  readonly httpGet: HttpGet;
  readonly now: () => number;
  /** the target pods' agents (dns probes ask them); undefined where the run has none */
  readonly agents?: PodAgentAsk | undefined;
}

/** What a dns probe asks of the engine: the run's id, and one request to a target pod's own agent. */
export interface PodAgentAsk {
  readonly runId: string;
  /** the reply, or why there is none (no agent in the pod, no answer, not this protocol) */
  ask(pod: PodInfo, request: ResolveRequest, o: { readonly signal: AbortSignal; readonly timeoutMs: number }): Promise<{ readonly reply: Reply } | { readonly problem: string }>;
}

interface Measured {
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly metrics: Metrics;
  readonly failures?: AbFailures | undefined;
  readonly stoppedEarly?: string | undefined;
  readonly detail?: string | undefined;
}

/** A template of the probe's filled in (what runs, what is shown), or why not (exit 3). */
function fill(run: ProbeRunSpec, what: string, template: string, values: TemplateValues, lenient = false): Filled {
  try {
    return fillTemplate(template, values, lenient);
  } catch (e) {
    throw new CouldNotRunError(`probe ${run.probe}: cannot fill in its ${what} ${template}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** ab, http or grpc: the tool's command in the tools pod, every template filled in. */
async function measureInTools(run: ProbeRunSpec, spec: Extract<Probe, { kind: "ab" | "http" | "grpc" }>, values: TemplateValues, ctx: ProbeRunContext): Promise<Measured> {
  let cmd: ToolCommand;
  try {
    const filler = (template: string) => fill(run, "template", template, values);
    cmd = spec.kind === "grpc" ? grpcCommand(spec, filler) : toolCommand(spec, filler);
  } catch (e) {
    if (e instanceof RangeError) throw new CouldNotRunError(`probe ${run.probe}: ${e.message}`);
    throw e;
  }
  const argv = cmd.shown;
  const tools = await ctx.tools(spec.tools.image);
  const r = await ctx.cluster.exec(tools.namespace, tools.name, tools.container, cmd.real, { signal: ctx.signal, timeoutMs: ctx.timeoutMs });
  if (r.canceled) throw ctx.signal.reason;
  const where = `pod ${tools.namespace}/${tools.name}`;
  if (r.exitCode === undefined && r.stdout === "") throw new CouldNotRunError(`probe ${run.probe} could not run in ${where}: ${r.error ?? "no exit status"}`);
  if (spec.kind === "ab") {
    const parsed = parseAb(r.stdout, r.stderr, r.exitCode, spec.ab.requests);
    if (!parsed.ok) throw new CouldNotRunError(`probe ${run.probe} could not run in ${where}: ${parsed.error}`, { hint: `the command was: ${argv.join(" ")}` });
    return { argv, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, metrics: parsed.metrics, failures: parsed.failures, stoppedEarly: parsed.stoppedEarly };
  }
  if (spec.kind === "grpc") {
    const health = spec.grpc.health !== undefined;
    const parsed = parseGrpcLoad(r.stdout, r.stderr, r.exitCode, spec.grpc.requests, health);
    if (!parsed.ok) throw new CouldNotRunError(`probe ${run.probe} could not run in ${where}: ${parsed.error}`, { hint: `the command was: ${argv.join(" ")}` });
    return { argv, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, metrics: grpcMetrics(parsed.calls, health), detail: grpcDetail(parsed, health) };
  }
  const parsed = parseCurl(r.stdout, r.stderr, r.exitCode);
  if (!parsed.ok) throw new CouldNotRunError(`probe ${run.probe} could not run in ${where}: ${parsed.error}`, { hint: `the command was: ${argv.join(" ")}` });
  return { argv, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, metrics: httpMetrics(parsed.requests, spec.http.expectStatus), detail: httpDetail(parsed.requests) };
}

async function measureK8s(run: ProbeRunSpec, spec: Extract<Probe, { kind: "k8s" }>, values: TemplateValues, ctx: ProbeRunContext): Promise<Measured> {
  const k = spec.k8s;
  const apiVersion = k.apiVersion ?? defaultApiVersion(k.kind) ?? "v1";
  const namespace = isClusterScoped(k.kind) ? undefined : (k.namespace ?? ctx.namespace);
  const filledName = k.name === undefined ? undefined : fill(run, "name", k.name, values);
  const name = filledName?.real;
  const selector =
    k.selector === undefined
      ? undefined
      : Object.entries(k.selector)
          .map(([a, b]) => `${a}=${b}`)
          .join(",");
  const field = k.field === undefined ? undefined : parseJsonPath(k.field);
  if (field !== undefined && !field.ok) throw new CouldNotRunError(`probe ${run.probe}: field ${k.field ?? ""} is not a JSONPath: ${field.error}`);
  let objects: unknown[];
  try {
    objects = await ctx.cluster.getObjects({ apiVersion, kind: k.kind, namespace, name, selector }, { signal: ctx.signal });
  } catch (e) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // (the adapter may be bundled with its own copy of the error classes: isChaosRunError, not instanceof)
    throw isChaosRunError(e)
      ? new CouldNotRunError(`probe ${run.probe}: ${e.message}`, { hint: e.hint })
      : new CouldNotRunError(`probe ${run.probe}: cannot read ${k.kind} objects: ${e instanceof Error ? e.message : String(e)}`);
  }
  const what = `${k.kind} ${namespace === undefined ? "" : `${namespace}/`}${filledName?.shown ?? `(${selector ?? ""})`}`;
  const m = measureObjects(objects, { what, field: field?.ok === true && k.field !== undefined ? { text: k.field, segments: field.segments } : undefined, condition: k.condition });
  return { argv: [], exitCode: undefined, stdout: "", stderr: "", metrics: m.metrics, detail: m.detail };
}

async function measurePrometheus(run: ProbeRunSpec, spec: Extract<Probe, { kind: "prometheus" }>, values: TemplateValues, ctx: ProbeRunContext): Promise<Measured> {
  const p = spec.prometheus;
  const base = fill(run, "url", p.url, values);
  const query = fill(run, "query", p.query, values);
  const url = queryUrl(base.real, query.real);
  let answer: Awaited<ReturnType<HttpGet>>;
  try {
    answer = await ctx.httpGet(url, { signal: ctx.signal, timeoutMs: p.timeoutMs });
  } catch (e) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new CouldNotRunError(`probe ${run.probe}: Prometheus at ${base.shown} did not answer: ${e instanceof Error ? e.message : String(e)}`, {
      hint: "is the url right, and does the runner reach it? (kubectl port-forward svc/prometheus 9090 makes an in-cluster one reachable)",
    });
  }
  const parsed = parsePrometheus(answer.status, answer.body, p.unit);
  if (!parsed.ok) throw new CouldNotRunError(`probe ${run.probe}: Prometheus at ${base.shown}: ${parsed.error}`, { hint: `the query was: ${query.shown}` });
  return { argv: [], exitCode: undefined, stdout: answer.body.length > 4096 ? `${answer.body.slice(0, 4096)}…` : answer.body, stderr: "", metrics: parsed.metrics, detail: parsed.detail };
}

async function measureCommand(run: ProbeRunSpec, spec: Extract<Probe, { kind: "cmd" }>, values: TemplateValues, ctx: ProbeRunContext): Promise<Measured> {
  const c = spec.cmd;
  const filledPod = fill(run, "pod", c.pod, values);
  const pod = filledPod.real;
  const shownPod = filledPod.shown;
  // argv is filled in too; a `{{ … }}` that is not ours (a Go template for kubectl) stays as written
  const args = c.argv.map((a) => fill(run, "argv", a, values, true));
  const argv = args.map((a) => a.real);
  const shown = args.map((a) => a.shown);
  const namespace = c.namespace ?? ctx.namespace;
  let container = c.container;
  if (container === undefined) {
    const info = await ctx.cluster.getPod(namespace, pod);
    if (info === undefined) throw new CouldNotRunError(`probe ${run.probe}: pod ${namespace}/${shownPod} not found`, { hint: `kubectl get pods -n ${namespace}` });
    container = info.containers[0]?.name ?? "";
  }
  const r = await ctx.cluster.exec(namespace, pod, container, argv, { signal: ctx.signal, timeoutMs: c.timeoutMs });
  if (r.canceled) throw ctx.signal.reason;
  const m = measureCmd(r, c.stdout === undefined ? undefined : new RegExp(c.stdout), c.timeoutMs);
  if (!m.ok)
    throw new CouldNotRunError(`probe ${run.probe}: cannot run ${shown.join(" ")} in pod ${namespace}/${shownPod} (container ${container}): ${m.error}`, {
      hint: `kubectl exec -n ${namespace} ${shownPod} -c ${container} -- ${shown.join(" ")}`,
    });
  return { argv: shown, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, metrics: m.metrics, detail: m.detail };
}

/** `containerd://abc…` → `abc…`, the id the agent finds a container's processes by. */
function bareId(id: string | undefined): string | undefined {
  const m = id === undefined ? null : /^[a-z0-9]+:\/\/([0-9a-f]{12,64})$/.exec(id);
  return m?.[1];
}

/** The agent's own bound on a resolve request (its 60 s), and a margin for the exec. */
const RESOLVE_BOUND_MS = 65_000;

/** dns: the target pod's agent resolves, with its default container's resolv.conf. */
async function measureDns(run: ProbeRunSpec, spec: Extract<Probe, { kind: "dns" }>, target: PodInfo | undefined, ctx: ProbeRunContext): Promise<Measured> {
  if (target === undefined) throw new TypeError("a dns probe runs once per target pod");
  const where = `pod ${target.namespace}/${target.name}`;
  if (ctx.agents === undefined) throw new CouldNotRunError(`probe ${run.probe}: ${where} has no chaos agent to resolve from (this run adds none)`);
  const d = spec.dns;
  const container = target.containers.find((c) => c.name === target.defaultContainer) ?? target.containers[0];
  const request = resolveRequest(ctx.agents.runId, { ...d, containerId: bareId(container?.containerId) });
  const answer = await ctx.agents.ask(target, request, { signal: ctx.signal, timeoutMs: Math.min(RESOLVE_BOUND_MS, Math.max(ctx.timeoutMs, d.names.length * d.count * d.timeoutMs + 5_000)) });
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const argv = ["chaos-agent", "request", `{"op":"resolve","names":${JSON.stringify(d.names)},"type":"${d.type}","count":${d.count}${d.tcp ? ',"tcp":true' : ""}}`];
  if ("problem" in answer) throw new CouldNotRunError(`probe ${run.probe}: the agent in ${where} could not resolve: ${answer.problem}`);
  const parsed = answer.reply.ok ? dnsMetrics(answer.reply.resolved, d) : { ok: false as const, error: answer.reply.error?.message ?? "the agent refused, without a reason" };
  if (!parsed.ok) throw new CouldNotRunError(`probe ${run.probe}: the agent in ${where} could not resolve: ${parsed.error}`);
  return { argv, exitCode: 0, stdout: "", stderr: "", metrics: parsed.metrics, detail: parsed.detail };
}

function measure(run: ProbeRunSpec, values: TemplateValues, ctx: ProbeRunContext, target: PodInfo | undefined): Promise<Measured> {
  const spec = run.spec;
  switch (spec.kind) {
    case "ab":
    case "http":
    case "grpc":
      return measureInTools(run, spec, values, ctx);
    case "k8s":
      return measureK8s(run, spec, values, ctx);
    case "prometheus":
      return measurePrometheus(run, spec, values, ctx);
    case "cmd":
      return measureCommand(run, spec, values, ctx);
    case "dns":
      return measureDns(run, spec, target, ctx);
  }
}

/**
 * Runs a planned probe: one outcome per target pod (if it names the target) plus an aggregate, or
 * one. The values its templates take from the environment are in nothing it returns or throws
 * (what its tool printed, an API's or exec's error): their templates are.
 */
export async function runProbe(run: ProbeRunSpec, ctx: ProbeRunContext): Promise<ProbeOutcome[]> {
  const secrets = templateSecrets(run.spec, ctx.env);
  // known to the process's edge before any value can reach an output (scenario/redact.ts)
  processRedactor().add(secrets);
  const redactor = new Redactor(secrets);
  try {
    return redactor.value(await measureRuns(run, ctx));
  } catch (e) {
    throw redactor.error(e);
  }
}

async function measureRuns(run: ProbeRunSpec, ctx: ProbeRunContext): Promise<ProbeOutcome[]> {
  const spec = run.spec;
  const keepAlive = spec.kind === "ab" ? spec.ab.keepAlive : true;
  const once = async (target: PodInfo | undefined): Promise<ProbeOutcome> => {
    if (target !== undefined && (target.ip === undefined || target.ip === "") && (spec.kind === "ab" || spec.kind === "http" || spec.kind === "grpc")) {
      throw new CouldNotRunError(`probe ${run.probe}: target pod ${target.name} has no IP`);
    }
    const values: TemplateValues = { ...(target === undefined ? {} : { target: { ip: target.ip ?? "", name: target.name } }), env: ctx.env };
    const startedAt = ctx.now();
    const started = performance.now();
    const m = await measure(run, values, ctx, target);
    return {
      probe: run.probe,
      kind: spec.kind,
      pod: target?.name,
      aggregate: false,
      argv: m.argv,
      exitCode: m.exitCode,
      stdout: m.stdout,
      stderr: m.stderr,
      durationMs: performance.now() - started,
      metrics: m.metrics,
      failures: m.failures,
      keepAlive,
      stoppedEarly: m.stoppedEarly,
      startedAt,
      detail: m.detail,
    };
  };
  if (!run.perTargetPod) return [await once(undefined)];
  const outcomes: ProbeOutcome[] = [];
  // one at a time: probes from one tools pod must not compete with each other for the network
  for (const t of ctx.targets) outcomes.push(await once(t));
  if (outcomes.length <= 1) return outcomes;
  const abFailures = outcomes.some((o) => o.failures !== undefined)
    ? outcomes.reduce<AbFailures>(
        (a, o) => ({
          connect: a.connect + (o.failures?.connect ?? 0),
          receive: a.receive + (o.failures?.receive ?? 0),
          length: a.length + (o.failures?.length ?? 0),
          exceptions: a.exceptions + (o.failures?.exceptions ?? 0),
          timeout: a.timeout + (o.failures?.timeout ?? 0),
        }),
        { connect: 0, receive: 0, length: 0, exceptions: 0, timeout: 0 },
      )
    : undefined;
  outcomes.push({
    probe: run.probe,
    kind: spec.kind,
    pod: undefined,
    aggregate: true,
    argv: run.argv,
    exitCode: undefined,
    stdout: "",
    stderr: "",
    durationMs: outcomes.reduce((a, o) => a + o.durationMs, 0),
    metrics: aggregateMetrics(outcomes.map((o) => o.metrics)),
    failures: abFailures,
    keepAlive,
    stoppedEarly: undefined,
    startedAt: outcomes[0]?.startedAt,
  });
  return outcomes;
}
