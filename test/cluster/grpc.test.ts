// gRPC faults on the real node: the agent's proxy, speaking h2c, in front of the lab's
// grpc-greeter (grpc-go's helloworld.Greeter with reflection and health, on 50051), measured
// with the tools pod's grpc-load (each call's status and time). The status by name and by
// number, the message, the error rate's share within binomial bounds, the delay, an excluded
// method and an excluded service (reflection), the health service untouched by default and
// faulted on demand, a Service target, the revert at Ctrl-C restoring the calls at once, the
// proxy's counts against the client's, and a TLS connection relayed untouched and warned about.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChaosRun, type Running } from "../support/chaos.js";
import { kubeconfig, kubectl, kubectlOk, makeNamespace, repoRoot, waitFor, waitReady } from "../support/lab.js";

const ns = "grpc-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
/** every window excludes reflection: grpc-load asks it for the method's types before its calls */
const REFLECTION = ["--exclude", "grpc.reflection.v1.ServerReflection"];
/** sent percent-encoded in grpc-message: a % and a non-ASCII character come back as they were */
const MESSAGE = "slow down: 100% busy ✓";
let greeter = "";
let address = "";

/** A call as grpc-load reports it: its status code, its time in ms (and a health check's serving status). */
type Call = [code: number, ms: number, serving?: number];

