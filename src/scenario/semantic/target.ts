// The target: how many pods a mode may hit, against maxPods and the pods listed (the blast
// radius, checked before any pod is listed), the system namespaces that need an opt-in, and
// matchExpressions' values as Kubernetes wants them (In and NotIn some, Exists and DoesNotExist none),
// and a fault's port by name only where it names a port of the target Service.
import { SYSTEM_NAMESPACE_HINT, SYSTEM_NAMESPACES } from "../types.js";
import type { Findings } from "./findings.js";
import { int, obj, str } from "./read.js";
import type { Obj } from "./read.js";

export function checkTarget(findings: Findings, target: Obj, steps: unknown): void {
  checkBlastRadius(findings, target);
  checkExpressions(findings, target["matchExpressions"]);
  if (target["service"] === undefined) checkPortNames(findings, steps);
  const namespace = str(target["namespace"]);
  if (namespace !== undefined && SYSTEM_NAMESPACES.includes(namespace) && target["allowSystemNamespaces"] !== true) {
    findings.add("system-namespace", { namespace }, findings.locate("/target/namespace"), SYSTEM_NAMESPACE_HINT);
  }
}

function checkBlastRadius(findings: Findings, target: Obj): void {
  const maxPods = int(target["maxPods"]);
  const mode = target["mode"];
  const count = int(obj(mode)?.["count"]);
  const pods = Array.isArray(target["pods"]) ? target["pods"].length : undefined;
  if (count !== undefined && maxPods !== undefined && count > maxPods) {
    findings.add(
      "blast-radius",
      { detail: `mode asks for ${count} pods but maxPods is ${maxPods}` },
      findings.locate("/target/mode"),
      "lower the count or raise maxPods: the guard refuses, it never clamps",
    );
  }
  if (count !== undefined && pods !== undefined && count > pods) {
    findings.add("blast-radius", { detail: `mode asks for ${count} pods but only ${pods} are listed in \`pods\`` }, findings.locate("/target/mode"), "list more pods or lower the count");
  }
  if (mode === "all" && pods !== undefined && maxPods !== undefined && pods > maxPods) {
    findings.add(
      "blast-radius",
      { detail: `mode all hits the ${pods} listed pods but maxPods is ${maxPods}` },
      findings.locate("/target/maxPods"),
      "list fewer pods, use another mode, or raise maxPods",
    );
  }
}

function checkExpressions(findings: Findings, expressions: unknown): void {
  if (!Array.isArray(expressions)) return;
  expressions.forEach((raw: unknown, i) => {
    const e = obj(raw);
    const operator = str(e?.["operator"]);
    const values = e?.["values"];
    const count = Array.isArray(values) ? values.length : 0;
    const at = `/target/matchExpressions/${i}`;
    if ((operator === "In" || operator === "NotIn") && count === 0) {
      findings.add(
        "bad-length",
        { what: `\`values\` of operator ${operator}`, bound: "at least one value" },
        findings.locate(values === undefined ? `${at}/operator` : `${at}/values`),
        "list the values the label is compared with",
      );
    }
    if ((operator === "Exists" || operator === "DoesNotExist") && values !== undefined) {
      findings.add("conflicting-keys", { key: "values", other: `operator: ${operator}` }, findings.locate(`${at}/values`), `${operator} only asks whether the label is there: remove \`values\``);
    }
  });
}

/** A fault's port by name is one of the target Service's ports: without target.service it names nothing. */
function checkPortNames(findings: Findings, steps: unknown): void {
  if (!Array.isArray(steps)) return;
  steps.forEach((raw: unknown, i) => {
    const fault = obj(obj(raw)?.["fault"]);
    for (const [where, port] of [
      ["http/port", obj(fault?.["http"])?.["port"]],
      ["grpc/port", obj(fault?.["grpc"])?.["port"]],
      ["to/port", obj(fault?.["to"])?.["port"]],
    ] as const) {
      if (typeof port !== "string") continue;
      findings.add(
        "needs-key",
        { key: `port: ${port}`, needed: "target.service" },
        findings.locate(`/steps/${i}/fault/${where}`),
        "a port by name is one of the target Service's ports: give the pods' port by number",
      );
    }
  });
}
