// Sweep through a recording Cluster port: running agents revert what they hold and the orphans
// they see; a pod whose agent died (and has none running) gets a fresh agent that reverts only
// the orphans; a dry run changes nothing.
import { describe, expect, it } from "vitest";
import { sweepPods, sweepToolsPods, type SweepOptions } from "../../src/engine/sweep.js";
import type { ContainerInfo, PodInfo } from "../../src/kube/types.js";
import { RecordingCluster, SimAgent, pod } from "./recording-cluster.js";

const options: SweepOptions = {
  runId: "sw1",
  agentImage: undefined,
  pullPolicy: "IfNotPresent",
  ttlMs: 120_000,
  injectTimeoutMs: 1000,
  execTimeoutMs: 1000,
  concurrency: 4,
  dryRun: false,
  signal: new AbortController().signal,
};

const agent = (name: string, fields: Partial<ContainerInfo> = {}): ContainerInfo => ({
  name,
  image: "chaos-agent:1.2",
  state: "running",
  reason: undefined,
  message: undefined,
  exitCode: undefined,
  runId: "r9",
  capabilities: ["NET_ADMIN", "NET_RAW"],
  ...fields,
});

async function sweep(cluster: RecordingCluster, o: Partial<SweepOptions> = {}): Promise<{ lines: string[]; failed: number; agents: number }> {
  const lines: string[] = [];
  const report = await sweepPods(cluster, [...cluster.pods.values()], { ...options, ...o }, (l) => lines.push(l));
  return { lines: lines.sort(), ...report };
}

