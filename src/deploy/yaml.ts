// Manifests as one YAML stream for `kubectl apply -f -` or a GitOps repository: each object a
// document, with its comment above it and each RBAC rule's reason above the rule.
import { Document, isMap, isSeq } from "yaml";
import type { Manifest } from "./manifests.js";

const HASH = "#";

/** The object without its rules' reasons (each rule's "#" key), and those reasons by rule. */
function withoutReasons(object: Readonly<Record<string, unknown>>): { object: Record<string, unknown>; reasons: (readonly string[] | undefined)[] } {
  const rules = object["rules"];
  if (!Array.isArray(rules)) return { object: { ...object }, reasons: [] };
  const reasons: (readonly string[] | undefined)[] = [];
  const stripped = rules.map((r: unknown) => {
    if (typeof r !== "object" || r === null || !(HASH in r)) {
      reasons.push(undefined);
      return r;
    }
    const { [HASH]: why, ...rule } = r as Record<string, unknown>;
    reasons.push(Array.isArray(why) ? why.map(String) : undefined);
    return rule;
  });
  return { object: { ...object, rules: stripped }, reasons };
}

const commented = (text: string): string =>
  text
    .split("\n")
    .map((l) => ` ${l}`)
    .join("\n");

function document(m: Manifest): string {
  const { object, reasons } = withoutReasons(m.object);
  const doc = new Document(object);
  if (m.comment !== "") doc.commentBefore = commented(m.comment);
  const rules = doc.get("rules", true);
  if (isSeq(rules)) {
    rules.items.forEach((item, i) => {
      const why = reasons[i];
      if (!isMap(item)) return;
      if (why !== undefined) item.commentBefore = commented(why.join("\n"));
      // one line each, as RBAC rules are usually written: apiGroups: [""], verbs: [get, list]
      for (const pair of item.items) if (isSeq(pair.value)) pair.value.flow = true;
    });
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** The stream: a header saying what made it, then each manifest. */
export function manifestsYaml(header: string, manifests: readonly Manifest[]): string {
  const head = header
    .split("\n")
    .map((l) => (l === "" ? "#" : `# ${l}`))
    .join("\n");
  return `${head}\n${manifests.map((m) => `---\n${document(m)}`).join("")}`;
}
