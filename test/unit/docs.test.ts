// docs/scenario-reference.md is generated from the schema's descriptions (`npm run docs`): a
// schema change that is not regenerated fails here, so the reference never drifts from the
// language it documents.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { referencePath, renderScenarioReference, root } from "../../scripts/gen-docs.mjs";

describe("the scenario reference", () => {
  const schema: unknown = JSON.parse(readFileSync(join(root, "schemas", "scenario.schema.json"), "utf8"));
  const rendered = renderScenarioReference(schema);

  it("is what the schema renders (run `npm run docs` after changing the schema)", () => {
    expect(readFileSync(referencePath, "utf8")).toBe(rendered);
  });

  it("has a section for every object of the language and documents every field", () => {
    for (const title of ["`target`", "`steps[].fault.http`", "`probes.NAME.ab`", "`steps[].fault.stress.memory`"]) expect(rendered).toContain(`### ${title}`);
    // every property name the schema declares appears as a field of some table
    const names = new Set<string>();
    const walk = (s: unknown): void => {
      if (Array.isArray(s)) s.forEach(walk);
      else if (s !== null && typeof s === "object") {
        const props = (s as { properties?: Record<string, unknown> }).properties;
        if (props !== undefined) for (const k of Object.keys(props)) if (props[k] !== false) names.add(k);
        for (const v of Object.values(s)) walk(v);
      }
    };
    walk(schema);
    const missing = [...names].filter((n) => !rendered.includes(`| \`${n}\` |`));
    expect(missing).toEqual([]);
  });

  it("links every type it names to a section that exists", () => {
    const anchors = new Set(
      [...rendered.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^a-z0-9 _-]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    const links = [...rendered.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1] as string);
    expect(links.filter((l) => !anchors.has(l))).toEqual([]);
  });
});
