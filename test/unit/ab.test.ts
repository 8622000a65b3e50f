// ab's real outputs (captured in the lab from Debian's ab 2.3 against nginx: a normal run,
// 404s, a refused port, a partition's timeout, an unknown host) → metrics.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAb, parsePercentiles } from "../../src/probes/ab.js";
import { PROBE_METRICS } from "../../src/expect/metrics.js";

const dir = join(import.meta.dirname, "../fixtures/ab");
function fixture(name: string, requests: number) {
  const read = (ext: string): string => readFileSync(join(dir, `${name}.${ext}`), "utf8");
  return parseAb(read("stdout"), read("stderr"), Number(read("code").trim()), requests);
}

describe("parseAb", () => {
  it("a normal keep-alive run: exact percentiles from -e, counts from the report", () => {
    const r = fixture("ok", 20);
    if (!r.ok) throw new Error(r.error);
    expect(r.metrics.completeRequests).toBe(20);
    expect(r.metrics.failedRequests).toBe(0);
    expect(r.metrics.non2xxResponses).toBe(0);
    expect(r.keepAliveRequests).toBe(20);
    const csv = parsePercentiles(readFileSync(join(dir, "ok.stderr"), "utf8"));
    expect(csv.size).toBe(101);
    expect(r.metrics["latency.p50"]).toBe(csv.get(50));
    expect(r.metrics["latency.p99"]).toBe(csv.get(99));
    expect(r.metrics["latency.max"]).toBe(csv.get(100));
    // microsecond precision, not ab's rounded table
    expect(String(r.metrics["latency.p50"])).toMatch(/\.\d/);
    const mean = /Time per request:\s+([\d.]+) \[ms\] \(mean\)/.exec(readFileSync(join(dir, "ok.stdout"), "utf8"))?.[1];
    expect(r.metrics["latency.mean"]).toBe(Number(mean));
    expect(r.metrics.requestsPerSecond).toBeGreaterThan(0);
  });

  it("yields exactly the metric names the scenario language type-checks", () => {
    const r = fixture("ok", 20);
    if (!r.ok) throw new Error(r.error);
    expect(Object.keys(r.metrics).sort()).toEqual(Object.keys(PROBE_METRICS.ab).sort());
  });

  it("404s are non-2xx responses, not failures", () => {
    const r = fixture("not-found", 10);
    if (!r.ok) throw new Error(r.error);
    expect(r.metrics.non2xxResponses).toBe(10);
    expect(r.metrics.failedRequests).toBe(0);
  });

  it("a refused port: every request failed (counted once each), no latency", () => {
    const r = fixture("refused", 5);
    if (!r.ok) throw new Error(r.error);
    expect(r.metrics.completeRequests).toBe(5);
    expect(r.metrics.failedRequests).toBe(5);
    expect(r.failures).toEqual({ connect: 0, receive: 6, length: 0, exceptions: 3, timeout: 0 });
    expect(r.metrics["latency.p50"]).toBeUndefined();
    expect(r.metrics["latency.mean"]).toBeUndefined();
  });

  it("a partition's timeout: ab stops, every request counts as failed of kind timeout", () => {
    const r = fixture("timeout", 5);
    if (!r.ok) throw new Error(r.error);
    expect(r.metrics.failedRequests).toBe(5);
    expect(r.failures.timeout).toBe(5);
    expect(r.stoppedEarly).toMatch(/timeout specified has expired/);
  });

  it("an ab that could not run is an error of the probe, with ab's reason", () => {
    const r = fixture("bad-host", 5);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/no-such-host\.invalid: Temporary failure in name resolution/);
    const missing = parseAb("", 'exec: "ab": executable file not found in $PATH', 127, 5);
    expect(missing).toEqual({ ok: false, error: 'exec: "ab": executable file not found in $PATH' });
  });
});

describe("parseAb without its percentile file", () => {
  it("is an error of the probe, not a silently missing latency", () => {
    const stdout = readFileSync(join(dir, "ok.stdout"), "utf8");
    const r = parseAb(stdout, "Cannot open CSV output file /dev/stderr\n", 0, 20);
    expect(r).toEqual({ ok: false, error: "ab wrote no percentiles (its -e /dev/stderr file): Cannot open CSV output file /dev/stderr" });
  });
});
