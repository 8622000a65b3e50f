// Raw (schema-valid, semantically checked) scenario → the normalised Scenario: defaults filled
// in, durations in ms, percents as numbers, rates in bits/s, CIDRs parsed, expressions parsed.
// Runs only on a file without errors; a failure here is a bug (it throws).
import { readExpectation } from "../expect/expectation.js";
import type { Expectation } from "../expect/expectation.js";
import { DEFAULT_GRPC_STATUS, DEFAULT_HTTP_ERROR_CODE, dnsAnswerOf, dnsNameOf, grpcStatusOf } from "../faults/types.js";
import type { DnsFault, Fault, GrpcFault, NetemParams, Scope } from "../faults/types.js";
import { parseCidr } from "./cidr.js";
import { joinPointer } from "./document.js";
import {
  DEFAULT_AGENT_IMAGE,
  DEFAULT_AGENT_LEASE_MS,
  DEFAULT_AGENT_TTL_MS,
  DEFAULT_CMD_TIMEOUT_MS,
  DEFAULT_DNS_COUNT,
  DEFAULT_DNS_TIMEOUT_MS,
  DEFAULT_GRPC_REQUESTS,
  DEFAULT_GRPC_TIMEOUT_MS,
  DEFAULT_HTTP_REQUESTS,
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_PROMETHEUS_TIMEOUT_MS,
  DEFAULT_PULL_POLICY,
  DEFAULT_TOOLS_IMAGE,
  WORKLOAD_KINDS,
} from "./types.js";
import type { Probe, ProbeRun, RawDuringProbe, RawExpect, RawFault, RawMode, RawProbe, RawScenario, RawStep, RawTarget, Scenario, Step, Target, TargetMode, TargetSelection } from "./types.js";
import { parseDuration, parsePercent, parseRate, parseSize } from "./units.js";

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new TypeError(`not a duration: ${text}`);
  return ms;
}

function optDuration(text: string | undefined): number | undefined {
  return text === undefined ? undefined : duration(text);
}

function optPercent(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const p = parsePercent(text);
  if (p === undefined) throw new TypeError(`not a percentage: ${text}`);
  return p;
}

function mode(raw: RawMode): TargetMode {
  if (raw === "all") return { kind: "all" };
  if (raw === "one") return { kind: "one" };
  if ("count" in raw) return { kind: "count", count: raw.count };
  return { kind: "percent", percent: raw.percent };
}

function selection(raw: RawTarget): TargetSelection {
  if (raw.service !== undefined) return { kind: "service", name: raw.service };
  if (raw.workload !== undefined) {
    const [kind = "", name = ""] = raw.workload.split("/");
    const workload = WORKLOAD_KINDS.find((k) => k === kind.toLowerCase());
    if (workload === undefined) throw new TypeError(`not a workload: ${raw.workload}`);
    return { kind: "workload", workload, name };
  }
  if (raw.selector !== undefined || raw.matchExpressions !== undefined) {
    const matchExpressions = raw.matchExpressions?.map((e) => ({ key: e.key, operator: e.operator, values: [...(e.values ?? [])] }));
    return { kind: "selector", matchLabels: { ...raw.selector }, ...(matchExpressions === undefined ? {} : { matchExpressions }) };
  }
  return { kind: "pods", names: [...(raw.pods ?? [])] };
}

function target(raw: RawTarget): Target {
  return {
    namespace: raw.namespace,
    selection: selection(raw),
    mode: mode(raw.mode),
    seed: raw.seed,
    maxPods: raw.maxPods,
    allowSystemNamespaces: raw.allowSystemNamespaces ?? false,
  };
}

function probe(name: string, raw: RawProbe): Probe {
  const tools = { image: raw.tools?.image ?? DEFAULT_TOOLS_IMAGE };
  if (raw.http !== undefined) {
    const h = raw.http;
    return {
      kind: "http",
      name,
      http: {
        url: h.url,
        method: h.method ?? "GET",
        headers: { ...(h.headers ?? {}) },
        body: h.body,
        requests: h.requests ?? DEFAULT_HTTP_REQUESTS,
        concurrency: h.concurrency ?? 1,
        timeoutMs: optDuration(h.timeout) ?? DEFAULT_HTTP_TIMEOUT_MS,
        expectStatus: h.expectStatus === undefined ? undefined : [...h.expectStatus],
      },
      tools,
    };
  }
  if (raw.grpc !== undefined) return grpcProbe(name, raw.grpc, tools);
  if (raw.dns !== undefined) {
    const d = raw.dns;
    return {
      kind: "dns",
      name,
      dns: { names: [...d.names], count: d.count ?? DEFAULT_DNS_COUNT, type: d.type ?? "A", tcp: d.tcp ?? false, timeoutMs: optDuration(d.timeout) ?? DEFAULT_DNS_TIMEOUT_MS },
    };
  }
  if (raw.k8s !== undefined) {
    const k = raw.k8s;
    return {
      kind: "k8s",
      name,
      k8s: { kind: k.kind, apiVersion: k.apiVersion, namespace: k.namespace, name: k.name, selector: k.selector === undefined ? undefined : { ...k.selector }, field: k.field, condition: k.condition },
    };
  }
  if (raw.prometheus !== undefined) {
    const p = raw.prometheus;
    return { kind: "prometheus", name, prometheus: { url: p.url, query: p.query, unit: p.unit ?? "number", timeoutMs: optDuration(p.timeout) ?? DEFAULT_PROMETHEUS_TIMEOUT_MS } };
  }
  if (raw.cmd !== undefined) {
    const c = raw.cmd;
    return { kind: "cmd", name, cmd: { pod: c.pod, container: c.container, namespace: c.namespace, argv: [...c.argv], stdout: c.stdout, timeoutMs: optDuration(c.timeout) ?? DEFAULT_CMD_TIMEOUT_MS } };
  }
  const ab = raw.ab;
  if (ab === undefined) throw new TypeError(`probe ${name} has no kind`);
  return {
    kind: "ab",
    name,
    ab: {
      url: ab.url,
      requests: ab.requests,
      concurrency: ab.concurrency,
      keepAlive: ab.keepAlive ?? true,
      timeoutMs: optDuration(ab.timeout),
    },
    tools,
  };
}

