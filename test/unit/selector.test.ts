// Label selectors as kubectl reads them (`-l`) and as a LabelSelector's matchLabels +
// matchExpressions hold them: parsed, located when they do not parse, matched as Kubernetes
// matches them (NotIn and DoesNotExist hold for a pod without the label).
import { describe, expect, it } from "vitest";
import { fromLabelSelector, matches, parseSelector, selectorString, SelectorSyntaxError } from "../../src/scenario/selector.js";

function syntaxError(text: string): SelectorSyntaxError {
  try {
    parseSelector(text);
  } catch (e) {
    if (e instanceof SelectorSyntaxError) return e;
    throw e;
  }
  throw new Error(`${text} parsed`);
}

describe("kubectl's selector syntax", () => {
  it("reads every requirement kubectl takes", () => {
    expect(parseSelector("app=web, tier==front,env!=prod,zone in (a, b),track notin (canary),gpu,!legacy")).toEqual([
      { key: "app", operator: "In", values: ["web"] },
      { key: "tier", operator: "In", values: ["front"] },
      { key: "env", operator: "NotIn", values: ["prod"] },
      { key: "zone", operator: "In", values: ["a", "b"] },
      { key: "track", operator: "NotIn", values: ["canary"] },
      { key: "gpu", operator: "Exists", values: [] },
      { key: "legacy", operator: "DoesNotExist", values: [] },
    ]);
    expect(parseSelector("app.kubernetes.io/name=web")).toEqual([{ key: "app.kubernetes.io/name", operator: "In", values: ["web"] }]);
    expect(parseSelector("app=")).toEqual([{ key: "app", operator: "In", values: [""] }]);
  });

  it("writes the text back as the API server's labelSelector reads it", () => {
    const text = "app=web,zone in (a,b),track notin (canary),gpu,!legacy";
    expect(selectorString(parseSelector(text))).toBe(text);
  });

  it.each([
    ["", 0, "empty selector"],
    ["app=web,", 8, "label key was expected"],
    ["app=web tier=x", 8, "`,` was expected"],
    ["zone in a,b", 8, "`(` was expected"],
    ["zone in (a,b", 12, "`)` or `,` was expected"],
    ["zone in ()", 8, "at least one value"],
    ["app=we b", 7, "`,` was expected"],
    ["-app=web", 0, "is not a label key"],
    ["app=w@b", 4, "is not a label value"],
    ["app within (a)", 4, "=, !=, in or notin was expected"],
  ])("refuses %j at column %i", (text, column, message) => {
    const e = syntaxError(text);
    expect(e.column).toBe(column);
    expect(e.message).toContain(message);
  });
});

describe("matching a pod's labels", () => {
  const web = { app: "web", zone: "a" };
  const canary = { app: "web", zone: "b", track: "canary" };
  it.each([
    ["app=web", true, true],
    ["zone in (a,c)", true, false],
    ["track notin (canary)", true, false],
    ["track!=canary", true, false],
    ["track", false, true],
    ["!track", true, false],
    ["app=web,!track", true, false],
    ["app=db", false, false],
  ])("%s: web %s, canary %s", (text, onWeb, onCanary) => {
    const selector = parseSelector(text);
    expect(matches(selector, web)).toBe(onWeb);
    expect(matches(selector, canary)).toBe(onCanary);
  });

  it("takes matchLabels and matchExpressions as one selector, sorted by key", () => {
    const selector = fromLabelSelector({ app: "web" }, [{ key: "track", operator: "DoesNotExist", values: [] }]);
    expect(selectorString(selector)).toBe("app=web,!track");
    expect(matches(selector, web)).toBe(true);
    expect(matches(selector, canary)).toBe(false);
  });
});
