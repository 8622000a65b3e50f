// The grpc probe: its grpc-load command in the chaos-tools pod, and grpc-load's output → metrics
// (src/expect/metrics.ts, PROBE_METRICS.grpc). Pure.
//
// grpc-load (tools/grpc-load) makes `-n` unary calls, `-c` at once on one h2c connection, each
// bounded by `-timeout`, and prints ONE JSON object: every call as [code, ms] (a health check as
// [code, ms, servingStatus]) and the first message of each status by its code's number; or
// {"error": …} and exit 2 when the calls could not be made at all (a body that is not the
// method's input, a body for a method the server's reflection does not describe). What the
// server does — refused, slow, UNIMPLEMENTED — is measured, never an error.
//
// That output comes from a pod: it is read as hostile. Its size is bounded before it is parsed,
// every field is checked for its type and range, the call count must be the one asked for,
// messages are cut short and stripped of control characters. Anything else is "not what
// grpc-load writes", an error of the probe, never a metric.
import { GRPC_STATUS_NAMES } from "../expect/metrics.js";
import { unfilledTemplate, type Filled, type Secret } from "../scenario/template.js";
import type { Probe } from "../scenario/types.js";
import type { Fill, ToolCommand } from "./command.js";
import { latencyMetrics } from "./stats.js";

export type GrpcProbeSpec = Extract<Probe, { kind: "grpc" }>;

/** One call as grpc-load reported it. */
export interface GrpcCall {
  /** the status code's number, 0 (OK) to 16 */
  readonly code: number;
  readonly ms: number;
  /** a health check's answer (grpc.health.v1: 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN); undefined when none came or for a method's call */
  readonly serving: number | undefined;
}

export type GrpcParse =
  | { readonly ok: true; readonly calls: readonly GrpcCall[]; readonly messages: ReadonlyMap<number, string>; readonly types: string }
  | { readonly ok: false; readonly error: string };

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
const SERVING_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;
const SERVING = 1;
/** what grpc-load says of how it found the request's type */
const TYPES = new Set(["reflection", "none", "unreachable", "health"]);
/** a message kept of a status: its first characters */
const MAX_MESSAGE = 200;
/** the longest a call can honestly take: the 60 s deadline's ceiling, with room */
const MAX_CALL_MS = 3_600_000;

/** The grpc-load command of a probe: what runs (every template filled in) and what is shown. */
export function grpcCommand(probe: GrpcProbeSpec, fill: Fill = unfilledTemplate): ToolCommand {
  const g = probe.grpc;
  const argv = ["grpc-load", "-n", String(g.requests), "-c", String(g.concurrency), "-timeout", `${g.timeoutMs}ms`];
  if (g.health !== undefined) argv.push("-health", ...(g.health === "" ? [] : ["-service", g.health]));
  else argv.push("-method", g.method ?? "", "-data", g.body);
  const address: Filled = fill(g.address);
  const secrets: Secret[] = [...address.secrets];
  return { real: [...argv, "-addr", address.real], shown: [...argv, "-addr", address.shown], secrets };
}

