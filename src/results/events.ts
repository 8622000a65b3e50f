// Kubernetes Events on each target pod, as the run goes: a fault applied, what it observed,
// reverted (or not confirmed), lost before its step ended, and the run's verdict — so that
// `kubectl describe pod` and `kubectl events` show what chaos-run did to the pod, when, and
// under which run. An observer of the engine's events: the engine never calls it. Core v1
// Events (src/kube/records.ts): those are what kubectl reads; reportingComponent chaos-run.
import type { EngineEvent } from "../engine/events.js";
import type { ClusterRecords, PodEvent, PodInfo } from "../kube/types.js";
import type { Plan } from "../plan/types.js";
import { processRedactor } from "../scenario/redact.js";

/** Events API message limit is 1 KiB in events.k8s.io; core v1 keeps more, but a line is what kubectl shows. */
const MESSAGE_MAX = 1024;

type Draft = Omit<PodEvent, "pod" | "reportingInstance"> & { readonly pod: { readonly namespace: string; readonly name: string } };

const VERDICT: Readonly<Record<string, { reason: string; type: "Normal" | "Warning" }>> = {
  passed: { reason: "ExperimentPassed", type: "Normal" },
  failed: { reason: "ExperimentFailed", type: "Warning" },
  error: { reason: "ExperimentError", type: "Warning" },
  interrupted: { reason: "ExperimentInterrupted", type: "Warning" },
};

/** What the run says of a step's fault: `step 2 (add latency): netem delay 100ms …`. */
function stepWords(plan: Plan | undefined, index: number): string {
  const step = plan?.steps.find((s) => s.index === index);
  return step === undefined ? `step ${index + 1}` : `step ${index + 1} (${step.name})${step.kind === "fault" ? `: ${step.fault.summary}` : ""}`;
}

/** The Events an engine event makes (none for most), given the plan the run started with. */
export function podEventsOf(e: EngineEvent, plan: Plan | undefined, runId: string): Draft[] {
  const run = `chaos-run ${plan?.scenario.name ?? ""} run ${runId}`;
  switch (e.type) {
    case "fault:applied":
      return [
        { pod: e.pod, type: "Normal", reason: "FaultApplied", action: "Apply", message: `${stepWords(plan, e.index)} applied${e.iface === undefined ? "" : ` on ${e.iface}`} (${run})`, at: e.at },
      ];
    case "fault:observed":
      return [{ pod: e.pod, type: "Normal", reason: "FaultObserved", action: "Observe", message: `${stepWords(plan, e.index)}: ${e.detail} (${run})`, at: e.at }];
    case "fault:lost":
      return [{ pod: e.pod, type: "Warning", reason: "FaultLost", action: "Apply", message: `${stepWords(plan, e.index)} ended before its step did: ${e.reason} (${run})`, at: e.at }];
    case "fault:reverted":
      return e.confirmed
        ? [{ pod: e.pod, type: "Normal", reason: "FaultReverted", action: "Revert", message: `${stepWords(plan, e.index)} reverted${e.detail === "" ? "" : `: ${e.detail}`} (${run})`, at: e.at }]
        : [
            {
              pod: e.pod,
              type: "Warning",
              reason: "FaultRevertUnconfirmed",
              action: "Revert",
              message: `${stepWords(plan, e.index)}: revert not confirmed: ${e.detail} (${run}; chaos-run sweep -n ${e.pod.namespace} reverts what remains)`,
              at: e.at,
            },
          ];
    case "run:end": {
      const verdict = VERDICT[e.status] ?? { reason: "ExperimentError", type: "Warning" as const };
      const why = e.message === undefined ? "" : `: ${e.message.split("\n")[0] ?? ""}`;
      return (plan?.target.pods ?? []).map((p) => ({
        pod: { namespace: plan?.namespace ?? "", name: p.name },
        ...verdict,
        action: "Judge",
        message: `${run} ${e.status} (exit ${e.exitCode})${why}`,
        at: e.at,
      }));
    }
    default:
      return [];
  }
}

/**
 * Sends the Events of a run as it goes, a few at a time, never holding the engine up; the first
 * failure is said once (through `warn`) and later Events are not tried. `settled()` waits for
 * those under way, within a deadline.
 */
export class PodEventRecorder {
  private plan: Plan | undefined;
  private readonly uids = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();
  private failed = false;

  constructor(
    private readonly records: ClusterRecords,
    private readonly runId: string,
    /** the runner's pod, or its host: which runner reported */
    private readonly instance: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** The target pods as resolved (their UIDs: kubectl describe matches Events by it). */
  targets(pods: readonly PodInfo[]): void {
    for (const p of pods) this.uids.set(`${p.namespace}/${p.name}`, p.uid);
  }

  readonly observe = (e: EngineEvent): void => {
    if (e.type === "run:start") this.plan = e.plan;
    if (this.failed) return;
    for (const draft of podEventsOf(e, this.plan, this.runId)) this.send(draft);
  };

  private send(d: Draft): void {
    const uid = this.uids.get(`${d.pod.namespace}/${d.pod.name}`) ?? "";
    const message = processRedactor().text(d.message).slice(0, MESSAGE_MAX);
    const p = this.records
      .createEvent({ ...d, message, pod: { ...d.pod, uid }, reportingInstance: this.instance })
      .catch((err: unknown) => {
        if (this.failed) return;
        this.failed = true;
        this.warn(`could not record Events on the target pods (no more are tried): ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves once the Events under way are sent or failed, or after `deadlineMs`. */
  async settled(deadlineMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.all([...this.pending]), deadline]);
    clearTimeout(timer);
  }
}
