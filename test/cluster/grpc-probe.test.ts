// The grpc probe against a real gRPC server in the host lab (issue 24): grpc-go's
// helloworld.Greeter (test/lab/images/grpc-greeter, with reflection and the health service),
// called through the built CLI from its chaos-tools pod by grpc-load. Unary calls by name with a
// JSON body whose type reflection gives, an unknown method answered UNIMPLEMENTED and counted,
// the standard health check SERVING, an unknown service's NOT_FOUND: one run of one scenario.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Journal } from "../../src/report/journal.js";
import { chaosRun } from "../support/chaos.js";
import { kubeconfig, kubectl, kubectlOk, makeNamespace, repoRoot } from "../support/lab.js";

const ns = "grpc-probe-lab";
const dir = mkdtempSync(join(tmpdir(), "chaos-run-grpc-probe-"));

beforeAll(async () => {
  await makeNamespace(ns);
  await kubectlOk(["apply", "-n", ns, "-f", join(repoRoot, "test/lab/images/grpc-greeter/deployment.yaml")]);
  // Ready only once the kubelet's own gRPC health probe saw SERVING
  await kubectlOk(["rollout", "status", "-n", ns, "deployment/greeter", "--timeout=90s"]);
}, 120_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
});

describe("grpc probe (the lab's grpc-greeter)", () => {
  it("counts OK calls with their latency, an unknown method's UNIMPLEMENTED, the health check's SERVING and an unknown service's NOT_FOUND", async () => {
    const file = join(dir, "greeter.yaml");
    writeFileSync(
      file,
      `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: grpc-probe }
target: { namespace: ${ns}, selector: { app: greeter }, mode: all }
probes:
  greet:
    grpc: { address: "{{ target.ip }}:50051", method: helloworld.Greeter/SayHello, body: { name: chaos }, requests: 40, concurrency: 4, timeout: 2s }
  unknown:
    grpc: { address: "{{ target.ip }}:50051", method: helloworld.Greeter/SayGoodbye, requests: 5, timeout: 2s }
  healthy:
    grpc: { address: "{{ target.ip }}:50051", health: true, requests: 3 }
  greeterHealth:
    grpc: { address: "{{ target.ip }}:50051", health: helloworld.Greeter, requests: 2 }
  noSuchService:
    grpc: { address: "{{ target.ip }}:50051", health: shop.Nothing, requests: 2 }
steps:
  - { name: greet, probe: greet, expect: { status.OK: 40, errorRatio: 0 } }
  - { name: unknown, probe: unknown, expect: { status.UNIMPLEMENTED: 5 } }
  - { name: healthy, probe: healthy, expect: { serving: 3 } }
  - { name: greeter-health, probe: greeterHealth, expect: { serving: 2 } }
  - { name: no-such-service, probe: noSuchService, expect: { status.NOT_FOUND: 2, errorRatio: 100% } }
`,
    );
    const reports = join(dir, "reports");
    const r = await chaosRun([file, "--kubeconfig", kubeconfig, "--report-dir", reports]);
    expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
    expect({ code: r.code, out: r.code === 0 ? "" : r.stdout + r.stderr }).toEqual({ code: 0, out: "" });

    const sub = readdirSync(reports).find((d) => d.startsWith("grpc-probe"));
    if (sub === undefined) throw new Error(`no report directory in ${reports}`);
    const journal = JSON.parse(readFileSync(join(reports, sub, "journal.json"), "utf8")) as Journal;
    const validate = new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(repoRoot, "schemas/journal.schema.json"), "utf8")) as object);
    validate(journal);
    expect(validate.errors ?? []).toEqual([]);
    const metrics = (probe: string) => {
      const runs = journal.probes.filter((p) => p.probe === probe && !p.aggregate);
      expect(runs).toHaveLength(1); // one greeter pod
      return runs[0]?.metrics ?? {};
    };

    const greet = metrics("greet");
    expect(greet).toMatchObject({ calls: 40, errors: 0, errorRatio: 0, "status.OK": 40, "status.UNAVAILABLE": 0 });
    // latency sane: measured (not zero) and well under the 2 s deadline on loopback-fast pod networking
    const p50 = greet["latency.p50"] ?? Number.NaN;
    const max = greet["latency.max"] ?? Number.NaN;
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThan(500);
    expect(max).toBeGreaterThanOrEqual(greet["latency.p99"] ?? Number.POSITIVE_INFINITY);
    expect(max).toBeLessThan(2000);

    expect(metrics("unknown")).toMatchObject({ calls: 5, errors: 5, "status.UNIMPLEMENTED": 5, "status.OK": 0, "latency.p50": null });
    expect(metrics("healthy")).toMatchObject({ calls: 3, serving: 3, errors: 0, "status.OK": 3 });
    expect(metrics("greeterHealth")).toMatchObject({ calls: 2, serving: 2, errors: 0 });
    expect(metrics("noSuchService")).toMatchObject({ calls: 2, serving: 0, errors: 2, "status.NOT_FOUND": 2 });
    const unknownDetail = journal.probes.find((p) => p.probe === "unknown")?.detail ?? "";
    expect(unknownDetail).toMatch(/5 × UNIMPLEMENTED .*unknown method SayGoodbye/);
  }, 90_000);
});