function grpcProbe(name: string, g: NonNullable<RawProbe["grpc"]>, tools: { image: string }): Probe {
  const health = g.health === undefined || g.health === false ? undefined : g.health === true ? "" : g.health;
  return {
    kind: "grpc",
    name,
    grpc: {
      address: g.address,
      method: health === undefined ? g.method : undefined,
      body: JSON.stringify(g.body ?? {}),
      health,
      requests: g.requests ?? DEFAULT_GRPC_REQUESTS,
      concurrency: g.concurrency ?? 1,
      timeoutMs: optDuration(g.timeout) ?? DEFAULT_GRPC_TIMEOUT_MS,
    },
    tools,
  };
}

function expectations(raw: RawExpect | undefined, path: string): Expectation[] {
  const out: Expectation[] = [];
  for (const [metric, value] of Object.entries(raw ?? {})) {
    const r = readExpectation(metric, value, joinPointer(path, metric));
    if (!r.ok) throw new TypeError(`expectation ${metric} does not parse`);
    out.push(r.expectation);
  }
  return out;
}

function run(raw: { probe: string; save?: string; expect?: RawExpect; every?: string }, path: string): ProbeRun {
  const base = { probe: raw.probe, save: raw.save, expect: expectations(raw.expect, joinPointer(path, "expect")) };
  return raw.every === undefined ? base : { ...base, everyMs: duration(raw.every) };
}

function scope(raw: RawFault["to"]): Scope | undefined {
  if (raw === undefined) return undefined;
  let cidr: Scope["cidr"];
  if (raw.cidr !== undefined) {
    const r = parseCidr(raw.cidr);
    if (!r.ok) throw new TypeError(`not a CIDR: ${raw.cidr}`);
    cidr = { family: r.cidr.family, text: r.cidr.text };
  }
  // a port by name is the Service's: 0 until the target is resolved (FaultStep.servicePort)
  return { cidr, port: typeof raw.port === "string" ? 0 : raw.port, protocol: raw.protocol };
}

function fault(raw: RawFault): Fault {
  const netem = raw.netem;
  if (netem !== undefined) {
    let rate: NetemParams["rate"];
    if (netem.rate !== undefined) {
      const r = parseRate(netem.rate);
      if (r === undefined) throw new TypeError(`not a rate: ${netem.rate}`);
      rate = r;
    }
    const params: NetemParams = {
      delayMs: optDuration(netem.delay),
      jitterMs: optDuration(netem.jitter),
      correlation: optPercent(netem.correlation),
      distribution: netem.distribution,
      loss: optPercent(netem.loss),
      duplicate: optPercent(netem.duplicate),
      corrupt: optPercent(netem.corrupt),
      reorder: optPercent(netem.reorder),
      rate,
    };
    return { kind: "netem", netem: params, scope: scope(raw.to), interface: raw.interface };
  }
  if (raw.partition !== undefined) return { kind: "partition", scope: scope(raw.to), interface: raw.interface };
  const http = raw.http;
  if (http !== undefined) {
    const errorRate = optPercent(http.errorRate);
    return {
      kind: "http",
      http: {
        port: typeof http.port === "string" ? 0 : http.port,
        delayMs: optDuration(http.delay),
        jitterMs: optDuration(http.jitter),
        errorRate,
        errorCode: errorRate === undefined ? undefined : (http.errorCode ?? DEFAULT_HTTP_ERROR_CODE),
        errorBody: http.errorBody,
        exclude: [...(http.exclude ?? [])],
        methods: [...(http.methods ?? [])],
      },
      interface: raw.interface,
    };
  }
  if (raw.dns !== undefined) return dnsFault(raw.dns);
  if (raw.grpc !== undefined) return grpcFault(raw.grpc, raw.interface);
  if (raw.kill !== undefined) return { kind: "kill", container: raw.kill.container, signal: raw.kill.signal ?? "SIGKILL" };
  if (raw.stress !== undefined) {
    const cpu = raw.stress.cpu;
    const memory = raw.stress.memory;
    let bytes: number | undefined;
    if (memory !== undefined) {
      bytes = parseSize(memory.size);
      if (bytes === undefined) throw new TypeError(`not a size: ${memory.size}`);
    }
    return {
      kind: "stress",
      cpu: cpu === undefined ? undefined : { workers: cpu.workers, load: optPercent(cpu.load) ?? 100, ...(cpu.allowBeyondLimit === true ? { allowBeyondLimit: true } : {}) },
      memory: memory === undefined || bytes === undefined ? undefined : { bytes, text: memory.size, ...(memory.allowBeyondLimit === true ? { allowBeyondLimit: true } : {}) },
    };
  }
  if (raw.podDelete !== undefined) return { kind: "podDelete", gracePeriodMs: optDuration(raw.podDelete.gracePeriod) };
  throw new TypeError("a fault needs netem, partition, http, kill, stress or podDelete");
}