/** grpc-load in the tools pod: SayHello (or, `health`, grpc.health.v1.Health/Check) `n` times, `c` in flight. */
async function calls(n: number, c: number, o: { health?: boolean } = {}): Promise<{ calls: Call[]; messages: Record<string, string> }> {
  const what = o.health === true ? ["-health"] : ["-method", "helloworld.Greeter/SayHello", "-data", '{"name":"chaos"}'];
  const r = await kubectl(["exec", "-n", ns, "tools", "--", "grpc-load", "-addr", address, ...what, "-n", String(n), "-c", String(c), "-timeout", "5s"], kubeconfig, 60_000);
  if (r.code !== 0) throw new Error(`grpc-load failed (${r.code}):\n${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout) as { calls: Call[]; messages?: Record<string, string> };
  return { calls: out.calls, messages: out.messages ?? {} };
}

const count = (list: readonly Call[], code: number): number => list.filter(([c]) => c === code).length;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** The fault's own counts, as the run printed them at its revert: `[calls 300, faulted 300, …]`. */
function counted(output: string): Record<string, number> {
  const m = /the proxy read [^\n]*\[([^\]]*)\]/.exec(output);
  if (m?.[1] === undefined) throw new Error(`no counts in:\n${output}`);
  return Object.fromEntries(m[1].split(", ").map((kv) => [kv.slice(0, kv.lastIndexOf(" ")), Number(kv.slice(kv.lastIndexOf(" ") + 1))]));
}

async function applied(args: readonly string[]): Promise<Running> {
  const run = startChaosRun(["grpc", ...args, ...asAdmin]);
  await run.waitFor(/in effect in pod grpc-test\/greeter[^\n]*\n/, 60_000);
  return run;
}

beforeAll(async () => {
  await makeNamespace(ns);
  await kubectlOk(["apply", "-n", ns, "-f", join(repoRoot, "test/lab/images/grpc-greeter/deployment.yaml")]);
  await kubectlOk(["run", "tools", "-n", ns, "--image", "chaos-tools"]);
  greeter = await waitFor("the greeter pod", async () => (await kubectlOk(["get", "pods", "-n", ns, "-l", "app=greeter", "-o", "jsonpath={.items[0].metadata.name}"])) || undefined, 30_000);
  const pod = await waitReady(ns, greeter, 60_000);
  await waitReady(ns, "tools", 60_000);
  address = `${pod.status.podIP ?? ""}:50051`;
}, 120_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
});

describe("a grpc fault on the lab's greeter", () => {
  it("answers the status by name, with its message, to its share of the calls (binomial bounds), delays them; the health service passes; Ctrl-C restores the calls at once", async () => {
    const before = await calls(40, 4);
    expect(count(before.calls, 0)).toBe(40);
    const run = await applied([
      "-p",
      greeter,
      "--port",
      "50051",
      "--error-rate",
      "30%",
      "--status",
      "resource_exhausted",
      "--message",
      MESSAGE,
      "--delay",
      "100ms",
      "--jitter",
      "20ms",
      ...REFLECTION,
      "-r",
      "120",
    ]);
    const during = await calls(300, 10);
    const health = await calls(20, 2, { health: true });
    const interruptedAt = performance.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    const revertMs = performance.now() - interruptedAt;
    const after = await calls(40, 4);

    // the share: 300 calls at 30%, within 4.5 standard deviations (a false alarm once in ~150 000 runs)
    const errors = count(during.calls, 8);
    const sd = Math.sqrt(300 * 0.3 * 0.7);
    expect(errors).toBeGreaterThanOrEqual(Math.floor(90 - 4.5 * sd));
    expect(errors).toBeLessThanOrEqual(Math.ceil(90 + 4.5 * sd));
    expect(count(during.calls, 0) + errors).toBe(300);
    expect(during.messages["8"]).toBe(MESSAGE);
    // the delay: every forwarded call waited 100 ± 20 ms on top of its own time
    const ok = during.calls.filter(([c]) => c === 0).map(([, ms]) => ms);
    expect(Math.min(...ok)).toBeGreaterThanOrEqual(79);
    expect(median(ok)).toBeGreaterThanOrEqual(90);
    expect(median(ok)).toBeLessThan(100 + median(before.calls.map(([, ms]) => ms)) + 60);
    // grpc.health.v1.Health untouched: SERVING, and not delayed
    expect(health.calls.every(([c, ms, serving]) => c === 0 && serving === 1 && ms < 79)).toBe(true);
    // reverted at Ctrl-C: 130, and the next calls reach the greeter directly, undelayed
    expect({ code: done.code, revertMs: revertMs < 10_000 }).toEqual({ code: 130, revertMs: true });
    expect(count(after.calls, 0)).toBe(40);
    expect(median(after.calls.map(([, ms]) => ms))).toBeLessThan(60);
    // the proxy's own counts agree with the client's: every SayHello faulted, each error seen
    const proxy = counted(done.stderr);
    expect(proxy).toMatchObject({ faulted: 300, errors });
    expect(proxy["excluded"]).toBeGreaterThanOrEqual(21); // 20 health checks (and the kubelet's), reflection
    console.log(
      `grpc fault: ${errors}/300 RESOURCE_EXHAUSTED, forwarded median ${median(ok).toFixed(1)} ms (before ${median(before.calls.map(([, ms]) => ms)).toFixed(1)} ms), revert ${revertMs.toFixed(0)} ms`,
    );
  }, 90_000);

  it("through its Service's port, by number: an excluded method passes, the health service faulted on demand with a status by number", async () => {
    const run = await applied([
      "--service",
      "greeter",
      "--port",
      "50051",
      "--error-rate",
      "100",
      "--status",
      "3",
      "--exclude",
      "helloworld.Greeter/SayHello",
      ...REFLECTION,
      "--fault-health",
      "-r",
      "120",
    ]);
    const hello = await calls(20, 2);
    const health = await calls(10, 1, { health: true });
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.stderr).toContain("port 50051 (grpc) → targetPort grpc → 50051");
    expect(count(hello.calls, 0)).toBe(20);
    expect(count(health.calls, 3)).toBe(10);
    expect(done.code).toBe(130);
    // its readiness probe may have failed meanwhile: Ready again, with the fault gone
    await waitReady(ns, greeter, 30_000);
  }, 60_000);

  it("the codes at both ends of the range, CANCELLED and UNAUTHENTICATED, reach the client as they are", async () => {
    for (const [status, code] of [
      ["cancelled", 1],
      ["16", 16],
    ] as const) {
      const run = await applied(["-p", greeter, "--port", "50051", "--error-rate", "100", "--status", status, ...REFLECTION, "-r", "120"]);
      const seen = await calls(10, 2);
      run.child.kill("SIGINT");
      expect((await run.done).code).toBe(130);
      expect(count(seen.calls, code)).toBe(10);
    }
  }, 60_000);

  it("a TLS connection to the port passes through untouched, and a fault that faulted nothing is warned about", async () => {
    const run = await applied(["-p", greeter, "--port", "50051", "--delay", "10", "-r", "4"]);
    // a TLS ClientHello: the greeter speaks h2c only, so the handshake fails — at the greeter, not the proxy
    const tls = await kubectl(["exec", "-n", ns, "tools", "--", "curl", "-sk", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}", `https://${address}/`]);
    const done = await run.done;
    expect(tls.code).not.toBe(0);
    expect(done.code).toBe(0);
    expect(counted(done.stderr)).toMatchObject({ faulted: 0, passedThrough: 1 });
    expect(done.stderr).toMatch(/the grpc fault on port 50051 of pod grpc-test\/greeter-[^ ]+ faulted nothing: its [0-9]+ connections? (was|were) not h2c/);
  }, 60_000);
});
