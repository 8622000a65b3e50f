// Inside a pod with no kubeconfig, chaos-run talks to the API server the pod's environment names
// ($KUBERNETES_SERVICE_HOST/_PORT) as the pod's ServiceAccount — its token re-read as it rotates,
// its CA, its namespace — and says who it is; anywhere else without a kubeconfig it says so
// instead of trying localhost. (A real pod's run: test/cluster/in-cluster.test.ts.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, inClusterConfig, serviceAccountOf } from "../../src/kube/client-node.js";

const dir = mkdtempSync(join(tmpdir(), "chaos-run-sa-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const jwt = (claims: object): string => ["e30", Buffer.from(JSON.stringify(claims)).toString("base64url"), "c2ln"].join(".");

describe("in-cluster configuration", () => {
  it("the ServiceAccount's token, CA and namespace, and the service address (IPv6 in brackets)", () => {
    writeFileSync(join(dir, "token"), jwt({ sub: "system:serviceaccount:chaos:chaos-run-web" }));
    writeFileSync(join(dir, "namespace"), "chaos");
    const v4 = inClusterConfig({ serviceHost: "10.96.0.1", servicePort: "443" }, dir);
    expect(v4?.kc.getCurrentCluster()).toMatchObject({ server: "https://10.96.0.1:443", caFile: join(dir, "ca.crt"), skipTLSVerify: false });
    expect(v4?.kc.getCurrentUser()?.authProvider).toEqual({ name: "tokenFile", config: { tokenFile: join(dir, "token") } });
    expect(v4?.kc.getContextObject(v4.kc.getCurrentContext())?.namespace).toBe("chaos");
    expect(v4?.user).toBe("system:serviceaccount:chaos:chaos-run-web");
    expect(inClusterConfig({ serviceHost: "fd00:10:96::1", servicePort: "6443" }, dir)?.kc.getCurrentCluster()?.server).toBe("https://[fd00:10:96::1]:6443");
  });

  it("not a pod: no service address, or no token mounted", () => {
    expect(inClusterConfig({}, dir)).toBeUndefined();
    expect(inClusterConfig({ serviceHost: "10.96.0.1" }, join(dir, "nothing-here"))).toBeUndefined();
  });

  it("who the token says it is, when it says; never more than that (the API server verifies it)", () => {
    expect(serviceAccountOf(jwt({ sub: "system:serviceaccount:a:b" }))).toBe("system:serviceaccount:a:b");
    expect(serviceAccountOf("not-a-token")).toBeUndefined();
    expect(serviceAccountOf(jwt({ iss: "x" }))).toBeUndefined();
  });

  it("no kubeconfig and no pod: a clear refusal (exit 3), not a try at localhost:8080", () => {
    const home = process.env["HOME"];
    process.env["HOME"] = dir;
    try {
      expect(() => connect({ serviceHost: undefined })).toThrow(/no Kubernetes cluster to talk to: no kubeconfig \(\$KUBECONFIG, ~\/\.kube\/config\) and this is not a pod/);
    } finally {
      process.env["HOME"] = home;
    }
  });
});
