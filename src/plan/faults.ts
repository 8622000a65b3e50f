// A fault step's fault as planned: its id, how it is delivered (the pod's agent, a stress or kill
// agent of its own, the API), the requests the agents get, and the refusal of a stress beyond a
// pod's bound.
import { applyRequest, capabilitiesFor, deliveryOf, isNetworkFault, revertRequest } from "../faults/index.js";
import type { StressFault } from "../faults/types.js";
import type { FaultStep } from "../scenario/types.js";
import { stressRefusals } from "./bounds.js";
import { faultContainer, faultEnd } from "./containers.js";
import { faultNotes, faultSummary } from "./fault-words.js";
import { PlanError } from "./plan-error.js";
import type { PlannedFault, PlannedPod } from "./types.js";

/** A kill or stress agent outlives its step by this much at most (it exits once its fault is over). */
export const KILL_AGENT_MARGIN_MS = 60_000;

/** A stress that asks a known pod for more than its bound, without the opt-in: refused before anything is touched (exit 3), at the size or the workers. */
function refuseBeyondBound(fault: StressFault, pods: readonly PlannedPod[], index: number, name: string): void {
  const refused = stressRefusals(
    fault,
    pods.filter((p) => !p.placeholder),
  );
  const first = refused[0];
  if (first === undefined) return;
  const resources = [...new Set(refused.map((r) => r.resource))];
  const path = `/steps/${index}/fault/stress/${first.resource === "memory" ? "memory/size" : "cpu/workers"}`;
  const lines = refused.map((r) => r.message);
  throw new PlanError(
    "stress-bound",
    `step ${index + 1} (${name}): ${lines.length === 1 ? lines[0] : `\n  ${lines.join("\n  ")}`} (nothing was touched)`,
    path,
    `ask for less, or give the pod a ${resources.join(" and a ")} limit; if the node can take it, opt in by name: ${resources.map((r) => `stress.${r}.allowBeyondLimit: true`).join(", ")} (chaos-run stress: --allow-beyond-limit)`,
  );
}

function faultId(runId: string, index: number): string {
  const id = `${runId}-s${index + 1}`;
  if (!/^[a-z0-9]{1,16}$/.test(runId) || !/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/.test(id)) {
    throw new PlanError(
      "bad-fault-id",
      `run id ${JSON.stringify(runId)} makes fault id ${JSON.stringify(id)}: a run id is 1-16 of [a-z0-9] and a fault id 1-22 of [a-z0-9-]`,
      "",
      "use a shorter, lower-case run id",
    );
  }
  return id;
}

/** The fault of a fault step, for the target pods; throws PlanError for a bad run id or a stress beyond a pod's bound. */
export function plannedFault(step: FaultStep, pods: readonly PlannedPod[], runId: string, leaseMs: number): PlannedFault {
  const f = step.fault;
  const id = faultId(runId, step.index);
  // a port by the Service's name is known once the target is resolved (offline: not yet)
  const summary = step.servicePort === undefined ? faultSummary(f) : faultSummary(f).replace(/port 0\b/, `port ${step.servicePort} (the Service's, mapped to the pods' targetPort at run time)`);
  const base = { id, interface: isNetworkFault(f) ? f.interface : undefined, summary, ends: faultEnd(f), container: faultContainer(f, pods) };
  // a kill or a stress has an agent of its own in each pod, named for the run and the step
  const agentName = `chaos-${f.kind}-${runId}-s${step.index + 1}`;
  const agentTtlMs = step.durationMs + KILL_AGENT_MARGIN_MS;
  let fault: PlannedFault;
  switch (f.kind) {
    case "kill":
      fault = { ...base, delivery: "kill-agent", fault: f, notes: faultNotes(f, pods, agentName), apply: applyRequest(runId, id, leaseMs, f), agentName, capabilities: capabilitiesFor(f), agentTtlMs };
      break;
    case "podDelete":
      fault = { ...base, delivery: "api", fault: f, notes: faultNotes(f, pods, "") };
      break;
    case "stress":
      refuseBeyondBound(f, pods, step.index, step.name);
      fault = {
        ...base,
        delivery: "stress-agent",
        fault: f,
        notes: faultNotes(f, pods, agentName),
        apply: applyRequest(runId, id, leaseMs, f),
        revert: revertRequest(runId, id),
        agentName,
        agentTtlMs,
      };
      break;
    default:
      fault = { ...base, delivery: "agent", fault: f, notes: faultNotes(f, pods, ""), apply: applyRequest(runId, id, leaseMs, f), revert: revertRequest(runId, id) };
  }
  if (deliveryOf(f) !== fault.delivery) throw new TypeError(`fault ${f.kind} planned for ${fault.delivery}`);
  return fault;
}
