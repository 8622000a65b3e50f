// kill, podDelete and stress in the pure rooms: the scenario language (defaults, what each
// fault measures), the requests to the agent, the plan (who delivers each fault, with which
// capabilities, and the honest notes), quantities, the preflight's Pod Security verdicts, and
// the seed verbs' usage errors.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../../src/cli/cli.js";
import type { CliIO } from "../../src/cli/io.js";
import { signalFlag } from "../../src/cli/flags.js";
import { admits, capabilitiesFor, deliveryOf, enforcedLevel, faultSpec, killCapabilities, killSpec, levelOf, nonRootSecurity, refusals, rootSecurity } from "../../src/faults/index.js";
import { cpuMilli, memoryBytes, parseQuantity, podLimit } from "../../src/kube/quantity.js";
import { formatPlan, planToJson } from "../../src/plan/format.js";
import { planOffline, planRun } from "../../src/plan/plan.js";
import type { ContainerInfo } from "../../src/kube/types.js";
import type { FaultStep } from "../../src/scenario/types.js";
import { fakeClock, finish, scenarioOf, start } from "./engine-harness.js";
import { RecordingCluster, pod } from "./recording-cluster.js";

const ROADMAP = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: roadmap }
target: { namespace: shop, selector: { app: web }, mode: all }
steps:
  - name: burn
    fault: { stress: { cpu: { workers: 2, allowBeyondLimit: true }, memory: { size: 64Mi, allowBeyondLimit: true } } }
    duration: 20s
  - name: kill
    fault: { kill: {} }
    duration: 30s
    expect: { restarts: 1 }
  - name: delete
    fault: { podDelete: {} }
    duration: 60s
