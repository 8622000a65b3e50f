// isApiRefusal: which failures say the API server did not carry the request out — what lets the
// runner drop the ledger entry of a fault that was to travel with an agent it then did not add.
import { describe, expect, it } from "vitest";
import { apiError, isApiRefusal } from "../../src/kube/api-errors.js";

const op = { doing: "add the agent to", verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace: "ns", name: "web" };
const failure = (code: number | undefined, resent = false) => apiError(op, { code, message: "m", server: "https://x", context: "c", resent });

describe("isApiRefusal", () => {
  it("a 4xx answer to a request sent once: refused, not carried out", () => {
    for (const code of [400, 401, 403, 404, 409, 422, 429]) expect(isApiRefusal(failure(code)), String(code)).toBe(true);
  });

  it("no answer, a 408, a 5xx, or any answer to a request sent again: it may have been carried out", () => {
    for (const code of [undefined, 408, 500, 502, 503, 504]) expect(isApiRefusal(failure(code)), String(code)).toBe(false);
    expect(isApiRefusal(failure(422, true))).toBe(false);
    expect(isApiRefusal(new Error("admission webhook denied the request"))).toBe(false);
  });
});

describe("an admission policy's denial", () => {
  it("is said as the cluster's own policy, with who can exempt the agents, whatever its status", () => {
    const vap = `pods "web" is forbidden: ValidatingAdmissionPolicy 'no-debug' with binding 'no-debug' denied request: no ephemeral containers`;
    const webhook = `admission webhook "validate.kyverno.svc" denied the request: policy disallow-ephemeral`;
    for (const [code, message] of [
      [422, vap],
      [403, vap],
      [400, webhook],
    ] as const) {
      const e = apiError(op, { code, message, server: "https://x", context: "c" });
      expect(e.message).toBe(`an admission policy of the cluster refused to let chaos-run add the agent to pod ns/web: ${message}`);
      expect(e.hint).toMatch(/its owners can exempt chaos-run's containers \(chaos-agent-\*, .*\) in namespace ns/);
      expect(isApiRefusal(e)).toBe(true);
    }
  });

  it("names what chaos-run did that the policy refused, where it added no container: a ConfigMap made, a pod deleted", () => {
    const e = apiError(
      { doing: "store the run in", verb: "create", resource: "configmaps", namespace: "ns" },
      { code: 403, message: `admission webhook "v.example" denied the request: no`, server: "https://x", context: "c" },
    );
    expect(e.hint).toBe("the policy named above is the cluster's own, not chaos-run's: its owners can exempt chaos-run's requests to create configmaps in namespace ns");
    const deletion = apiError(
      { doing: "delete", verb: "delete", resource: "pods", namespace: "ns", name: "web-0" },
      { code: 400, message: `admission webhook "v.example" denied the request: no`, server: "https://x", context: "c" },
    );
    expect(deletion.hint).toBe("the policy named above is the cluster's own, not chaos-run's: its owners can exempt chaos-run's requests to delete pods in namespace ns");
  });
});
