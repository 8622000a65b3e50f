// The plan for people (text) and for machines (JSON). Deterministic: same plan, same bytes.
import { formatDuration } from "../expect/format.js";
import { requestArgv } from "../faults/requests.js";
import { isNetworkFault } from "../faults/types.js";
import { NOBODY, levelOf, nonRootSecurity, rootSecurity, securityWords, type AddedContainerSecurity } from "../faults/security.js";
import { FAULT_END_WORDS } from "./containers.js";
import type { Plan, PlannedFault, PlannedPod, PlannedProbeRun } from "./types.js";
import { OFFLINE_RUN_ID, asksPodAgents, probeRunsOf } from "./plan.js";
import { modeText } from "./targets.js";

export interface FormatOptions {
  /** colour (a TTY without NO_COLOR): the opt-in to system namespaces in red */
  readonly color?: boolean | undefined;
}

const red = (s: string): string => `\u001b[1;31m${s}\u001b[0m`;

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** An argument quoted for a POSIX shell, for display only (nothing here runs a shell). */
export function quoteArg(arg: string): string {
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(" ");
}

function offset(ms: number): string {
  return `+${formatDuration(ms)}`;
}

/** What a probe does, in one line: the argv it runs, or what it reads. */
export function probeAction(run: PlannedProbeRun): string {
  const spec = run.spec;
  switch (spec.kind) {
    case "ab":
    case "http":
    case "grpc":
      return quoteArgv(run.argv);
    case "cmd":
      return `in pod ${spec.cmd.namespace !== undefined ? `${spec.cmd.namespace}/` : ""}${spec.cmd.pod}${spec.cmd.container !== undefined ? ` (container ${spec.cmd.container})` : ""}: ${quoteArgv(run.argv)}${spec.cmd.stdout !== undefined ? `, stdout matching /${spec.cmd.stdout}/` : ""}`;
    case "k8s": {
      const k = spec.k8s;
      const which =
        k.name !== undefined
          ? k.name
          : `-l ${Object.entries(k.selector ?? {})
              .map(([a, b]) => `${a}=${b}`)
              .join(",")}`;
      const what = [k.field !== undefined ? `field ${k.field}` : undefined, k.condition !== undefined ? `condition ${k.condition}` : undefined].filter((x) => x !== undefined).join(", ");
      return `read ${k.kind} ${k.namespace !== undefined ? `${k.namespace}/` : ""}${which}${what !== "" ? `: ${what}` : ""}`;
    }
    case "prometheus":
      return `query ${spec.prometheus.url}: ${spec.prometheus.query}${spec.prometheus.unit !== "number" ? ` (${spec.prometheus.unit})` : ""}`;
    case "dns": {
      const d = spec.dns;
      return `resolve ${d.names.join(", ")} ${d.count}× each (${d.type} over ${d.tcp ? "TCP" : "UDP"}, timeout ${formatDuration(d.timeoutMs)}) from inside the target pod, through its agent, as its application's resolver does`;
    }
  }
}

function probeLines(run: PlannedProbeRun, indent: string): string[] {
  const every = run.everyMs !== undefined ? `  (every ${formatDuration(run.everyMs)})` : "";
  const lines = [`${indent}probe ${run.probe}: ${probeAction(run)}${run.perTargetPod ? "  (once per target pod)" : ""}${every}${run.save !== undefined ? `  → save ${run.save}` : ""}`];
  for (const e of run.expectText) lines.push(`${indent}  expect ${e}`);
  return lines;
}

/** `root, adds NET_ADMIN, drops the rest`, `user 65534, adds nothing` */
function containerBrief(sc: AddedContainerSecurity): string {
  return `${sc.runAsNonRoot ? `user ${sc.runAsUser}` : "root"}, ${sc.capabilities.length > 0 ? `adds ${sc.capabilities.join(", ")}, drops the rest` : "adds nothing, drops every capability"}`;
}

function faultLines(f: PlannedFault, indent: string): string[] {
  const lines: string[] = [];
  switch (f.delivery) {
    case "agent":
      lines.push(
        isNetworkFault(f.fault) ? `${indent}fault ${f.id}: ${f.summary}, on ${f.interface ?? "each pod's default-route interface"}` : `${indent}fault ${f.id}: ${f.summary}`,
        `${indent}  apply (one exec per pod): ${quoteArgv(requestArgv(f.apply))}`,
        `${indent}  revert: ${quoteArgv(requestArgv(f.revert))}`,
      );
      break;
    case "stress-agent":
      lines.push(
        `${indent}fault ${f.id}: ${f.summary}`,
        `${indent}  stress agent ${f.agentName} (no capability added), in each pod:`,
        `${indent}  apply: ${quoteArgv(requestArgv(f.apply))}`,
        `${indent}  revert: ${quoteArgv(requestArgv(f.revert))}`,
      );
      break;
    case "kill-agent":
      lines.push(
        `${indent}fault ${f.id}: ${f.summary} — an event, nothing to revert`,
        `${indent}  kill agent ${f.agentName} (capabilities ${f.capabilities.join(", ")}), in each pod: first a dry run in every pod, then the kill (each pod's containerId added from its status):`,
        `${indent}  ${quoteArgv(requestArgv(f.apply))}`,
      );
      break;
    case "api":
      lines.push(
        `${indent}fault ${f.id}: ${f.summary} through the API (DELETE pods/NAME${f.fault.gracePeriodMs === undefined ? "" : `, gracePeriodSeconds ${Math.ceil(f.fault.gracePeriodMs / 1000)}`}) — an event, nothing to revert`,
      );
      break;
  }
  lines.push(
    f.container === undefined
      ? `${indent}  Pod Security: any level (no container is added)`
      : `${indent}  Pod Security: needs "${f.container.level}" (${containerBrief(f.container.security)})${f.container.note !== undefined ? `; ${f.container.note}` : ""}`,
  );
  lines.push(`${indent}  ends: ${FAULT_END_WORDS[f.ends]}`);
  for (const n of f.notes) lines.push(`${indent}  note: ${n}`);
  return lines;
}

