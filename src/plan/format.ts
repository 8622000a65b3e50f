// The plan for people (text) and for machines (JSON). Deterministic: same plan, same bytes.
import { formatDuration } from "../expect/format.js";
import { IFACE_TOKEN } from "../faults/types.js";
import type { Plan, PlannedFault, PlannedProbeRun } from "./types.js";
import { modeText } from "./plan.js";

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

function probeLines(run: PlannedProbeRun, indent: string): string[] {
  const lines = [`${indent}probe ${run.probe}: ${quoteArgv(run.argv)}${run.perTargetPod ? "  (once per target pod)" : ""}${run.save !== undefined ? `  → save ${run.save}` : ""}`];
  for (const e of run.expectText) lines.push(`${indent}  expect ${e}`);
  return lines;
}

function faultLines(f: PlannedFault, indent: string): string[] {
  const lines = [`${indent}fault ${f.id}: ${f.summary}, on ${f.interface === IFACE_TOKEN ? "$IFACE" : f.interface}`];
  lines.push(`${indent}  apply (one exec per pod): ${quoteArgv(f.agentApply)}`);
  for (const cmd of f.commands.apply) lines.push(`${indent}    ${quoteArgv(cmd)}`);
  lines.push(`${indent}  revert: ${quoteArgv(f.agentRevert)}`);
  for (const cmd of f.commands.revert) lines.push(`${indent}    ${quoteArgv(cmd)}`);
  return lines;
}

export function formatPlan(plan: Plan, file: string): string {
  const out: string[] = [];
  out.push(`Plan of ${plan.scenario.name}${plan.scenario.description !== undefined ? `: ${plan.scenario.description}` : ""}`);
  out.push(`  file ${file}, seed ${plan.seed}${plan.offline ? ", offline (no cluster contacted)" : ""}`);
  out.push("");
  const t = plan.target;
  out.push(`Target: namespace ${plan.namespace ?? "(from the kubeconfig context)"}, ${t.selector !== undefined ? `selector ${t.selector}` : "named pods"}, mode ${modeText(t.mode)}${t.maxPods !== undefined ? `, maxPods ${t.maxPods}` : ""}`);
  if (t.candidates !== undefined) out.push(`  candidates (sorted by name): ${t.candidates.join(", ")}`);
  for (const p of t.pods) out.push(`  pod ${p.name}${p.ip !== undefined ? ` (${p.ip})` : ""}`);
  if (t.pods.some((p) => p.placeholder)) {
    out.push(`  (placeholders: the pods are listed at run time${t.maxPods !== undefined ? `, and maxPods ${t.maxPods} is checked then` : ""}; name them with --pods to see the seeded choice)`);
  }
  out.push(`Agent: ${plan.agent.image}, ttl ${formatDuration(plan.agent.ttlMs)}, lease ${formatDuration(plan.agent.leaseMs)}`);
  const usesToken = plan.steps.some((s) => s.kind === "fault" && s.fault.interface === IFACE_TOKEN);
  if (usesToken) out.push("Interface: $IFACE = each pod's default-route interface, resolved by the agent at run time");
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
        out.push(`${head}: fault for ${formatDuration(s.durationMs)}`);
        out.push(...faultLines(s.fault, "             "));
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
  return out.join("\n") + "\n";
}

/** The plan as JSON-ready data: expectations as written instead of their syntax trees. */
export function planToJson(plan: Plan, file: string): unknown {
  const run = (r: PlannedProbeRun): unknown => ({
    probe: r.probe,
    kind: r.kind,
    argv: r.argv,
    perTargetPod: r.perTargetPod,
    toolsImage: r.toolsImage,
    save: r.save ?? null,
    expect: r.expectText,
  });
  return {
    planVersion: plan.planVersion,
    file,
    scenario: { name: plan.scenario.name, description: plan.scenario.description ?? null },
    seed: plan.seed,
    offline: plan.offline,
    namespace: plan.namespace ?? null,
    target: {
      selector: plan.target.selector ?? null,
      mode: modeText(plan.target.mode),
      maxPods: plan.target.maxPods ?? null,
      candidates: plan.target.candidates ?? null,
      pods: plan.target.pods.map((p) => ({ name: p.name, ip: p.ip ?? null, placeholder: p.placeholder })),
    },
    agent: plan.agent,
    steadyState: plan.steadyState.map(run),
    steps: plan.steps.map((s) => {
      const base = { index: s.index, name: s.name, kind: s.kind, startMs: s.startMs, durationMs: s.durationMs ?? null };
      switch (s.kind) {
        case "fault":
          return {
            ...base,
            fault: {
              id: s.fault.id,
              handle: s.fault.handle.toString(16),
              interface: s.fault.interface,
              summary: s.fault.summary,
              spec: s.fault.fault,
              apply: s.fault.commands.apply,
              revert: s.fault.commands.revert,
              agentApply: s.fault.agentApply,
              agentRevert: s.fault.agentRevert,
            },
            during: s.during.map(run),
          };
        case "probe":
          return { ...base, run: run(s.run) };
        case "wait":
          return base;
      }
    }),
    timelineMs: plan.timelineMs,
  };
}
