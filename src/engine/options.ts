// How a run is to be run: what the CLI decides (targets, timeouts, concurrency, detach), as opposed
// to what the plan says (steps, faults, probes). The engine reads these and never changes them.
import type { PodInfo } from "../kube/types.js";
import type { PodRef } from "./events.js";
import type { HttpGet } from "../probes/fetch.js";

export interface EngineOptions {
  readonly runId: string;
  /** target pods, as read when the plan was made */
  readonly pods: readonly PodInfo[];
  readonly namespace: string;
  /** pods worked on at once */
  readonly concurrency: number;
  readonly injectTimeoutMs: number;
  readonly execTimeoutMs: number;
  /** how long reverting one fault may take, retries included, once its step is over */
  readonly revertDeadlineMs: number;
  /** bound on one probe's exec (ab's run) */
  readonly probeTimeoutMs: number;
  /**
   * disrupt --detach: once applied, faults are left to the agent's lease (which the plan sets
   * to the fault's duration) instead of being held and reverted here.
   */
  readonly handOffToLease: boolean;
  /** environment for {{ env.NAME }} in probe URLs (read by the CLI) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** keep the tools pods this run created (default: delete them at the end) */
  readonly keepTools: boolean;
  /** HTTP from the runner (prometheus probes); default Node's fetch */
  readonly httpGet?: HttpGet | undefined;
  readonly now: () => number;
  /** kill and podDelete steps end as soon as every pod has recovered, rather than hold their whole window (the seed verbs) */
  readonly untilRecovered?: boolean | undefined;
  /** false: no fault travels with a fresh agent (first-fault.ts: the first step's with the pods' agents, a stress step's with its own), each is sent it by exec; default true */
  readonly firstFaultWithAgent?: boolean | undefined;
  /** the pod this run itself runs in (a Job in the cluster): refused at preflight as a target */
  readonly runnerPod?: PodRef | undefined;
}