const ROLE_TEXT = {
  static: "a static pod: its node's kubelet runs it from a file, and the API only mirrors it",
  daemonset: "a DaemonSet's pod: one of a set, one per node",
} as const;

/** How the target finds its pods: `selector app=web`, `service/web`, `named pods`. */
function targetWords(t: Plan["target"]): string {
  if (t.via !== undefined) return t.selector === undefined ? t.via : `${t.via} (selector ${t.selector})`;
  return t.selector !== undefined ? `selector ${t.selector}` : "named pods";
}

function podLine(p: PlannedPod): string {
  return `  pod ${p.name}${p.ip !== undefined ? ` (${p.ip})` : ""}${p.role !== undefined ? `: ${ROLE_TEXT[p.role]}` : ""}`;
}

export function formatPlan(plan: Plan, file: string, options: FormatOptions = {}): string {
  const out: string[] = [];
  out.push(`Plan of ${plan.scenario.name}${plan.scenario.description !== undefined ? `: ${plan.scenario.description}` : ""}`);
  out.push(`  file ${file}, seed ${plan.seed}${plan.offline ? ", offline (no cluster contacted)" : ""}`);
  out.push(plan.runId === OFFLINE_RUN_ID ? `  run id ${plan.runId} (a run has its own: 8 random characters, new each time, in its agents' names and fault ids)` : `  run id ${plan.runId}`);
  out.push("");
  const t = plan.target;
  out.push(`Target: namespace ${plan.namespace ?? "(from the kubeconfig context)"}, ${targetWords(t)}, mode ${modeText(t.mode)}${t.maxPods !== undefined ? `, maxPods ${t.maxPods}` : ""}`);
  if (t.via !== undefined) out.push(...(t.resolution ?? [`${t.via} → its selector, read at run time`]).map((line) => `  ${line}`));
  if (t.allowSystemNamespaces) {
    const optIn = "  target.allowSystemNamespaces: true — pods in kube-system, kube-public and kube-node-lease may be hit";
    out.push(options.color === true ? red(optIn) : optIn);
  }
  if (t.candidates !== undefined) out.push(`  candidates (sorted by name): ${t.candidates.join(", ")}`);
  for (const p of t.pods) out.push(podLine(p));
  if (t.pods.some((p) => p.placeholder)) {
    out.push(`  (placeholders: the pods are listed at run time${t.maxPods !== undefined ? `, and maxPods ${t.maxPods} is checked then` : ""}; name them with --pods to see the seeded choice)`);
  }
  out.push(`Agent: ${plan.agent.image}, pull policy ${plan.agent.pullPolicy}, ttl ${formatDuration(plan.agent.ttlMs)}, lease ${formatDuration(plan.agent.leaseMs)}`);
  if (plan.agent.needed === false) out.push("  none held in the pods: the faults are delivered by kill and stress agents of their own, or through the API");
  else
    out.push(
      `  an ephemeral container chaos-agent-${plan.runId} in each pod: ${securityWords(rootSecurity(plan.agent.capabilities))} (what the faults need, nothing more; never inherited from the pod)`,
    );
  const first = plan.steps[0];
  if (asksPodAgents(plan.steadyState)) out.push("  added before the steady state is checked: its dns probes resolve through it");
  else if (plan.agent.needed !== false && first?.kind === "fault" && first.fault.delivery === "agent") {
    out.push(
      `  step 1's fault travels with each fresh agent: given in its environment, held from its start, confirmed by its first renewal — no exec applies it (an agent reused from an earlier run is sent it by exec)`,
    );
  }
  const tools = [...new Set(probeRunsOf(plan).flatMap((r) => (r.toolsImage === undefined ? [] : [r.toolsImage])))];
  if (tools.length > 0) {
    const sc = nonRootSecurity(NOBODY);
    out.push(
      `Tools pod: ${tools.join(", ")}, chaos-tools-${plan.runId}: ${securityWords(sc)}; Pod Security "${levelOf(sc)}"; it ends by itself at the run's longest possible life (activeDeadlineSeconds), and sweep removes it once its run is gone`,
    );
  }
  out.push("");
  if (plan.steadyState.length > 0) {
    out.push("Steady state (checked before the first step and after the last):");
    for (const r of plan.steadyState) out.push(...probeLines(r, "  "));
    out.push("");
  }
  out.push("Timeline (offsets count fault durations and waits; probes add their own run time):");
  for (const s of plan.steps) {
    const head = `  ${offset(s.startMs).padEnd(8)} ${s.index + 1}. ${s.name}`;
    switch (s.kind) {
      case "fault":
        out.push(`${head}: ${s.fault.delivery === "agent" || s.fault.delivery === "stress-agent" ? "fault for" : "event, recovery watched for"} ${formatDuration(s.durationMs)}`);
        out.push(...faultLines(s.fault, "             "));
        for (const e of s.expectText ?? []) out.push(`               expect ${e}`);
        if (s.during.length > 0) {
          out.push("             during the fault:");
          for (const r of s.during) out.push(...probeLines(r, "               "));
        }
        break;
      case "probe":
        out.push(`${head}: probe`);
        out.push(...probeLines(s.run, "             "));
        break;
      case "wait":
        out.push(`${head}: wait ${formatDuration(s.durationMs)}`);
        break;
    }
  }
  out.push(`  ${offset(plan.timelineMs).padEnd(8)} end${plan.steadyState.length > 0 ? ": steady state again" : ""}`);
  if (plan.steps.some((s) => s.kind === "fault" && isNetworkFault(s.fault.fault))) {
    out.push("");
    out.push("The exact tc and nft commands (iptables where the node's kernel has no nf_tables) depend on each pod —");
    out.push("its interface, the tc handles free there, its address families — so the agent decides them; its reply");
    out.push("lists every command it ran, in those terms, and the journal records them.");
  }
  return `${out.join("\n")}\n`;
}

