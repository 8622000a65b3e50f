// The runs `chaos-run compare` reads from the cluster (the results runs leave there: src/results):
// `--from-cluster NAME` (once or twice; the stored runs come first, as BASE then NEW, files after)
// or `--last N SCENARIO` (the newest stored run of SCENARIO against the Nth newest). Only these
// connect: the cluster adapter, and client-node with it, are imported here and only when asked.
// A stored journal is checked as a file's is; one trimmed to fit the cluster says what it lost.
// The names asked for are checked before anything connects: they go into an API path and a label
// selector, where a stray "," or "/" would ask for something else.
import { checkJournal } from "../compare/index.js";
import { UsageError } from "../errors.js";
import type { ConnectedCluster } from "../kube/types.js";
import type { Journal } from "../report/journal.js";
import type { StoredRun } from "../results/index.js";
import type { VerbContext } from "./io.js";

/** A run to compare, and what the comparison should say of it (its journal was trimmed to fit the cluster). */
export interface RunToCompare {
  readonly journal: Journal;
  readonly note: string | undefined;
}

async function withCluster<T>(ctx: VerbContext, body: (cluster: ConnectedCluster, namespace: string) => Promise<T>): Promise<T> {
  const { connectFromFlags } = await import("./cluster.js");
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    return await body(cluster, ctx.globals.namespace ?? cluster.identity.namespace);
  } finally {
    cluster.close();
  }
}

// A ConfigMap's name (a DNS subdomain) and a scenario's (a DNS label: the scenario schema's pattern).
const RESULT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SCENARIO_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkResultName(name: string): void {
  if (name.length > 253 || !RESULT_NAME.test(name)) {
    throw new UsageError(`--from-cluster takes a result's name (a ConfigMap's: lower-case letters, digits, '-' and '.'), not ${JSON.stringify(name)}`, {
      hint: "chaos-run history lists the results by name",
    });
  }
}

function checkScenarioName(scenario: string, n: number): void {
  if (scenario.length > 63 || !SCENARIO_NAME.test(scenario)) {
    throw new UsageError(`--last ${n} takes a scenario's name (lower-case letters, digits and '-', as its metadata.name), not ${JSON.stringify(scenario)}`, {
      hint: "chaos-run history lists the scenarios with runs kept",
    });
  }
}

/** A stored run as compare reads it: its journal checked, and a note when it was trimmed to fit the cluster. */
export function fromStored(run: StoredRun, side: "base" | "new"): RunToCompare {
  const where = `result ${run.ref.namespace}/${run.ref.name}`;
  const journal = checkJournal(run.journal, where, `chaos-run history -n ${run.ref.namespace} lists the results`);
  const note = run.ref.trimmed === undefined ? undefined : `the ${side} run (${where}) was trimmed to fit the cluster: ${run.ref.trimmed}`;
  return { journal, note };
}

/** `--from-cluster NAME…`: the stored runs by name, in the order given. */
export async function storedByName(ctx: VerbContext, names: readonly string[]): Promise<RunToCompare[]> {
  for (const name of names) checkResultName(name);
  const { loadStoredRun } = await import("../results/index.js");
  const runs = await withCluster(ctx, (cluster, namespace) => Promise.all(names.map((name) => loadStoredRun(cluster, namespace, name))));
  return runs.map((r, i) => fromStored(r, i === 0 ? "base" : "new"));
}

/**
 * `--last N SCENARIO`: the Nth newest stored run of the scenario as BASE, the newest as NEW. Only
 * those two journals are read (each up to a MiB); the runs between are listed, not loaded.
 */
export async function storedLatest(ctx: VerbContext, scenario: string, n: number): Promise<[RunToCompare, RunToCompare]> {
  checkScenarioName(scenario, n);
  const { listStoredRuns, loadStoredRun } = await import("../results/index.js");
  const [base, newest] = await withCluster(ctx, async (cluster, namespace) => {
    const refs = await listStoredRuns(cluster, namespace, scenario);
    const [newestRef, baseRef] = [refs[0], refs[n - 1]];
    if (newestRef === undefined || baseRef === undefined) {
      throw new UsageError(`--last ${n} needs ${n} stored runs of ${scenario} in namespace ${namespace}; there ${refs.length === 1 ? "is 1" : `are ${refs.length}`}`, {
        hint: `chaos-run history -n ${namespace} ${scenario} lists them (runs are kept with run --record, and always inside the cluster)`,
      });
    }
    return Promise.all([loadStoredRun(cluster, namespace, baseRef.name), loadStoredRun(cluster, namespace, newestRef.name)]);
  });
  return [fromStored(base, "base"), fromStored(newest, "new")];
}