/** What no message from the pod keeps: C0 and C1 controls, DEL, line separators, bidi overrides (as src/report/sanitise.ts). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to remove
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;

/** Text from the pod, safe to show: no control characters, at most max characters. */
function clean(text: string, max = MAX_MESSAGE): string {
  const flat = text.replace(UNSAFE, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** One entry of `calls`, or why it is not one grpc-load writes. */
function readCall(v: unknown, health: boolean): GrpcCall | string {
  if (!Array.isArray(v) || v.length !== (health ? 3 : 2)) return `a call is [code, ms${health ? ", serving" : ""}]`;
  const [code, ms, serving] = v as unknown[];
  if (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code >= GRPC_STATUS_NAMES.length) return "a call's code is not a gRPC status";
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_CALL_MS) return "a call's time is not a duration";
  if (!health) return { code, ms, serving: undefined };
  if (typeof serving !== "number" || !Number.isInteger(serving) || serving < -1 || serving >= SERVING_NAMES.length) return "a health check's answer is not a serving status";
  return { code, ms, serving: serving === -1 ? undefined : serving };
}

function readMessages(v: unknown): Map<number, string> | string {
  if (!isObject(v)) return "messages is not a mapping";
  const out = new Map<number, string>();
  for (const [k, m] of Object.entries(v)) {
    const code = /^[0-9]{1,2}$/.test(k) ? Number(k) : -1;
    if (code < 1 || code >= GRPC_STATUS_NAMES.length || typeof m !== "string") return "messages holds something other than a status's message";
    out.set(code, clean(m));
  }
  return out;
}

/** The largest output a run of `requests` calls can have: each call's entry, the messages, room. */
export function maxGrpcOutput(requests: number): number {
  return 16_384 + requests * 40;
}

/**
 * grpc-load's output → the calls, or why the probe could not measure. `requests` is the number
 * asked for (the output must hold exactly that many), `health` whether they were health checks.
 */
export function parseGrpcLoad(stdout: string, stderr: string, exitCode: number | undefined, requests: number, health: boolean): GrpcParse {
  if (stdout.length > maxGrpcOutput(requests)) return { ok: false, error: `grpc-load wrote ${stdout.length} characters, more than ${requests} calls take: not its output` };
  const text = stdout.trim();
  if (text === "") {
    if (exitCode === 127) return { ok: false, error: "grpc-load is not in the tools image (an image older than the grpc probe?)" };
    const why = clean(stderr.trim().split("\n")[0] ?? "");
    return { ok: false, error: why !== "" ? `grpc-load: ${why}` : `grpc-load exited ${exitCode ?? "abnormally"} without a result` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, error: "grpc-load's output is not JSON: not what it writes" };
  }
  if (!isObject(doc)) return { ok: false, error: "grpc-load's output is not a JSON object: not what it writes" };
  if (typeof doc["error"] === "string") return { ok: false, error: `grpc-load: ${clean(doc["error"], 400)}` };
  const bad = (why: string): GrpcParse => ({ ok: false, error: `grpc-load's output is not what it writes: ${why}` });
  if (doc["version"] !== 1) return bad("version is not 1");
  const types = doc["types"];
  if (typeof types !== "string" || !TYPES.has(types)) return bad("types is not one it names");
  const raw = doc["calls"];
  if (!Array.isArray(raw) || raw.length !== requests) return bad(`calls is not a list of the ${requests} calls asked for`);
  const calls: GrpcCall[] = [];
  for (const entry of raw) {
    const c = readCall(entry, health);
    if (typeof c === "string") return bad(c);
    calls.push(c);
  }
  const messages = readMessages(doc["messages"]);
  if (typeof messages === "string") return bad(messages);
  return { ok: true, calls, messages, types };
}

/** A call that succeeded: ended OK and, for a health check, answered SERVING. */
function succeeded(c: GrpcCall, health: boolean): boolean {
  return c.code === 0 && (!health || c.serving === SERVING);
}

/** Metrics of one run: the calls by status, errors and their ratio, latency of the calls ended OK. */
export function grpcMetrics(calls: readonly GrpcCall[], health: boolean): Record<string, number | undefined> {
  const errors = calls.filter((c) => !succeeded(c, health)).length;
  const out: Record<string, number | undefined> = {
    calls: calls.length,
    errors,
    errorRatio: calls.length === 0 ? undefined : errors / calls.length,
    serving: health ? calls.filter((c) => c.code === 0 && c.serving === SERVING).length : undefined,
  };
  GRPC_STATUS_NAMES.forEach((name, code) => {
    out[`status.${name}`] = calls.filter((c) => c.code === code).length;
  });
  Object.assign(out, latencyMetrics(calls.filter((c) => c.code === 0).map((c) => c.ms)));
  return out;
}

/** What the calls got, in words: `20 calls: 18 × OK, 2 × UNAVAILABLE (connection refused)`. */
export function grpcDetail(parsed: Extract<GrpcParse, { ok: true }>, health: boolean): string {
  const counts = new Map<string, number>();
  for (const c of parsed.calls) {
    const status = GRPC_STATUS_NAMES[c.code] ?? String(c.code);
    const key = health && c.code === 0 ? (SERVING_NAMES[c.serving ?? 0] ?? "UNKNOWN") : status;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const what = health ? "health check" : "call";
  const parts = [...counts].map(([k, n]) => `${n} × ${k}`);
  const first = [...parsed.messages].sort(([a], [b]) => a - b)[0];
  const message = first === undefined ? "" : ` (${GRPC_STATUS_NAMES[first[0]] ?? first[0]}: ${first[1]})`;
  const note =
    parsed.types === "none"
      ? "; the server's reflection does not describe the method: empty messages were sent"
      : parsed.types === "unreachable"
        ? "; no call was made: the server could not be reached to learn the method's types"
        : "";
  return `${parsed.calls.length} ${what}${parsed.calls.length === 1 ? "" : "s"}: ${parts.join(", ")}${message}${note}`;
}