/** The plan as JSON-ready data: expectations as written instead of their syntax trees. */
export function planToJson(plan: Plan, file: string): unknown {
  const run = (r: PlannedProbeRun): unknown => ({
    probe: r.probe,
    kind: r.kind,
    argv: r.argv,
    perTargetPod: r.perTargetPod,
    toolsImage: r.toolsImage ?? null,
    save: r.save ?? null,
    expect: r.expectText,
    ...(r.everyMs !== undefined ? { everyMs: r.everyMs } : {}),
    ...(r.kind !== "ab" && r.kind !== "http" ? { action: probeAction(r) } : {}),
  });
  return {
    planVersion: plan.planVersion,
    runId: plan.runId,
    file,
    scenario: { name: plan.scenario.name, description: plan.scenario.description ?? null },
    seed: plan.seed,
    offline: plan.offline,
    namespace: plan.namespace ?? null,
    target: {
      selector: plan.target.selector ?? null,
      ...(plan.target.via === undefined ? {} : { via: plan.target.via, resolution: plan.target.resolution ?? null }),
      mode: modeText(plan.target.mode),
      maxPods: plan.target.maxPods ?? null,
      allowSystemNamespaces: plan.target.allowSystemNamespaces,
      candidates: plan.target.candidates ?? null,
      pods: plan.target.pods.map((p) => ({ name: p.name, ip: p.ip ?? null, placeholder: p.placeholder, role: p.role ?? null })),
    },
    agent: plan.agent,
    steadyState: plan.steadyState.map(run),
    steps: plan.steps.map((s) => {
      const base = { index: s.index, name: s.name, kind: s.kind, startMs: s.startMs, durationMs: s.durationMs ?? null };
      switch (s.kind) {
        case "fault": {
          const f = s.fault;
          return {
            ...base,
            fault: {
              id: f.id,
              // what agent faults always had, unchanged; the rest only where it says something
              ...(f.delivery === "agent" ? {} : { delivery: f.delivery }),
              interface: f.interface ?? null,
              summary: f.summary,
              ...(f.notes.length > 0 ? { notes: f.notes } : {}),
              spec: f.delivery === "api" ? { kind: "podDelete", ...(f.fault.gracePeriodMs === undefined ? {} : { gracePeriodMs: f.fault.gracePeriodMs }) } : f.apply.fault.spec,
              apply: f.delivery === "api" ? null : f.apply,
              revert: f.delivery === "agent" || f.delivery === "stress-agent" ? f.revert : null,
              ends: f.ends,
              container:
                f.container === undefined ? null : { podSecurity: f.container.level, securityContext: f.container.security, ...(f.container.note === undefined ? {} : { note: f.container.note }) },
              ...(f.delivery === "kill-agent" ? { killAgent: { name: f.agentName, capabilities: f.capabilities, ttlMs: f.agentTtlMs } } : {}),
              ...(f.delivery === "stress-agent" ? { stressAgent: { name: f.agentName, ttlMs: f.agentTtlMs } } : {}),
            },
            during: s.during.map(run),
            ...((s.expectText ?? []).length > 0 ? { expect: s.expectText } : {}),
          };
        }
        case "probe":
          return { ...base, run: run(s.run) };
        case "wait":
          return base;
        default: {
          const never: never = s;
          throw new TypeError(`unknown step ${JSON.stringify(never)}`);
        }
      }
    }),
    timelineMs: plan.timelineMs,
  };
}
