// The catalog of diagnostic codes: each code declared once, with its severity and message
// template. `diagnostic()` (diagnostics.ts) builds diagnostics only from these.

type Msg<A> = (args: A) => string;

interface CodeDef<A> {
  readonly severity: "error" | "warning";
  /** one line saying what the code means (docs/scenarios.md sends readers here) */
  readonly summary: string;
  readonly message: Msg<A>;
}

function def<A>(severity: "error" | "warning", summary: string, message: Msg<A>): CodeDef<A> {
  return { severity, summary, message };
}

const q = (s: string): string => `\`${s}\``;
const list = (items: readonly string[], last = "or"): string => {
  const quoted = items.map(q);
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} ${last} ${quoted.at(-1) ?? ""}`;
};

export const CODES = {
  // files and YAML
  "unreadable-file": def("error", "the file cannot be read", (a: { reason: string }) => `cannot read the file: ${a.reason}`),
  "file-too-large": def("error", "the file is larger than a scenario can be", (a: { limit: string }) => `file larger than ${a.limit}`),
  "yaml-syntax": def("error", "YAML syntax error", (a: { detail: string }) => a.detail),
  "yaml-duplicate-key": def("error", "a key appears twice in one mapping", (a: { key: string }) => `duplicate key ${q(a.key)}`),
  "yaml-alias-limit": def("error", "too many YAML aliases (an alias bomb)", (a: { limit: number }) => `more than ${a.limit} alias expansions`),
  "yaml-too-deep": def("error", "YAML nested too deeply to read", (a: { detail: string }) => `cannot read this document: ${a.detail}`),
  "yaml-warning": def("warning", "YAML warning", (a: { detail: string }) => a.detail),
  "too-many-problems": def(
    "error",
    "a file with more problems than are shown (the first ones are)",
    (a: { more: number; shown: number }) => `${a.more} more problem${a.more === 1 ? "" : "s"} in this file not shown (the first ${a.shown} are)`,
  ),
  // schema
  "unknown-key": def("error", "a key the schema does not know (typo?)", (a: { key: string; where: string }) => `unknown key ${q(a.key)} in ${a.where}`),
  "missing-key": def("error", "a required key is missing", (a: { keys: readonly string[]; where: string }) =>
    a.keys.length === 1 ? `${a.where} needs ${q(a.keys[0] ?? "")}` : `${a.where} needs one of ${list(a.keys)}`,
  ),
  "conflicting-keys": def("error", "two keys that exclude each other", (a: { key: string; other: string }) => `${q(a.key)} cannot be used together with ${q(a.other)}`),
  "needs-key": def("error", "a key that only works with another one", (a: { key: string; needed: string }) => `${q(a.key)} needs ${q(a.needed)}`),
  "bad-type": def("error", "a value of the wrong type", (a: { expected: string; actual: string }) => `expected ${a.expected}, got ${a.actual}`),
  "bad-enum": def("error", "a value outside the allowed set", (a: { value: string; allowed: readonly string[] }) => `${q(a.value)} is not one of ${list(a.allowed)}`),
  "bad-duration": def("error", "a duration without a unit, or malformed", (a: { value: string }) => `${q(a.value)} is not a duration`),
  "bad-percent": def("error", "a percentage that is not `N%` in 0..100", (a: { value: string }) => `${q(a.value)} is not a percentage`),
  "bad-rate": def("error", "a rate not in tc's units", (a: { value: string }) => `${q(a.value)} is not a rate`),
  "bad-value": def("error", "a value of the right type but the wrong form", (a: { value: string; what: string }) => `${q(a.value)} is not ${a.what}`),
  "bad-key-name": def("error", "a map key of the wrong form", (a: { key: string; what: string }) => `${q(a.key)} is not ${a.what}`),
  "out-of-range": def("error", "a number outside its range", (a: { value: string; bound: string }) => `${a.value} is out of range: must be ${a.bound}`),
  "bad-length": def("error", "a string, list or map of the wrong size", (a: { what: string; bound: string }) => `${a.what} must have ${a.bound}`),
  "duplicate-item": def("error", "an item listed twice", (a: { value: string }) => `${q(a.value)} is listed twice`),
  // semantics
  "bad-cidr": def("error", "`to.cidr` is not an IPv4/IPv6 address or network", (a: { value: string; reason: string }) => `${q(a.value)} is not a CIDR: ${a.reason}`),
  "bad-url": def("error", "a probe URL that is not http(s)", (a: { value: string; reason: string }) => `${q(a.value)} is not a usable URL: ${a.reason}`),
  "unknown-template": def("error", "a `{{ … }}` other than target.ip, target.name, env.NAME", (a: { text: string }) => `unknown template ${q(a.text)}`),
  "unknown-probe": def("error", "a probe name not declared under `probes`", (a: { name: string }) => `unknown probe ${q(a.name)}`),
  "unknown-result": def("error", "an expression refers to a result no step saves", (a: { name: string }) => `no step saves a result named ${q(a.name)}`),
  "result-used-before-saved": def(
    "error",
    "an expression refers to a result saved only later",
    (a: { name: string; savedAt: string }) => `result ${q(a.name)} is used before it is saved (it is saved by ${a.savedAt})`,
  ),
  "duplicate-result": def("error", "two steps save results under one name", (a: { name: string }) => `result name ${q(a.name)} is saved twice`),
  "duplicate-step": def("error", "two steps with one name", (a: { name: string }) => `step name ${q(a.name)} is used twice`),
  "unknown-metric": def("error", "a metric the probe kind does not yield", (a: { metric: string; kind: string }) => `${a.kind} probes have no metric ${q(a.metric)}`),
  "bad-expression": def("error", "an expression that does not parse", (a: { detail: string }) => `bad expression: ${a.detail}`),
  "unit-mismatch": def("error", "a duration mixed with a plain number", (a: { detail: string }) => a.detail),
  "concurrency-above-requests": def(
    "error",
    "ab cannot run more requests at once than it sends",
    (a: { concurrency: number; requests: number }) => `concurrency ${a.concurrency} is above requests ${a.requests}`,
  ),
  "blast-radius": def("error", "the mode asks for more pods than maxPods", (a: { detail: string }) => a.detail),
  "no-pods": def("error", "no pod matches the target (plan)", (a: { detail: string }) => a.detail),
  "not-enough-pods": def("error", "the mode asks for more pods than match (plan)", (a: { detail: string }) => a.detail),
  "system-namespace": def(
    "error",
    "a target in kube-system, kube-public or kube-node-lease without the opt-in",
    (a: { namespace: string }) => `namespace ${q(a.namespace)} holds the cluster's own components: chaos-run refuses to target it unless \`target.allowSystemNamespaces: true\``,
  ),
  "host-network": def("error", "a target pod uses the node's network (hostNetwork; plan)", (a: { detail: string }) => a.detail),
  "stress-bound": def("error", "a stress asks a pod for more than its limit (or, without one, its request), without the opt-in (plan)", (a: { detail: string }) => a.detail),
  "fault-metric": def("error", "an expectation on a metric the fault does not measure", (a: { detail: string }) => a.detail),
  "fault-after-pod-delete": def(
    "error",
    "a fault step after a podDelete step (its pods are gone)",
    (a: { step: string; deleted: string }) => `${a.step} comes after ${a.deleted}, which deletes the target pods: a fault would have to hit their replacements, which chaos-run does not do`,
  ),
  "bad-jsonpath": def("error", "a k8s probe's `field` that is not a JSONPath chaos-run reads", (a: { value: string; reason: string }) => `${q(a.value)} is not a usable JSONPath: ${a.reason}`),
  "bad-regex": def("error", "a cmd probe's `stdout` that is not a regular expression", (a: { value: string; reason: string }) => `${q(a.value)} is not a regular expression: ${a.reason}`),
  "needs-every": def("error", "an aggregate or a share of samples on a probe that is not continuous", (a: { what: string }) => `${a.what} needs a continuous probe (\`every:\`)`),
  "bad-comparison": def("error", "an expectation with no comparison, or more than one", (a: { detail: string }) => a.detail),
  "lease-above-ttl": def("error", "the agent lease is not shorter than its ttl", (a: { lease: string; ttl: string }) => `lease ${a.lease} must be shorter than ttl ${a.ttl}`),
} as const;

export type DiagnosticCode = keyof typeof CODES;
export type CodeArgs<C extends DiagnosticCode> = Parameters<(typeof CODES)[C]["message"]>[0];