describe("sweep", () => {
  it("asks each running agent to revert what it holds and the orphans it sees (own: true)", async () => {
    const cluster = new RecordingCluster([pod("web-a", { ephemeralContainers: [agent("chaos-agent-r9")] }), pod("web-b")]);
    const sim = new SimAgent("chaos-agent-r9", "r9", 100_000);
    sim.held.set("r9-s2", { leaseEnd: Date.now() + 60_000, iface: "eth0", kind: "netem" });
    cluster.agents.set("web-a/chaos-agent-r9", sim);
    const r = await sweep(cluster);
    expect(cluster.requests().map((x) => [x.pod, x.request])).toEqual([["web-a", { protocol: 1, op: "sweep", runId: "sw1", own: true }]]);
    expect(r).toEqual({ lines: ["default/web-a chaos-agent-r9: reverted 1 fault: r9-s2"], failed: 0, agents: 1 });
    expect((await sweep(cluster)).lines).toEqual(["default/web-a chaos-agent-r9: held nothing, saw no orphans"]);
  });

  it("a pod whose agent died (OOMKilled) and has none running: a fresh agent reverts the orphans only (own: false), and says so", async () => {
    const dead = agent("chaos-agent-r9", { state: "terminated", reason: "OOMKilled", exitCode: 137 });
    const clean = agent("chaos-agent-r7", { state: "terminated", reason: "Completed", exitCode: 0 });
    const cluster = new RecordingCluster([pod("web-a", { ephemeralContainers: [clean, dead] }), pod("web-b", { ephemeralContainers: [clean] })]);
    cluster.script = (req, _w, a) =>
      req.op === "sweep"
        ? {
            kind: "reply",
            reply: { ...a.answer(req, Date.now()), orphans: [{ faultId: "r9-s2", agent: "chaos-agent-r9", runId: "r9", confirmed: true, reason: "orphan", detail: "netem c000: on eth0 removed" }] },
          }
        : undefined;
    const r = await sweep(cluster);
    // web-b's only agent ended cleanly (it reverted everything on its way out): nothing to do there
    expect(cluster.calls.filter((c) => c.op === "add-agent").map((c) => [c.pod, c.spec])).toEqual([
      [
        "web-a",
        {
          name: "chaos-agent-sw1",
          image: "chaos-agent:1.2",
          pullPolicy: "IfNotPresent",
          args: ["serve", "--ttl", "120s"],
          env: { CHAOS_AGENT_NAME: "chaos-agent-sw1", CHAOS_RUN_ID: "sw1" },
          securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" },
        },
      ],
    ]);
    expect(cluster.requests().map((x) => [x.pod, x.request])).toEqual([["web-a", { protocol: 1, op: "sweep", runId: "sw1", own: false }]]);
    expect(r).toEqual({
      lines: ["default/web-a: its agent chaos-agent-r9 (OOMKilled, exit 137) died; added chaos-agent-sw1 to revert what it left: reverted what dead agents left (1 object): fault r9-s2"],
      failed: 0,
      agents: 1,
    });
  });

  it("--dry-run lists what agents hold and where one died; it adds nothing and reverts nothing", async () => {
    const cluster = new RecordingCluster([
      pod("web-a", { ephemeralContainers: [agent("chaos-agent-r9")] }),
      pod("web-b", { ephemeralContainers: [agent("chaos-agent-r8", { state: "terminated", reason: "Error", exitCode: 2 })] }),
    ]);
    cluster.script = (req, _w, a) =>
      req.op === "status"
        ? {
            kind: "reply",
            reply: {
              ...a.answer(req, Date.now()),
              faults: [{ id: "r9-s1", runId: "r9", kind: "partition", interface: "eth0", families: [4, 6], objects: [], leaseLeftMs: 12_000, detail: "chain CHAOS-r9-s1" }],
            },
          }
        : undefined;
    const r = await sweep(cluster, { dryRun: true });
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
    expect(cluster.requests().map((x) => x.request.op)).toEqual(["status"]);
    expect(r.lines).toEqual([
      "default/web-a chaos-agent-r9: holds r9-s1 (partition on eth0, IPv4+IPv6, lease 12s left: chain CHAOS-r9-s1)",
      "default/web-b: its agent chaos-agent-r8 (Error, exit 2) died and none runs: would add a fresh agent (chaos-agent:1.2) to revert what it left",
    ]);
  });

  it("a revert an agent cannot confirm is counted (exit 4 in the CLI)", async () => {
    const cluster = new RecordingCluster([pod("web-a", { ephemeralContainers: [agent("chaos-agent-r9")] })]);
    cluster.script = (req, _w, a) =>
      req.op === "sweep"
        ? {
            kind: "reply",
            reply: {
              ...a.answer(req, Date.now()),
              ok: false,
              error: { code: "revert-incomplete", message: "iptables: Resource temporarily unavailable" },
              reverted: [{ faultId: "r9-s1", confirmed: false, detail: "chain busy" }],
            },
          }
        : undefined;
    cluster.agents.set("web-a/chaos-agent-r9", new SimAgent("chaos-agent-r9", "r9", 100_000));
    const r = await sweep(cluster);
    expect(r.failed).toBe(1);
    expect(r.lines).toEqual([
      "default/web-a chaos-agent-r9: tried to revert 1 fault: r9-s1 NOT CONFIRMED: chain busy; REVERT NOT CONFIRMED: revert-incomplete: iptables: Resource temporarily unavailable",
    ]);
  });

  it("removes the tools pods of runs that are gone — ended, past their time, or made to live for ever — and leaves a live run's, saying until when", async () => {
    const now = Date.parse("2026-12-01T10:00:00.000Z");
    const tools = (name: string, fields: Partial<PodInfo>): PodInfo =>
      pod(name, { labels: { "app.kubernetes.io/name": "chaos-tools", "app.kubernetes.io/managed-by": "chaos-run", "chaos-run.dev/run": name.slice(12) }, ...fields });
    const expires = (ms: number) => ({ "chaos-run.dev/expires": new Date(now + ms).toISOString() });
    const cluster = new RecordingCluster([
      tools("chaos-tools-ended", { phase: "Failed", annotations: expires(60_000) }),
      tools("chaos-tools-late", { annotations: expires(-1000) }),
      tools("chaos-tools-old", { annotations: {} }),
      tools("chaos-tools-live", { annotations: expires(600_000) }),
      pod("web-a"),
    ]);
    const lines: string[] = [];
    const dry = await sweepToolsPods(cluster, "default", { dryRun: true }, now, (l) => lines.push(l));
    expect(dry).toEqual({ removed: 3, kept: 1, failed: 0 });
    expect(cluster.calls.filter((c) => c.op === "delete-pod")).toEqual([]);
    lines.length = 0;
    expect(await sweepToolsPods(cluster, "default", { dryRun: false }, now, (l) => lines.push(l))).toEqual({ removed: 3, kept: 1, failed: 0 });
    expect(cluster.calls.filter((c) => c.op === "delete-pod").map((c) => c.pod)).toEqual(["chaos-tools-ended", "chaos-tools-late", "chaos-tools-old"]);
    expect(lines).toEqual([
      "default/chaos-tools-ended (tools pod of run ended): it ended (Failed): removed",
      "default/chaos-tools-late (tools pod of run late): its time ran out at 2026-12-01T09:59:59.000Z: removed",
      "default/chaos-tools-old (tools pod of run old): it has no expiry: an older chaos-run made it to live for ever (sleep infinity): removed",
      "default/chaos-tools-live (tools pod of run live): its run may still be going; left (it ends by itself at 2026-12-01T10:10:00.000Z; kubectl delete pod -n default chaos-tools-live removes it now)",
    ]);
    expect([...cluster.pods.keys()].sort()).toEqual(["chaos-tools-live", "web-a"]);
  });
});
