// The line the runner holds to each agent it added (agent-line.ts): applies, renewals and reverts go as
// lines on the agent's stdin instead of an exec each, and by exec wherever the line cannot carry
// them — never opened, silent, closed, or answering what is no reply.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Call } from "./recording-cluster.js";
import { RecordingCluster, pod } from "./recording-cluster.js";
import { ONE_FAULT, fakeClock, finish, scenarioOf, start } from "./engine-harness.js";

beforeEach(fakeClock);
afterEach(() => vi.useRealTimers());

/** How each agent's faults ended: "requested" (reverted by the runner) or "lease-lapsed". */
function endings(cluster: RecordingCluster): string[] {
  return [...cluster.agents.values()].flatMap((a) => [...a.ended.values()]);
}

/** The agent requests of `op`, by how they went. */
function sent(calls: readonly Call[], op: string): { exec: number; line: number } {
  const of = (how: Call["op"]): number => calls.filter((c) => c.op === how && c.request?.op === op).length;
  return { exec: of("exec"), line: of("line") };
}

describe("the line to an agent", () => {
  it("carries a fault's apply, every renewal and its revert, on one attach per agent: no exec for them", async () => {
    const cluster = new RecordingCluster([pod("web-a"), pod("web-b")]);
    cluster.attachable = "lines";
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(0);
    expect(cluster.calls.filter((c) => c.op === "attach").map((c) => c.pod)).toEqual(["web-a", "web-b"]);
    // the apply, then a 10 s step under a 3 s lease: a renewal every second in each pod
    expect(sent(cluster.calls, "apply")).toEqual({ exec: 0, line: 2 });
    expect(sent(cluster.calls, "renew")).toEqual({ exec: 0, line: 18 });
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 0, line: 2 });
    expect(endings(cluster)).toEqual(["requested", "requested"]);
    // the lines end with the run
    expect(cluster.openLines).toBe(0);
  });

  it("a fault that travels with its agent: its confirmation, renewals and revert go on the line too", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.attachable = "lines";
    const run = start(cluster, scenarioOf(ONE_FAULT), { firstFaultWithAgent: true });
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(run.events.find((e) => e.type === "fault:applied")).toMatchObject({ withAgent: true });
    expect(sent(cluster.calls, "apply")).toEqual({ exec: 0, line: 0 });
    expect(sent(cluster.calls, "renew").exec).toBe(0);
    expect(sent(cluster.calls, "renew").line).toBeGreaterThanOrEqual(9);
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 0, line: 1 });
    expect(endings(cluster)).toEqual(["requested"]);
  });

  it("a line that stays silent: each request sent on it is asked by exec as well once a sixth of its time has passed, and the line is not used again", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.attachable = "lines";
    cluster.script = (_req, where) => (where.via === "line" ? { kind: "hang" } : undefined);
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(0);
    expect(cluster.calls.filter((c) => c.op === "attach")).toHaveLength(1);
    // the apply on the line, then by exec too 3 s on (a sixth of its time, 3 s at most), which
    // answered; the line, still silent 3 s later, was given up: the two renewals sent on it
    // meanwhile went by exec too, every later one and the revert by exec alone
    const lineApply = cluster.calls.find((c) => c.op === "line" && c.request?.op === "apply");
    const execApply = cluster.calls.find((c) => c.op === "exec" && c.request?.op === "apply");
    expect((execApply?.at ?? 0) - (lineApply?.at ?? 0)).toBe(3000);
    expect(sent(cluster.calls, "renew")).toEqual({ exec: 9, line: 2 });
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 1, line: 0 });
    expect(endings(cluster)).toEqual(["requested"]);
  });

  it("an agent slow to answer on the line: the revert is asked by exec too, the first reply is the answer, and the fault is reverted once", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.attachable = "lines";
    // the revert reaches the agent by the line 20 s on (behind another agent's lock, say)
    cluster.script = (req, where) => (where.via === "line" && req.op === "revert" ? { kind: "slow", afterMs: 20_000 } : undefined);
    const run = start(cluster, scenarioOf(ONE_FAULT.replace("lease: 3s", "lease: 30s")));
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 1, line: 1 });
    const lineRevert = cluster.calls.find((c) => c.op === "line" && c.request?.op === "revert");
    const execRevert = cluster.calls.find((c) => c.op === "exec" && c.request?.op === "revert");
    // a sixth of the revert's time, 3 s at most
    expect((execRevert?.at ?? 0) - (lineRevert?.at ?? 0)).toBe(3000);
    expect(run.events.find((e) => e.type === "fault:reverted")).toMatchObject({ confirmed: true });
    expect(endings(cluster)).toEqual(["requested"]);
  });

  it("an exec that fails while the line is slow: the line's reply is still waited for, and is the answer", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.attachable = "lines";
    // the revert answered on the line 4 s on; its copy by exec, sent at 3 s, fails at once
    cluster.script = (req, where) => (req.op !== "revert" ? undefined : where.via === "line" ? { kind: "slow", afterMs: 4000 } : { kind: "drop", error: "the API server said 503" });
    const run = start(cluster, scenarioOf(ONE_FAULT.replace("lease: 3s", "lease: 30s")));
    const result = await finish(run);
    expect(result.exitCode, result.message).toBe(0);
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 1, line: 1 });
    expect(run.events.find((e) => e.type === "fault:reverted")).toMatchObject({ confirmed: true });
    expect(endings(cluster)).toEqual(["requested"]);
  });

  it("an attach slow to open: the requests that come meanwhile go by exec, and later ones on the line once it is open", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.attachable = "lines";
    cluster.attachDelayMs = 4000;
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(0);
    expect(cluster.calls.filter((c) => c.op === "attach")).toHaveLength(1);
    // opened as its agent ran: the apply waited 3 s for it (a sixth of its time, 3 s at most) and went by exec; the renewals from 4 s on, on the line
    expect(sent(cluster.calls, "apply")).toEqual({ exec: 1, line: 0 });
    const renewals = sent(cluster.calls, "renew");
    expect(renewals.exec).toBe(0);
    expect(renewals.line).toBe(9);
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 0, line: 1 });
    expect(endings(cluster)).toEqual(["requested"]);
  });

  it("an attach refused (forbidden, an agent without a stdin) is tried once per agent: its requests go by exec", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
    expect(result.exitCode).toBe(0);
    expect(cluster.calls.filter((c) => c.op === "attach")).toHaveLength(1);
    expect(sent(cluster.calls, "renew")).toEqual({ exec: 9, line: 0 });
    expect(sent(cluster.calls, "revert")).toEqual({ exec: 1, line: 0 });
  });

  it("a line that closes, or answers with what is no reply, is not used again", async () => {
    for (const broken of [
      { kind: "drop", error: "the stream closed" },
      { kind: "raw", stdout: "not a reply", stderr: "", exitCode: 0 },
    ] as const) {
      const cluster = new RecordingCluster([pod("web-a")]);
      cluster.attachable = "lines";
      let renewals = 0;
      cluster.script = (req, where) => (where.via === "line" && req.op === "renew" && ++renewals === 3 ? broken : undefined);
      const result = await finish(start(cluster, scenarioOf(ONE_FAULT)));
      expect(result.exitCode, broken.kind).toBe(0);
      // two renewals on the line, the third asked there and again by exec, then exec only
      expect(sent(cluster.calls, "renew"), broken.kind).toEqual({ exec: 7, line: 3 });
      expect(sent(cluster.calls, "revert"), broken.kind).toEqual({ exec: 1, line: 0 });
      expect(endings(cluster), broken.kind).toEqual(["requested"]);
    }
  });
});
