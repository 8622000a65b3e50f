// What compare needs of a run's plan, read from the journal's copy (`plan`, as `chaos-run plan
// --format json` printed it; the journal schema leaves its inside open, so every field is read
// with care): each step's name, kind and fault shape, the probes each part runs, the target pods
// in the plan's order, the delay a fault adds.

export interface StepView {
  readonly index: number;
  readonly name: string;
  readonly kind: string;
  /** the fault's spec as canonical JSON, without what differs per run or per pod; null: not a fault step */
  readonly faultShape: string | null;
  /** the fault in words, as the plan says it */
  readonly faultSummary: string | null;
  /** the latency the fault adds (netem, http, grpc or dns delay), ms; null: none */
  readonly delayMs: number | null;
  /** the step's probes (a probe step's run, a fault step's during): name → shape */
  readonly probes: ReadonlyMap<string, string>;
}

export interface PlanView {
  readonly steps: readonly StepView[];
  /** the steady state's probes: name → shape */
  readonly steadyState: ReadonlyMap<string, string>;
  /** the target pods, in the plan's order */
  readonly pods: readonly string[];
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function text(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** Fields of a fault spec that name one run's or one pod's things, not the fault's shape. */
const NOT_SHAPE: ReadonlySet<string> = new Set(["containerId"]);

/** JSON with sorted keys, so that equal shapes are equal strings. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => !NOT_SHAPE.has(k) && v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** What makes a probe the same probe in two runs: its kind and what it runs or reads. */
function probeShape(run: Json): string {
  return canonical({ kind: run["kind"], argv: run["argv"], action: run["action"] });
}

function probesOf(runs: readonly unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of runs) {
    if (!isRecord(r)) continue;
    const name = text(r["probe"]);
    if (name !== null) out.set(name, probeShape(r));
  }
  return out;
}

/** The latency a netem, http, grpc or dns fault adds to what goes through it (their parameters' delayMs; a dns fault's, to the lookups of the names it matches). */
function delayOf(spec: Json): number | null {
  const params = [spec["netem"], spec["http"], spec["grpc"], spec["dns"]].find(isRecord);
  const d = params?.["delayMs"];
  return typeof d === "number" && d > 0 ? d : null;
}

function stepView(s: Json, position: number): StepView {
  const fault = isRecord(s["fault"]) ? s["fault"] : undefined;
  const spec = fault !== undefined && isRecord(fault["spec"]) ? fault["spec"] : undefined;
  const runs = isRecord(s["run"]) ? [s["run"]] : list(s["during"]);
  const index = s["index"];
  return {
    index: typeof index === "number" ? index : position,
    name: text(s["name"]) ?? `step ${position + 1}`,
    kind: text(s["kind"]) ?? "unknown",
    faultShape: spec === undefined ? null : canonical(spec),
    faultSummary: fault === undefined ? null : text(fault["summary"]),
    delayMs: spec === undefined ? null : delayOf(spec),
    probes: probesOf(runs),
  };
}

export function readPlan(plan: unknown): PlanView {
  if (!isRecord(plan)) return { steps: [], steadyState: new Map(), pods: [] };
  const target = isRecord(plan["target"]) ? plan["target"] : {};
  const pods = list(target["pods"])
    .map((p) => (isRecord(p) ? text(p["name"]) : null))
    .filter((p): p is string => p !== null);
  return {
    steps: list(plan["steps"]).flatMap((s, i) => (isRecord(s) ? [stepView(s, i)] : [])),
    steadyState: probesOf(list(plan["steadyState"])),
    pods,
  };
}
