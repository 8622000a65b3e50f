// The k8s probe: API objects → metrics (PROBE_METRICS.k8s). Pure: the objects come in as the
// API returned them. A missing object is measured (objects 0, no value), never an error.
import { evaluateJsonPath, numericValue, type Segment } from "../scenario/jsonpath.js";

export interface K8sMeasure {
  readonly metrics: Record<string, number | undefined>;
  /** what was read, in words, e.g. `Deployment default/web: .status.availableReplicas = 3` */
  readonly detail: string;
}

function conditionOf(obj: unknown, type: string): string | undefined {
  const conditions = (obj as { status?: { conditions?: unknown } } | null)?.status?.conditions;
  if (!Array.isArray(conditions)) return undefined;
  const c = (conditions as unknown[]).find((x) => typeof x === "object" && x !== null && (x as { type?: unknown }).type === type) as { status?: unknown } | undefined;
  return typeof c?.status === "string" ? c.status : undefined;
}

export interface K8sSpecForMeasure {
  /** `Deployment default/web` or `Pod default (run=nginx)`: how the objects are named in the detail */
  readonly what: string;
  readonly field: { readonly text: string; readonly segments: readonly Segment[] } | undefined;
  readonly condition: string | undefined;
}

export function measureObjects(objects: readonly unknown[], spec: K8sSpecForMeasure): K8sMeasure {
  const metrics: Record<string, number | undefined> = { objects: objects.length };
  const notes: string[] = [];
  if (objects.length === 0) notes.push("not found");
  else notes.push(`${objects.length} object${objects.length === 1 ? "" : "s"}`);
  if (spec.field !== undefined) {
    const found = objects.flatMap((o) => evaluateJsonPath(spec.field?.segments ?? [], o));
    const numbers = found.map(numericValue);
    const bad = found.find((_v, i) => numbers[i] === undefined);
    if (objects.length === 0) metrics["value"] = undefined;
    else if (found.length === 0) {
      metrics["value"] = undefined;
      notes.push(`${spec.field.text} matched nothing`);
    } else if (bad !== undefined) {
      metrics["value"] = undefined;
      notes.push(`${spec.field.text} is not a number: ${JSON.stringify(bad).slice(0, 80)}`);
    } else {
      const sum = numbers.reduce<number>((a, b) => a + (b ?? 0), 0);
      metrics["value"] = sum;
      notes.push(`${spec.field.text} = ${sum}${found.length > 1 ? ` (sum of ${found.length})` : ""}`);
    }
  }
  if (spec.condition !== undefined) {
    const t = objects.filter((o) => conditionOf(o, spec.condition ?? "") === "True").length;
    metrics["conditionTrue"] = t;
    notes.push(`${spec.condition} True in ${t} of ${objects.length}`);
  }
  return { metrics, detail: `${spec.what}: ${notes.join(", ")}` };
}