`;

const faultOf = (yaml: string, i: number): FaultStep => {
  const step = scenarioOf(yaml).steps[i];
  if (step?.kind !== "fault") throw new Error("a fault step");
  return step;
};

describe("the scenario language", () => {
  it("fills in the defaults: SIGKILL, 100% per worker, the pod's own grace period", () => {
    expect(faultOf(ROADMAP, 0).fault).toEqual({ kind: "stress", cpu: { workers: 2, load: 100, allowBeyondLimit: true }, memory: { bytes: 64 * 1024 ** 2, text: "64Mi", allowBeyondLimit: true } });
    expect(faultOf(ROADMAP, 1).fault).toEqual({ kind: "kill", container: undefined, signal: "SIGKILL" });
    expect(faultOf(ROADMAP, 1).expect?.map((e) => e.metric)).toEqual(["restarts"]);
    expect(faultOf(ROADMAP, 2).fault).toEqual({ kind: "podDelete", gracePeriodMs: undefined });
  });
});

describe("requests to the agent", () => {
  it("stress and kill are data; podDelete never reaches an agent", () => {
    expect(faultSpec(faultOf(ROADMAP, 0).fault)).toEqual({ kind: "stress", cpu: { workers: 2, load: 100 }, memory: { bytes: 67108864 } });
    expect(killSpec({ kind: "kill", container: undefined, signal: "SIGTERM" }, "web", "ab12".repeat(16))).toEqual({
      kind: "kill",
      signal: "SIGTERM",
      container: "web",
      containerId: "ab12".repeat(16),
    });
    expect(() => faultSpec(faultOf(ROADMAP, 2).fault)).toThrow(/through the API/);
  });

  it("asks for exactly what each fault needs: nothing for stress; for a kill, SYS_PTRACE (ptrace) or KILL (kill(2)), never both", () => {
    expect(capabilitiesFor(faultOf(ROADMAP, 0).fault)).toEqual([]);
    expect(capabilitiesFor(faultOf(ROADMAP, 1).fault)).toEqual(["SYS_PTRACE"]);
    // SIGKILL to an init goes through ptrace; to a process of a shared PID namespace, or any signal an init handles, by kill(2)
    expect(killCapabilities("SIGKILL", true)).toEqual(["SYS_PTRACE"]);
    expect(killCapabilities("SIGKILL", false)).toEqual(["KILL"]);
    expect(killCapabilities("SIGTERM", true)).toEqual(["KILL"]);
    expect(capabilitiesFor(faultOf(ROADMAP, 2).fault)).toEqual([]);
    expect([0, 1, 2].map((i) => deliveryOf(faultOf(ROADMAP, i).fault))).toEqual(["stress-agent", "kill-agent", "api"]);
  });
});

describe("the plan", () => {
  const plan = planRun(
    scenarioOf(ROADMAP),
    [
      { name: "web-0", controller: { kind: "ReplicaSet", name: "web-5d9" }, containers: ["web", "sidecar"], limits: { cpuMilli: 500, memoryBytes: 128 * 1024 ** 2 } },
      { name: "solo", controller: null, containers: ["web"], limits: { cpuMilli: undefined, memoryBytes: undefined } },
    ],
    { runId: "r1a2b3" },
  );

  it("adds no network agent: a stress agent of its own (no capability), a kill agent of its own, none for a deletion", () => {
    expect(plan.agent.capabilities).toEqual([]);
    expect(plan.agent.needed).toBe(false);
    const stress = plan.steps[0];
    if (stress?.kind !== "fault" || stress.fault.delivery !== "stress-agent") throw new Error("a stress");
    expect(stress.fault).toMatchObject({ agentName: "chaos-stress-r1a2b3-s1", agentTtlMs: 80_000 });
    const kill = plan.steps[1];
    if (kill?.kind !== "fault" || kill.fault.delivery !== "kill-agent") throw new Error("a kill");
    expect(kill.fault).toMatchObject({ agentName: "chaos-kill-r1a2b3-s2", capabilities: ["SYS_PTRACE"], agentTtlMs: 90_000 });
    expect(kill.fault.apply.fault.spec).toEqual({ kind: "kill", signal: "SIGKILL" });
    expect(kill.expectText).toEqual(["restarts equals 1"]);
    expect(plan.steps[2]?.kind === "fault" ? plan.steps[2].fault.delivery : "").toBe("api");
    expect(formatPlan(plan, "x.yaml")).toContain("none held in the pods: the faults are delivered by kill and stress agents of their own, or through the API");
    expect(formatPlan(plan, "x.yaml")).toContain("stress agent chaos-stress-r1a2b3-s1 (no capability added), in each pod:");
  });

  it("says in the plan what each pod is in for: the pod's limits, the killed container, a pod that will not come back", () => {
    const text = formatPlan(plan, "roadmap.yaml");
    expect(text).toContain("runs in the pod's cgroup, outside the target container's — it competes with the app under the pod's limits, not the app container's own");
    expect(text).toContain("with the stress agent's whole container where the kubelet has it take a container's processes together (cgroup v2)");
    expect(text).toContain("pod web-0: CPU limit 500m, memory limit 128Mi (the sum of its containers' limits; the pod's cgroup enforces it)");
    expect(text).toContain("pod solo: no CPU limit, no memory limit");
    expect(text).toContain("pod web-0: container web");
    expect(text).toContain("anything else is refused, with the reason, before any harm");
    expect(text).toContain("pod web-0: its ReplicaSet web-5d9 replaces it");
    expect(text).toContain("pod solo has no controller: it will not come back");
    expect(text).toContain("2. kill: event, recovery watched for 30s");
    expect(text).not.toContain("The exact tc and nft commands");
    const named = planRun(scenarioOf(ROADMAP.replace("kill: {}", "kill: { container: db }")), [{ name: "web-0", containers: ["web"] }], { runId: "r1" });
    expect(formatPlan(named, "x.yaml")).toContain("pod web-0: container db — NOT one of its containers (web)");
  });

  it("keeps the JSON of agent faults as it was, and adds what only events have", () => {
    const json = planToJson(plan, "roadmap.yaml") as { steps: { fault: Record<string, unknown> }[] };
    expect(Object.keys(json.steps[0]?.fault ?? {})).toEqual(["id", "delivery", "interface", "summary", "notes", "spec", "apply", "revert", "ends", "container", "stressAgent"]);
    expect(json.steps[0]?.fault).toMatchObject({
      ends: "process",
      container: { podSecurity: "baseline", securityContext: { runAsUser: 0, capabilities: [], drop: ["ALL"], allowPrivilegeEscalation: false } },
    });
    expect(json.steps[1]?.fault).toMatchObject({
      delivery: "kill-agent",
      revert: null,
      ends: "event",
      container: { podSecurity: "privileged" },
      killAgent: { name: "chaos-kill-r1a2b3-s2", capabilities: ["SYS_PTRACE"] },
    });
    expect(json.steps[2]?.fault).toMatchObject({ delivery: "api", spec: { kind: "podDelete" }, apply: null, revert: null, ends: "event", container: null });
  });
});

describe("quantities", () => {
  it("reads CPU and memory as Kubernetes writes them", () => {
    expect(cpuMilli("500m")).toBe(500);
    expect(cpuMilli("1.5")).toBe(1500);
    expect(cpuMilli("2")).toBe(2000);
    expect(memoryBytes("64Mi")).toBe(67108864);
    expect(memoryBytes("1G")).toBe(1e9);
    expect(memoryBytes("128974848")).toBe(128974848);
    expect(parseQuantity("1e3")).toBe(1000);
    expect(parseQuantity("12x")).toBeUndefined();
    // a pod's limit exists only when every container has one
    expect(podLimit(["500m", "250m"], cpuMilli)).toBe(750);
    expect(podLimit(["500m", undefined], cpuMilli)).toBeUndefined();
    expect(podLimit([], cpuMilli)).toBeUndefined();
  });
});

describe("Pod Security levels, from the securityContext that is sent (the Pod Security Standards' container rules)", () => {
  it("the strictest level that admits each container chaos-run adds", () => {
    expect(levelOf(rootSecurity(["NET_ADMIN", "NET_RAW"]))).toBe("privileged");
    expect(levelOf(rootSecurity(["SYS_PTRACE"]))).toBe("privileged");
    expect(levelOf(rootSecurity(["KILL"]))).toBe("baseline");
    expect(levelOf(rootSecurity([]))).toBe("baseline");
    expect(levelOf(nonRootSecurity(65534))).toBe("restricted");
    // each restricted rule on its own
    const ok = nonRootSecurity(1000);
    expect(refusals({ ...ok, allowPrivilegeEscalation: true }, "restricted")).toEqual(["allows privilege escalation"]);
    expect(refusals({ ...ok, drop: [] }, "restricted")).toEqual(["does not drop ALL capabilities"]);
    expect(refusals({ ...ok, capabilities: ["NET_BIND_SERVICE"] }, "restricted")).toEqual([]);
    expect(refusals({ ...ok, capabilities: ["CHOWN"] }, "restricted")).toEqual(["adds CHOWN"]);
    expect(refusals({ ...ok, seccompProfile: "Unconfined" }, "baseline")).toEqual(["runs without a seccomp profile (Unconfined)"]);
    expect(refusals({ ...ok, runAsUser: 0 }, "restricted")).toEqual(["runs as root (runAsUser 0)"]);
    expect(admits("baseline", "restricted")).toBe(true);
    expect(admits("restricted", "baseline")).toBe(false);
    expect(enforcedLevel({})).toBe("privileged");
    expect(enforcedLevel({ "pod-security.kubernetes.io/enforce": "restricted" })).toBe("restricted");
  });
});

describe("preflight: Pod Security by what the agents add", () => {
  beforeEach(fakeClock);
  afterEach(() => vi.useRealTimers());
  const STRESS = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: s }
target: { namespace: default, selector: { run: web }, mode: all }
steps:
  - name: burn
    fault: { stress: { cpu: { workers: 1, load: "10%" } } }
    duration: 1s
`;

  it("baseline admits the stress agent, which adds no capability", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.labels = { "pod-security.kubernetes.io/enforce": "baseline" };
    const result = await finish(start(cluster, scenarioOf(STRESS)));
    expect(result.exitCode, result.message).toBe(0);
  });

  it("baseline refuses a SIGKILL's kill agent (SYS_PTRACE), before anything is touched; a SIGTERM's (KILL) it admits", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.labels = { "pod-security.kubernetes.io/enforce": "baseline" };
    const result = await finish(start(cluster, scenarioOf(STRESS.replace('stress: { cpu: { workers: 1, load: "10%" } }', "kill: {}"))));
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain(
      `namespace default enforces Pod Security "baseline", which refuses a container this run adds (nothing was touched):
  step 1 (burn)'s kill agent in pod web-a (SIGKILL): runAsUser 0, runAsNonRoot false, capabilities drop ALL add SYS_PTRACE, allowPrivilegeEscalation false, seccomp RuntimeDefault — "baseline" refuses it: it adds SYS_PTRACE; "privileged" admits it`,
    );
    expect(result.hint).toContain("kubectl label namespace default pod-security.kubernetes.io/enforce=privileged --overwrite");
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
    const term = new RecordingCluster([pod("web-a")]);
    term.labels = { "pod-security.kubernetes.io/enforce": "baseline" };
    const ok = await finish(start(term, scenarioOf(STRESS.replace('stress: { cpu: { workers: 1, load: "10%" } }', "kill: { signal: SIGTERM }"))));
    expect(ok.exitCode, ok.message).toBe(0);
    expect(term.calls.find((c) => c.op === "add-agent")?.spec).toMatchObject({ securityContext: { runAsUser: 0, capabilities: ["KILL"], drop: ["ALL"] } });
  });

  it("restricted admits the stress agent: it then runs as the pod's user, nothing added, no escalation, RuntimeDefault seccomp", async () => {
    const cluster = new RecordingCluster([pod("web-a", { security: { runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true } })]);
    cluster.labels = { "pod-security.kubernetes.io/enforce": "restricted" };
    const result = await finish(start(cluster, scenarioOf(STRESS)));
    expect(result.exitCode, result.message).toBe(0);
    expect(cluster.calls.find((c) => c.op === "add-agent")?.spec).toMatchObject({
      name: "chaos-stress-r1-s1",
      securityContext: { runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true, capabilities: [], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" },
    });
  });

  it("a pod that demands non-root gets a non-root stress agent in any namespace: its container's user, else nobody", async () => {
    const app: ContainerInfo = { name: "web", image: "nginx", state: "running", reason: undefined, message: undefined, exitCode: undefined, runId: undefined, capabilities: [], runAsUser: 101 };
    const users = new RecordingCluster([
      pod("web-a", { security: { runAsUser: undefined, runAsGroup: undefined, runAsNonRoot: true }, containers: [app] }),
      pod("web-b", { security: { runAsUser: undefined, runAsGroup: undefined, runAsNonRoot: true } }),
      pod("web-c"),
    ]);
    const result = await finish(start(users, scenarioOf(STRESS)));
    expect(result.exitCode, result.message).toBe(0);
    const sc = (name: string) => users.calls.find((c) => c.op === "add-agent" && c.pod === name)?.spec?.securityContext;
    expect([sc("web-a"), sc("web-b"), sc("web-c")].map((x) => x !== undefined && [x.runAsUser, x.runAsNonRoot])).toEqual([
      [101, true],
      [65534, true],
      [0, false],
    ]);
  });

  it("restricted still refuses the network agent, naming the level and what it refuses", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.labels = { "pod-security.kubernetes.io/enforce": "restricted" };
    const result = await finish(start(cluster, scenarioOf(STRESS.replace('stress: { cpu: { workers: 1, load: "10%" } }', "netem: { delay: 10ms }"))));
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain(`the pod's agent (step 1 (burn): netem): runAsUser 0, runAsNonRoot false, capabilities drop ALL add NET_ADMIN`);
    expect(result.message).toContain(`"restricted" refuses it: it adds NET_ADMIN; runs as root (runAsUser 0); "privileged" admits it`);
    expect(cluster.calls.some((c) => c.op === "add-agent" || c.op === "exec")).toBe(false);
  });

  it("a deletion needs `delete pods`: denied, nothing is touched", async () => {
    const cluster = new RecordingCluster([pod("web-a")]);
    cluster.denied = ["delete pods"];
    const result = await finish(start(cluster, scenarioOf(STRESS.replace('stress: { cpu: { workers: 1, load: "10%" } }', "podDelete: {}"))));
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain("may not delete pods");
    expect(cluster.calls.some((c) => c.op === "delete-pod")).toBe(false);
  });
});