function dnsFault(raw: NonNullable<RawFault["dns"]>): DnsFault {
  const answer = raw.answer === undefined ? undefined : dnsAnswerOf(raw.answer);
  if (answer === null) throw new TypeError(`not a DNS answer: ${JSON.stringify(raw.answer)}`);
  return {
    kind: "dns",
    dns: { names: raw.names.map(dnsNameOf), answer, delayMs: optDuration(raw.delay), jitterMs: optDuration(raw.jitter), rate: optPercent(raw.rate) ?? 100 },
  };
}

function grpcFault(raw: NonNullable<RawFault["grpc"]>, iface: string | undefined): GrpcFault {
  const errorRate = optPercent(raw.errorRate);
  const status = raw.status === undefined ? DEFAULT_GRPC_STATUS : grpcStatusOf(raw.status);
  if (status === undefined) throw new TypeError(`not a gRPC status: ${raw.status}`);
  return {
    kind: "grpc",
    grpc: {
      // a port by name is the Service's: 0 until the target is resolved (FaultStep.servicePort)
      port: typeof raw.port === "string" ? 0 : raw.port,
      delayMs: optDuration(raw.delay),
      jitterMs: optDuration(raw.jitter),
      errorRate,
      status: errorRate === undefined ? undefined : status,
      message: raw.message,
      exclude: [...(raw.exclude ?? [])],
      faultHealth: raw.faultHealth ?? false,
    },
    interface: iface,
  };
}

/** A fault's port given by name: the target Service's port of that name, mapped when the target is resolved. */
function servicePort(raw: RawFault): { servicePort?: string } {
  const port = raw.http?.port ?? raw.grpc?.port ?? raw.to?.port;
  return typeof port === "string" ? { servicePort: port } : {};
}

function step(raw: RawStep, index: number): Step {
  const path = joinPointer("/steps", index);
  const base = { index, name: raw.name, path };
  if (raw.fault !== undefined) {
    const during: RawDuringProbe[] = raw.during ?? [];
    return {
      ...base,
      kind: "fault",
      fault: fault(raw.fault),
      ...servicePort(raw.fault),
      durationMs: duration(raw.duration ?? ""),
      during: during.map((d, j) => run(d, joinPointer(path, "during", j))),
      expect: expectations(raw.expect, joinPointer(path, "expect")),
    };
  }
  if (raw.probe !== undefined) {
    const r: { probe: string; save?: string; expect?: RawExpect } = { probe: raw.probe };
    if (raw.save !== undefined) r.save = raw.save;
    if (raw.expect !== undefined) r.expect = raw.expect;
    return { ...base, kind: "probe", run: run(r, path) };
  }
  if (raw.wait !== undefined) return { ...base, kind: "wait", durationMs: duration(raw.wait) };
  throw new TypeError(`step ${index + 1} has no fault, probe or wait`);
}

export function normalise(raw: RawScenario): Scenario {
  const probes: Record<string, Probe> = {};
  for (const [name, p] of Object.entries(raw.probes ?? {})) probes[name] = probe(name, p);
  return {
    apiVersion: raw.apiVersion,
    kind: raw.kind,
    metadata: { name: raw.metadata.name, description: raw.metadata.description },
    target: target(raw.target),
    agent: {
      image: raw.agent?.image ?? DEFAULT_AGENT_IMAGE,
      ttlMs: optDuration(raw.agent?.ttl) ?? DEFAULT_AGENT_TTL_MS,
      leaseMs: optDuration(raw.agent?.lease) ?? DEFAULT_AGENT_LEASE_MS,
      pullPolicy: raw.agent?.pullPolicy ?? DEFAULT_PULL_POLICY,
    },
    probes,
    steadyState: (raw.steadyState ?? []).map((c, i) => run({ probe: c.probe, expect: c.expect, ...(c.every === undefined ? {} : { every: c.every }) }, joinPointer("/steadyState", i))),
    steps: raw.steps.map(step),
  };
}
