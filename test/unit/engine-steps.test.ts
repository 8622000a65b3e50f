// The engine through a recording Cluster port: what it asks of the cluster, in which order, and
// the exit code each way a run can end gives.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Call } from "./recording-cluster.js";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start, typesOf } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

const FULL = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: engine-test }
target: { namespace: default, selector: { run: web }, mode: all }
agent: { lease: 3s }
probes:
  web:
    ab: { url: "http://{{ target.ip }}/", requests: 20, concurrency: 1 }
steadyState:
  - probe: web
    expect: { failedRequests: 0 }
steps:
  - name: baseline
    probe: web
    save: base
  - name: slow
    fault: { netem: { delay: 100ms } }
    duration: 10s
    during:
      - probe: web
        expect: { failedRequests: 0 }
  - name: settle
    wait: 2s
`;

/** The calls that matter for order, in words (permission checks and pod reads left out). */
function story(calls: readonly Call[]): string[] {
  return calls.flatMap((c): string[] => {
    switch (c.op) {
      case "exec":
        if (c.request === undefined) return [`ab from ${c.pod}`];
        if (c.request.op === "renew") return [];
        return [`${c.request.op} ${c.pod}`];
      case "add-agent":
      case "wait-running":
        return [`${c.op} ${c.pod}/${c.container ?? ""}`];
      case "create-pod":
      case "delete-pod":
        return [`${c.op} ${c.pod}`];
      case "namespace-labels":
        return ["read pod security"];
      default:
        return [];
    }
  });
}

describe("a run, step by step", () => {
  it("checks, measures, adds the agent, applies, holds while renewing, reverts, measures again, cleans up", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(FULL));
    const result = await finish(run);
    expect(result).toMatchObject({ status: "passed", exitCode: 0, unreverted: [], lost: [] });
    expect(story(cluster.calls)).toEqual([
      "read pod security",
      "create-pod chaos-tools-r1",
      "wait-running chaos-tools-r1/tools",
      "ab from chaos-tools-r1", // steady state before
      "add-agent web-a/chaos-agent-r1",
      "wait-running web-a/chaos-agent-r1",
      "ab from chaos-tools-r1", // baseline
      "apply web-a",
      "ab from chaos-tools-r1", // during the fault
      "revert web-a",
      "ab from chaos-tools-r1", // steady state after
      "delete-pod chaos-tools-r1",
    ]);
    expect(typesOf(run.events).filter((t) => !t.startsWith("probe") && t !== "expect:result" && t !== "preflight")).toEqual([
      "run:start",
      "tools:ready",
      "agent:injecting",
      "agent:ready",
      "step:start",
      "step:end",
      "step:start",
      "fault:applied",
      "fault:holding",
      "fault:reverted",
      "step:end",
      "step:start",
      "step:end",
      "run:end",
    ]);
  });

  it("asks for the agent container and the tools pod explicitly: pull policy, user, capabilities, env, a name of the run's own", async () => {
    const cluster = new RecordingCluster([pod("web-a", { security: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true } })]);
    await finish(start(cluster, scenarioOf(FULL)));
    expect(cluster.calls.find((c) => c.op === "add-agent")?.spec).toEqual({
      name: "chaos-agent-r1",
      image: "docker.io/library/chaos-agent:latest",
      pullPolicy: "IfNotPresent",
      args: ["serve", "--ttl", "600s"],
      env: { CHAOS_AGENT_NAME: "chaos-agent-r1", CHAOS_RUN_ID: "r1", CHAOS_AGENT_REQUESTS: "stdin" },
      // netem needs NET_ADMIN alone; every other capability dropped, no escalation, the runtime's seccomp profile
      securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: ["NET_ADMIN"], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" },
      // a stdin, for the line the runner holds to it (agent-line.ts)
      stdin: true,
    });
    // a bounded life: 12 s of timeline, 4 ab runs of at most 20 × 10 s, 2 injections of at most 120 s, 5 min margin
    const life = 12 + 4 * 200 + 2 * 120 + 300;
    expect(cluster.calls.find((c) => c.op === "create-pod")?.spec).toEqual({
      name: "chaos-tools-r1",
      image: "docker.io/library/chaos-tools:latest",
      pullPolicy: "IfNotPresent",
      labels: { "app.kubernetes.io/name": "chaos-tools", "app.kubernetes.io/managed-by": "chaos-run", "chaos-run.dev/run": "r1" },
      annotations: { "chaos-run.dev/expires": new Date(Date.parse("2026-12-01T10:00:00.000Z") + life * 1000).toISOString() },
      command: ["sleep", String(life)],
      activeDeadlineSeconds: life,
      securityContext: { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, capabilities: [], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" },
    });
  });

  it("sends the plan's exact requests, and renews the lease every third of it until the step ends", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    await finish(run);
    const step = run.plan.steps[0];
    if (step?.kind !== "fault" || step.fault.delivery !== "agent") throw new Error("a fault step of the agent");
    const reqs = cluster.requests();
    expect(reqs[0]?.request).toEqual(step.fault.apply);
    expect(reqs.at(-1)?.request).toEqual(step.fault.revert);
    const applied = reqs[0]?.at ?? 0;
    const renewals = reqs.filter((r) => r.request.op === "renew");
    expect(renewals.map((r) => r.at - applied)).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    expect(renewals[0]?.request).toEqual({ protocol: 1, op: "renew", runId: "r1", faultId: "r1-s1", leaseMs: 3000 });
  });
});

describe("a run, step by step: what the agents answer", () => {
  it("records the commands each reply lists and the families the agent chose", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    await finish(run);
    const applied = run.events.find((e) => e.type === "fault:applied");
    expect(applied).toMatchObject({
      iface: "eth0",
      families: [4, 6],
      detail: "netem c000: on eth0",
      commands: [{ argv: ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"], exitCode: 0 }],
    });
    const reverted = run.events.find((e) => e.type === "fault:reverted");
    expect(reverted).toMatchObject({ confirmed: true, attempts: 1, commands: [{ argv: ["tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"] }] });
  });

  it("orphans an agent reports (what dead agents left, reverted while applying) become warnings", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req, _w, agent) =>
      req.op === "apply"
        ? {
            kind: "reply",
            reply: {
              ...agent.answer(req, Date.now()),
              orphans: [
                { faultId: "zz9-s1", agent: "chaos-agent-zz9", runId: "zz9", confirmed: true, reason: "orphan", detail: "IPv4 filter chain CHAOS-zz9-s1 (nft), held by no live agent: removed" },
                // a qdisc carries no fault id in the kernel: the agent's words name it
                { faultId: "", confirmed: true, reason: "orphan", detail: "qdisc c000: (netem) at the root of eth0, held by no live agent: deleted" },
              ],
            },
          }
        : undefined;
    const run = start(cluster, scenarioOf(ONE_FAULT));
    await finish(run);
    expect(run.events.filter((e) => e.type === "warning").map((e) => e.type === "warning" && e.message)).toEqual([
      "pod default/web-a: the agent found fault zz9-s1, left by an agent that is gone, and reverted it: IPv4 filter chain CHAOS-zz9-s1 (nft), held by no live agent: removed",
      "pod default/web-a: the agent found qdisc c000: (netem) at the root of eth0, left by an agent that is gone, and reverted it: qdisc c000: (netem) at the root of eth0, held by no live agent: deleted",
    ]);
  });

  it("reuses a running agent of the image that has the capabilities and enough TTL left (asked with status)", async () => {
    const old = {
      name: "chaos-agent-old",
      image: "docker.io/library/chaos-agent:latest",
      state: "running" as const,
      reason: undefined,
      message: undefined,
      exitCode: undefined,
      runId: "old",
      capabilities: ["NET_ADMIN", "NET_RAW"],
    };
    const cluster = new RecordingCluster([pod("web-a", { ephemeralContainers: [old] })]);
    const { SimAgent } = await import("./recording-cluster.js");
    cluster.agents.set("web-a/chaos-agent-old", new SimAgent("chaos-agent-old", "old", 400_000));
    const run = start(cluster, scenarioOf(ONE_FAULT));
    expect((await finish(run)).exitCode).toBe(0);
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
    expect(cluster.requests().map((r) => r.request.op)[0]).toBe("status");
    expect(run.events.find((e) => e.type === "agent:ready")).toMatchObject({ container: "chaos-agent-old", reused: true });

    // too little TTL left: a new agent, and the reason
    const short = new RecordingCluster([pod("web-a", { ephemeralContainers: [old] })]);
    short.agents.set("web-a/chaos-agent-old", new SimAgent("chaos-agent-old", "old", 30_000));
    const again = start(short, scenarioOf(ONE_FAULT));
    await finish(again);
    expect(short.calls.find((c) => c.op === "add-agent")?.container).toBe("chaos-agent-r1");
    expect(again.events).toContainEqual(expect.objectContaining({ type: "warning", message: "pod default/web-a: not reusing agent chaos-agent-old has 30s of its TTL left, the run needs 70s" }));
  });
});

describe("exit codes", () => {
  it("1: an expectation did not hold (the system deviated)", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(FULL.replace("        expect: { failedRequests: 0 }", "        expect: { latency.mean: { above: 10s } }")));
    const result = await finish(run);
    expect(result).toMatchObject({ status: "failed", exitCode: 1, message: "1 expectation did not hold" });
    expect(cluster.requests((r) => r.op === "revert")).toHaveLength(1);
  });

  it("3: the agent refuses to apply; what it said is the message, the ledger still reverts", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req, _w, agent) =>
      req.op === "apply"
        ? {
            kind: "reply",
            reply: {
              ...agent.answer({ protocol: 1, op: "status", runId: "r1" }, Date.now()),
              op: "apply",
              ok: false,
              error: { code: "unrestorable", message: "eth0 has an htb tree the agent cannot restore exactly" },
            },
          }
        : undefined;
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe("step 1 (slow): the agent in pod default/web-a could not apply netem delay 100ms; all traffic: unrestorable: eth0 has an htb tree the agent cannot restore exactly");
    expect(result.hint).toContain("refused rather than replace it");
    expect(cluster.requests().map((r) => r.request.op)).toEqual(["apply", "revert"]);
  });

  it("4: an agent of another protocol (the seed's sh agent) cannot confirm a revert either; the message names it, with --agent-image", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = () => ({ kind: "raw", exitCode: 2, stdout: "", stderr: "chaos-agent: usage: chaos-agent serve|apply|revert|renew|run|status|iface|selftest\n" });
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(4);
    expect(result.message).toContain(
      "\nthe run had stopped: the agent chaos-agent-r1 in pod default/web-a does not speak chaos-run's agent protocol v1: the agent printed no reply (exit 2: chaos-agent: usage: chaos-agent serve|apply|revert|renew|run|status|iface|selftest)",
    );
    expect(result.hint).toMatch(/pass --agent-image IMAGE; then chaos-run sweep -n default/);
    // one revert attempt: retrying cannot make it speak the protocol
    expect(cluster.requests().map((r) => r.request.op)).toEqual(["apply", "revert"]);
  });

  it("3: Pod Security refuses the agent: nothing is touched, and the message says what each level allows", async () => {
    const cluster = new RecordingCluster([pod("web-a", { security: { runAsUser: 1000, runAsGroup: undefined, runAsNonRoot: true } })]);
    cluster.labels = { "pod-security.kubernetes.io/enforce": "restricted" };
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe(
      `namespace default enforces Pod Security "restricted", which refuses a container this run adds (nothing was touched):
  the pod's agent (step 1 (slow): netem): runAsUser 0, runAsNonRoot false, capabilities drop ALL add NET_ADMIN, allowPrivilegeEscalation false, seccomp RuntimeDefault — "restricted" refuses it: it adds NET_ADMIN; runs as root (runAsUser 0); "privileged" admits it`,
    );
    expect(result.hint).toContain("kubectl label namespace default pod-security.kubernetes.io/enforce=privileged --overwrite");
    expect(cluster.calls.filter((c) => c.op === "add-agent" || c.op === "exec" || c.op === "create-pod")).toEqual([]);
    expect(run.events.find((e) => e.type === "preflight" && e.check === "pod-security")).toMatchObject({
      ok: false,
      detail:
        "namespace default enforces restricted; pod web-a sets runAsUser 1000 (capabilities would not be effective) and runAsNonRoot: true (a root agent would not start) at pod level; each added container's own securityContext overrides it for that container alone",
    });
  });

  it("130 and 143: interrupted while holding, after reverting", async () => {
    for (const [signal, code] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const) {
      const cluster = new RecordingCluster([pod("web-a")]);
      const run = start(cluster, scenarioOf(ONE_FAULT));
      await vi.advanceTimersByTimeAsync(4000);
      run.interrupt(signal);
      const result = await finish(run);
      expect(result).toMatchObject({ status: "interrupted", exitCode: code, message: `interrupted by ${signal}` });
      expect(cluster.requests((r) => r.op === "revert")).toHaveLength(1);
    }
  });
});
