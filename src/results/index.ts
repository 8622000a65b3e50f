// The results room: what runs leave in the cluster (Events, result ConfigMaps, Pushgateway
// metrics), read back (history, report --from-cluster, compare). An observer of the engine and a
// reader of journals: nothing here is called by the engine. What other rooms read stored runs
// through:
//   loadStoredRun(records, namespace, name)          one stored run's journal, by its name
//   latestStoredRuns(records, namespace, scenario, n) the newest n of a scenario, newest first
import { UsageError } from "../errors.js";
import type { ClusterRecords } from "../kube/types.js";
import type { Journal } from "../report/journal.js";
import { RESULTS_SELECTOR, decodeJournal, newestFirst, scenarioSelector, storedRunRef, type StoredRunRef } from "./stored.js";

export type { StoredRunRef, RunSummary } from "./stored.js";
export type { KeyFigure } from "./figures.js";

export interface StoredRun {
  readonly ref: StoredRunRef;
  readonly journal: Journal;
}

/** One stored run: its journal, and what had to be dropped from it to fit (ref.trimmed). Exit 2 when there is no such result. */
export async function loadStoredRun(records: ClusterRecords, namespace: string, name: string): Promise<StoredRun> {
  const cm = await records.readConfigMap(namespace, name);
  if (cm === undefined || cm.labels["app.kubernetes.io/component"] !== "result") {
    throw new UsageError(`no chaos-run result ${name} in namespace ${namespace}`, { hint: `chaos-run history -n ${namespace} lists them` });
  }
  return { ref: storedRunRef(cm), journal: decodeJournal(cm) };
}

/** The stored runs of a namespace (every namespace: undefined), of one scenario or all, newest first. */
export async function listStoredRuns(records: ClusterRecords, namespace: string | undefined, scenario?: string): Promise<StoredRunRef[]> {
  const metas = await records.listConfigMaps(namespace, scenario === undefined ? RESULTS_SELECTOR : scenarioSelector(scenario));
  return newestFirst(metas.map(storedRunRef));
}

/** The newest `n` stored runs of a scenario, newest first, each with its journal. */
export async function latestStoredRuns(records: ClusterRecords, namespace: string, scenario: string, n: number): Promise<StoredRun[]> {
  const refs = (await listStoredRuns(records, namespace, scenario)).slice(0, n);
  return Promise.all(refs.map((r) => loadStoredRun(records, r.namespace, r.name)));
}