describe("the stress guard", () => {
  const STRESS_OF = (fault: string) => `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: s }
target: { namespace: default, selector: { run: web }, mode: all }
steps:
  - name: wait
    wait: 1s
  - name: burn
    fault: { stress: ${fault} }
    duration: 5s
`;
  const limited = { name: "web-0", limits: { cpuMilli: 500, memoryBytes: 64 * 1024 ** 2 }, requests: { cpuMilli: 10, memoryBytes: 16 * 1024 ** 2 } };
  const requested = { name: "web-1", limits: { cpuMilli: undefined, memoryBytes: undefined }, requests: { cpuMilli: 250, memoryBytes: 32 * 1024 ** 2 } };
  const bare = { name: "web-2", limits: { cpuMilli: undefined, memoryBytes: undefined }, requests: { cpuMilli: undefined, memoryBytes: undefined } };
  const refusal = (fault: string, pods: Parameters<typeof planRun>[1]): unknown => {
    try {
      planRun(scenarioOf(STRESS_OF(fault)), pods, { runId: "r1" });
      return undefined;
    } catch (e) {
      return e;
    }
  };

  it("refuses memory beyond the pod's limit, located at the size, exit 3; within the limit it plans", () => {
    expect(refusal("{ memory: { size: 1Ti } }", [limited])).toMatchObject({
      code: "stress-bound",
      exitCode: 3,
      path: "/steps/1/fault/stress/memory/size",
      message: "step 2 (burn): 1Ti of memory is beyond pod web-0's memory limit of 64Mi: the pod's cgroup OOM-kills at its limit, so more measures nothing (nothing was touched)",
      hint: "ask for less, or give the pod a memory limit; if the node can take it, opt in by name: stress.memory.allowBeyondLimit: true (chaos-run stress: --allow-beyond-limit)",
    });
    expect(refusal("{ memory: { size: 64Mi } }", [limited])).toBeUndefined();
  });

  it("on a pod without a limit, the bound is its request (what the scheduler set aside for it); without either, nothing is allowed", () => {
    expect(refusal("{ memory: { size: 32Mi } }", [requested])).toBeUndefined();
    expect(refusal("{ memory: { size: 33Mi } }", [requested])).toMatchObject({
      message: expect.stringContaining(
        "33Mi of memory is beyond pod web-1's memory request of 32Mi: it has no memory limit, and beyond its request the stress takes what the scheduler promised the node's other pods (node MemoryPressure, neighbours evicted)",
      ),
    });
    expect(refusal("{ memory: { size: 16Mi } }", [bare])).toMatchObject({
      message: expect.stringContaining("pod web-2 has neither a memory limit nor a memory request: nothing of the node's memory is set aside for it"),
    });
  });

  it("the same for CPU workers × load against the CPU limit, else the request; located at the workers", () => {
    expect(refusal('{ cpu: { workers: 1, load: "50%" } }', [limited])).toBeUndefined();
    expect(refusal("{ cpu: { workers: 2 } }", [limited])).toMatchObject({
      path: "/steps/1/fault/stress/cpu/workers",
      message: expect.stringContaining("2 CPU workers at 100% (2 CPUs) is beyond pod web-0's cpu limit of 500m"),
    });
    expect(refusal('{ cpu: { workers: 1, load: "30%" } }', [requested])).toMatchObject({ message: expect.stringContaining("beyond pod web-1's cpu request of 250m") });
  });

  it("the opt-in, by name and per resource, lets it run; the plan shows each pod's bound", () => {
    expect(refusal("{ memory: { size: 1Ti, allowBeyondLimit: true } }", [limited, requested, bare])).toBeUndefined();
    expect(refusal("{ memory: { size: 1Ti, allowBeyondLimit: true }, cpu: { workers: 2 } }", [limited])).toMatchObject({ path: "/steps/1/fault/stress/cpu/workers" });
    const plan = planRun(scenarioOf(STRESS_OF("{ memory: { size: 128Mi, allowBeyondLimit: true } }")), [limited, requested], { runId: "r1" });
    const text = formatPlan(plan, "s.yaml");
    expect(text).toContain("note: pod web-0: memory up to 64Mi (its limit), 128Mi asked: beyond it, opted in");
    expect(text).toContain("note: pod web-1: memory up to 32Mi (its request), 128Mi asked: beyond it, opted in");
  });

  it("offline, where the pods are not known, the plan states the rule and refuses nothing", () => {
    const text = formatPlan(planOffline(scenarioOf(STRESS_OF("{ memory: { size: 1Ti } }"))), "s.yaml");
    expect(text).toContain(
      "note: bound: a stress asks for no more than the pod's limit (or, without one, its request: what the scheduler set aside for it on its node), unless the scenario opts in with stress.memory/cpu.allowBeyondLimit",
    );
    expect(text).toContain("note: each pod's bound is read from its spec at run time");
  });
});

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: {
      write: (s) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s) => {
        stderr += s;
      },
    },
    stdoutIsTTY: false,
    stderrIsTTY: false,
    env: {},
    cwd: process.cwd(),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe("the seed verbs' usage", () => {
  it("takes a signal by name, without SIG, or by number; refuses the ones it does not offer", () => {
    expect(["KILL", "sigterm", "9", "SIGHUP", "15"].map((s) => signalFlag(s))).toEqual(["SIGKILL", "SIGTERM", "SIGKILL", "SIGHUP", "SIGTERM"]);
    expect(signalFlag(undefined)).toBe("SIGKILL");
    expect(() => signalFlag("STOP")).toThrow(/must be one of SIGKILL, SIGTERM/);
  });

  it("says what is wrong, exit 2, before connecting to anything", async () => {
    const cases: [string[], string][] = [
      [["kill", "-s", "SIGSTOP", "-p", "web"], "-s/--signal must be one of"],
      [["kill"], "kill needs a pod: -p POD"],
      [["kill", "-p", "web", "-c", "Web_1"], "is not a container name"],
      [["kill-pod", "-p", "web", "--grace", "soon"], "--grace takes a whole number of seconds"],
      [["stress", "-p", "web", "-r", "10"], "stress needs --cpu N or --memory SIZE"],
      [["stress", "-p", "web", "--load", "50", "-r", "10"], "--load needs --cpu N"],
      [["stress", "-p", "web", "--cpu", "1", "--load", "0", "-r", "10"], "--load takes a percent of one CPU above 0"],
      [["stress", "-p", "web", "--memory", "64MB", "-r", "10"], "--memory takes a size from 4Ki to 1Ti"],
      [["stress", "-p", "web", "--cpu", "1"], "stress needs a duration: -r SECONDS"],
      [["disconnect", "-p", "web"], "disconnect needs a duration"],
      [["disconnect", "-p", "web", "-r", "5", "--url", "ftp://{{ target.ip }}/"], "ab speaks http and https, not ftp"],
      [["disconnect", "-p", "web", "-r", "5", "--url", "http://{{ target.ip }}/", "--detach"], "--url proves the reconnection after the fault"],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...args, "--kubeconfig", "/nonexistent/kubeconfig"]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain(message);
    }
  });

  it("each has its help", async () => {
    for (const verb of ["kill", "kill-pod", "stress", "disconnect"]) {
      const r = await cli([verb, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: chaos-run ${verb} -p POD`);
    }
    expect((await cli(["stress", "--help"])).stdout).toContain("runs in the pod's\ncgroup, outside the app container's");
    expect((await cli(["kill", "--help"])).stdout).toContain("refused, with the reason, before any pod is touched");
  });
});

describe("sweep and stress agents", () => {
  it("a running stress agent (stress --detach) stops its stressors; a dead one gets no fresh agent: it left nothing in the network namespace", async () => {
    const { sweepPods } = await import("../../src/engine/sweep.js");
    const { SimAgent } = await import("./recording-cluster.js");
    const stressAgent = { name: "chaos-stress-r9-s1", image: "chaos-agent:1.2", state: "running" as const, reason: undefined, message: undefined, exitCode: undefined, runId: "r9", capabilities: [] };
    const oomed = { ...stressAgent, name: "chaos-stress-r8-s1", state: "terminated" as const, reason: "OOMKilled", exitCode: 137 };
    const cluster = new RecordingCluster([pod("web-a", { ephemeralContainers: [oomed, stressAgent] })]);
    const sim = new SimAgent("chaos-stress-r9-s1", "r9", 60_000);
    sim.held.set("r9-s1", { leaseEnd: Date.now() + 60_000, iface: "", kind: "stress" });
    cluster.agents.set("web-a/chaos-stress-r9-s1", sim);
    const lines: string[] = [];
    const report = await sweepPods(
      cluster,
      [...cluster.pods.values()],
      {
        runId: "sw1",
        agentImage: undefined,
        pullPolicy: "IfNotPresent",
        ttlMs: 120_000,
        injectTimeoutMs: 1000,
        execTimeoutMs: 1000,
        concurrency: 4,
        dryRun: false,
        signal: new AbortController().signal,
      },
      (l) => lines.push(l),
    );
    expect(report).toEqual({ agents: 1, failed: 0 });
    expect(cluster.requests().map((r) => [r.pod, r.request])).toEqual([["web-a", { protocol: 1, op: "sweep", runId: "sw1", own: true }]]);
    expect(lines).toEqual(["default/web-a chaos-stress-r9-s1: reverted 1 fault: r9-s1"]);
    expect(sim.held.size).toBe(0);
    expect(cluster.calls.some((c) => c.op === "add-agent")).toBe(false);
  });
});
