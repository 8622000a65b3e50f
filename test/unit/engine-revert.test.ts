// Reverts: retried with backoff after a dropped stream, within a deadline, then exit 4 with a way
// to clean up that works even when the agent is dead; a terminating pod is still reverted while
// its agent runs; only a pod that is gone counts as "went with its network namespace".
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start, until } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

describe("revert retries", () => {
  it("a dropped stream is retried with backoff; the third attempt confirms: exit 0", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    let reverts = 0;
    cluster.script = (req) => (req.op === "revert" && ++reverts <= 2 ? { kind: "drop", error: "error reading from websocket: connection reset by peer" } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(result).toMatchObject({ exitCode: 0, unreverted: [] });
    const attempts = cluster.requests((r) => r.op === "revert").map((r) => r.at);
    expect(attempts.map((t) => t - (attempts[0] ?? 0))).toEqual([0, 250, 750]);
    expect(run.events.filter((e) => e.type === "fault:revert-retry")).toEqual([
      expect.objectContaining({ attempt: 1, retryInMs: 250, detail: "error reading from websocket: connection reset by peer" }),
      expect.objectContaining({ attempt: 2, retryInMs: 500 }),
    ]);
    expect(run.events.find((e) => e.type === "fault:reverted")).toMatchObject({ confirmed: true, attempts: 3 });
  });

  it("an agent that answers 'revert-incomplete' is asked again, and what remains is said", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req, _w, agent) =>
      req.op === "revert"
        ? {
            kind: "reply",
            reply: {
              ...agent.answer({ protocol: 1, op: "status", runId: "r1" }, Date.now()),
              op: "revert",
              ok: false,
              error: { code: "revert-incomplete", message: "RTNETLINK answers: Device or resource busy" },
              reverted: [{ faultId: req.faultId, confirmed: false, detail: "qdisc still there", remaining: [{ type: "qdisc", name: "c000:" }] }],
            },
          }
        : undefined;
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(4);
    expect(result.unreverted[0]?.detail).toBe("revert-incomplete: RTNETLINK answers: Device or resource busy; qdisc still there; remaining: qdisc c000:");
    // at 0, .25, .75, 1.75, 3.75, 7.75, 11.75, 15.75, 19.75, 23.75, 27.75 s: then the 30 s deadline
    expect(cluster.requests((r) => r.op === "revert").length).toBe(11);
  });
});

describe("exit 4: retries exhausted", () => {
  it("the agent still runs: the message names the pod and the exact request to send by hand; the hint is sweep", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req) => (req.op === "revert" ? { kind: "drop", error: "the exec stream closed without a status" } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    const result = await finish(run);
    expect(result.exitCode).toBe(4);
    expect(result.message).toBe(
      "1 fault could not be confirmed reverted; a fault may remain:\n" +
        "  pod default/web-a (interface eth0): fault r1-s1: the exec stream closed without a status\n" +
        `    its agent chaos-agent-r1 still runs: kubectl exec -n default web-a -c chaos-agent-r1 -- chaos-agent revert r1-s1`,
    );
    expect(result.hint).toBe(
      "chaos-run sweep -n default reverts what the agents hold there, and adds a fresh agent to a pod whose agent died; a running agent also reverts by itself when its lease lapses",
    );
    const attempts = cluster.requests((r) => r.op === "revert");
    expect(attempts.length).toBeGreaterThan(5);
    // all within the revert deadline
    expect((attempts.at(-1)?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeLessThan(30_000);
  });

  it("the agent died and no fresh agent can be added: no kubectl exec to a dead container, sweep is the way; no pointless retries", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.script = (req, where) => {
      if (req.op !== "revert") return undefined;
      cluster.agentDies(where.pod, where.container);
      return { kind: "drop", error: 'container not found ("chaos-agent-r1")' };
    };
    // the API refuses the fresh agent (a quota, an admission webhook…)
    const add = cluster.addEphemeralContainer.bind(cluster);
    cluster.addEphemeralContainer = async (ns, name, spec) => {
      if (spec.name !== "chaos-agent-r1") throw new Error("admission webhook denied the request");
      return add(ns, name, spec);
    };
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(4);
    expect(result.message).toContain("its agent chaos-agent-r1 died (OOMKilled, exit 137) at 10:00:10; no fresh agent could be added to revert what it held: admission webhook denied the request");
    expect(result.message).toContain("    its agent chaos-agent-r1 is gone: chaos-run sweep -n default adds a fresh agent that reverts what it left");
    expect(result.message).not.toContain("kubectl exec");
    expect(cluster.requests((r) => r.op === "revert")).toHaveLength(1);
  });
});

describe("pods that go away", () => {
  it("a terminating pod whose agent still runs is still reverted (its network lives on through the grace period)", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    cluster.podGoes("web-b", "terminating");
    const result = await finish(run);
    expect(cluster.podsAsked("revert")).toEqual(["web-a", "web-b"]);
    expect(run.events.filter((e) => e.type === "fault:reverted").map((e) => e.type === "fault:reverted" && [e.pod.name, e.confirmed, e.detail])).toContainEqual(["web-b", true, ""]);
    expect(result.exitCode).toBe(3);
    expect(result.message).toBe("target pod default/web-b went away during step 1 (slow); the other pods were reverted");
  });

  it("a deleted pod took the fault with its network namespace: confirmed without asking, exit 3 not 4", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    cluster.podGoes("web-b", "deleted");
    const result = await finish(run);
    expect(cluster.requests((r) => r.op === "revert").map((r) => r.pod)).toEqual(["web-a"]);
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: "fault:reverted", pod: { namespace: "default", name: "web-b" }, confirmed: true, detail: "pod deleted: the fault went with its network namespace" }),
    );
    expect(result).toMatchObject({ exitCode: 3, unreverted: [] });
  });

  it("a terminating pod whose agent has exited (SIGTERM: it reverts on exit) counts as reverted", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const run = start(cluster, scenarioOf(ONE_FAULT));
    await until(() => run.events.some((e) => e.type === "fault:holding"));
    cluster.podGoes("web-a", "terminating");
    cluster.setContainer("web-a", "chaos-agent-r1", { state: "terminated", reason: "Completed", exitCode: 0 });
    cluster.script = (req) => (req.op === "revert" ? { kind: "drop", error: "container not running" } : undefined);
    const result = await finish(run);
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: "fault:reverted", confirmed: true, detail: expect.stringContaining("pod terminating and its agent container has exited") as unknown as string }),
    );
    expect(result).toMatchObject({ exitCode: 3, unreverted: [] });
  });
});
