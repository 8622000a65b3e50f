// Recording a run in the cluster (`--record`, and every run inside the cluster): its rights checked
// before anything is touched, Events on the target pods as it goes (events.ts), then its result
// stored as a ConfigMap and the scenario's results beyond the last N pruned. The CLI wires it as
// one more observer of the engine's events; the engine never calls it.
import { CouldNotRunError } from "../errors.js";
import type { Cluster, ClusterRecords } from "../kube/types.js";
import type { Journal } from "../report/journal.js";
import { processRedactor } from "../scenario/redact.js";
import { RECORD_DEADLINE_MS, recordAccess } from "./access.js";
import { PodEventRecorder } from "./events.js";
import { beyondKept, encodeJournal, resultConfigMap, scenarioSelector, storedRunRef } from "./stored.js";

/** Results kept per scenario unless told otherwise. */
export const DEFAULT_KEEP = 20;

export interface RecordSettings {
  /** where results are kept: the runner's pod's namespace in the cluster, else the run's */
  readonly namespace: string;
  /** results kept per scenario */
  readonly keep: number;
  /** the runner's instance (the Job's or CronJob's name): the result's app.kubernetes.io/instance */
  readonly instance: string | undefined;
  /** which runner reports the Events: its pod, or its host */
  readonly reporter: string;
}

export interface Recorded {
  readonly namespace: string;
  readonly name: string;
  /** what was dropped to fit the object; empty: nothing */
  readonly trimmed: readonly string[];
  /** results of the scenario pruned */
  readonly pruned: number;
}

/** Resolves with the promise's value, or rejects saying what took longer than `ms`. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class RunRecorder {
  readonly events: PodEventRecorder;

  constructor(
    private readonly records: ClusterRecords,
    runId: string,
    private readonly settings: RecordSettings,
    private readonly warn: (message: string) => void,
  ) {
    this.events = new PodEventRecorder(records, runId, settings.reporter, warn);
  }

  /** Before anything is touched: may the runner record? Exit 3 naming what it may not do. */
  async checkAccess(cluster: Cluster, targetNamespace: string): Promise<void> {
    const checks = recordAccess(targetNamespace, this.settings.namespace);
    const answers = await Promise.all(checks.map(async (c) => ({ c, allowed: await cluster.canI(c) })));
    const denied = answers.filter((a) => !a.allowed).map((a) => `${a.c.verb} ${a.c.resource} in namespace ${a.c.namespace}`);
    if (denied.length === 0) return;
    throw new CouldNotRunError(`${cluster.identity.user || "this user"} may not ${denied.join(", ")}, which recording the run needs (nothing was touched)`, {
      hint: "chaos-run job grants them to its runner (or deploy/rbac.yaml's ClusterRole chaos-run, bound where results are kept); or run without --record",
    });
  }

  /** The finished run kept: Events sent, the result stored, the scenario's oldest results pruned. Each step bounded; a failure is said, never thrown. */
  async finish(journal: Journal): Promise<Recorded | undefined> {
    const deadline = RECORD_DEADLINE_MS / 3;
    await this.events.settled(deadline);
    const redacted = processRedactor().value(journal);
    const encoded = encodeJournal(redacted);
    const spec = resultConfigMap(redacted, { instance: this.settings.instance }, encoded);
    const namespace = this.settings.namespace;
    try {
      await within(deadline, "storing the result", this.records.createConfigMap(namespace, spec));
    } catch (e) {
      this.warn(`could not store the run's result ${spec.name} in namespace ${namespace}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    return { namespace, name: spec.name, trimmed: encoded.trimmed, pruned: await this.prune(journal.scenario.name, deadline) };
  }

  /** Deletes the scenario's results beyond the newest `keep`; how many went. */
  private async prune(scenario: string, deadlineMs: number): Promise<number> {
    const { namespace, keep } = this.settings;
    try {
      const all = await within(deadlineMs, "listing the scenario's results", this.records.listConfigMaps(namespace, scenarioSelector(scenario)));
      const beyond = beyondKept(all.map(storedRunRef), keep);
      await within(deadlineMs, "pruning the scenario's results", Promise.all(beyond.map((r) => this.records.deleteConfigMap(r.namespace, r.name))));
      return beyond.length;
    } catch (e) {
      this.warn(`could not prune ${scenario}'s results beyond the last ${keep}: ${e instanceof Error ? e.message : String(e)}`);
      return 0;
    }
  }
}
