// chaos-run inside the cluster (issue 22), on the host lab: the manifests `chaos-run job` prints,
// applied as they are with kubectl, run the working tree's runner image (test/lab/build-images
// chaos-run) as the ServiceAccount they create, with the Role derived from the scenario's plan.
// A Job passes and leaves its Events, its result (history lists it, report --from-cluster
// renders it) and its metrics (pushed to the lab's Pushgateway, read back from Prometheus); a
// CronJob every minute runs twice, never at once, pruning to its last result; a Job deleted
// mid-fault reverts it (SIGTERM) within the lease; a Role short of one right fails at preflight
// naming it, nothing touched; a selector that matches the runner's own pod is refused.
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { chaosRun } from "../support/chaos.js";
import { chaosObjects } from "../support/host.js";
import { getPod, kubeconfig, kubectl, kubectlOk, makeNamespace, repoRoot, run, waitFor, waitReady } from "../support/lab.js";

const targets = "incluster-target";
const jobs = "incluster-jobs";
// the CronJob's runner and results apart, its target nginx-cron: it runs beside the other tests
const cronJobs = "incluster-cron";
const fixture = (name: string): string => join(repoRoot, "test/fixtures/in-cluster", name);
const pushgateway = "http://198.19.255.1:29091";

/** `chaos-run job ARGS` (the built CLI, offline: no kubeconfig), its manifests. */
async function manifests(args: readonly string[]): Promise<string> {
  const r = await chaosRun(["job", ...args], { KUBECONFIG: "/nonexistent" });
  if (r.code !== 0) throw new Error(`chaos-run job failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** `kubectl apply -f -`; a Job of the same name (a retry's) deleted first, so that it runs again. */
async function apply(yaml: string): Promise<void> {
  for (const d of parseAllDocuments(yaml)) {
    const o = d.toJS() as { kind?: string; metadata?: { name: string; namespace: string } } | null;
    if (o?.kind === "Job" && o.metadata !== undefined) await kubectlOk(["delete", "job", o.metadata.name, "-n", o.metadata.namespace, "--ignore-not-found", "--cascade=foreground", "--wait=true"]);
  }
  const r = await run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: yaml });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

interface JobJson {
  metadata: { name: string; creationTimestamp: string };
  status: { startTime?: string; completionTime?: string; conditions?: { type: string; status: string }[] };
}

/** Waits for the Job to end: "Complete" or "Failed". */
async function jobEnd(name: string, timeoutMs = 120_000): Promise<string> {
  return waitFor(
    `job ${jobs}/${name} to end`,
    async () => {
      const r = await kubectl(["get", "job", name, "-n", jobs, "-o", "json"]);
      if (r.code !== 0) return undefined;
      const c = (JSON.parse(r.stdout) as JobJson).status.conditions?.find((x) => (x.type === "Complete" || x.type === "Failed") && x.status === "True");
      return c?.type;
    },
    timeoutMs,
    500,
  );
}

/** The Job's runner pod: its container's exit code and its log. */
async function runnerOf(job: string, namespace = jobs): Promise<{ name: string; exitCode: number | undefined; log: string }> {
  const pods = JSON.parse(await kubectlOk(["get", "pods", "-n", namespace, "-l", `job-name=${job}`, "-o", "json"])) as {
    items: { metadata: { name: string }; status: { containerStatuses?: { state: { terminated?: { exitCode: number } } }[] } }[];
  };
  const pod = pods.items[0];
  if (pod === undefined) throw new Error(`no pod of job ${job}`);
  const log = await kubectlOk(["logs", "-n", namespace, pod.metadata.name]);
  return { name: pod.metadata.name, exitCode: pod.status.containerStatuses?.[0]?.state.terminated?.exitCode, log };
}

interface EventJson {
  reason: string;
  type: string;
  message: string;
  reportingComponent?: string;
  source?: { component?: string };
  involvedObject: { uid?: string };
}

async function eventsOn(pod: string): Promise<EventJson[]> {
  const r = JSON.parse(await kubectlOk(["get", "events", "-n", targets, "--field-selector", `involvedObject.name=${pod}`, "-o", "json"])) as { items: EventJson[] };
  return r.items;
}

interface ResultJson {
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
}

/** The scenario's results (not the ConfigMap that holds the scenario itself, labelled with it too). */
async function results(scenario: string, namespace = jobs): Promise<ResultJson[]> {
  const selector = `app.kubernetes.io/component=result,chaos-run.dev/scenario=${scenario}`;
  return (JSON.parse(await kubectlOk(["get", "configmaps", "-n", namespace, "-l", selector, "-o", "json"])) as { items: ResultJson[] }).items;
}

const ephemeralCount = async (ns: string, pod: string): Promise<number> => (await getPod(ns, pod))?.spec.ephemeralContainers?.length ?? 0;

beforeAll(async () => {
  // the runner image and the agent it adds, both from this working tree (each rebuilt only when its sources changed)
  const built = await run([join(repoRoot, "test/lab/build-images"), "chaos-run", "chaos-agent"], { timeoutMs: 600_000 });
  if (built.code !== 0) throw new Error(`the runner's and the agent's images did not build:\n${built.stderr}`);
  await makeNamespace(targets, "privileged");
  // the runner passes the strictest level
  await makeNamespace(jobs, "restricted");
  await makeNamespace(cronJobs, "restricted");
  await kubectlOk(["run", "nginx", "-n", targets, "--image", "nginx", "--labels", "run=nginx"]);
  await kubectlOk(["run", "nginx-cron", "-n", targets, "--image", "nginx", "--labels", "run=nginx-cron"]);
  await waitReady(targets, "nginx", 60_000);
  await waitReady(targets, "nginx-cron", 60_000);
  // the CronJob starts now and is looked at last: its two runs take two to three minutes, the other tests' time among them
  await apply(await manifests([fixture("partition-held.yaml"), "-n", cronJobs, "--schedule", "* * * * *", "--keep", "1", "--name", "incluster-cron"]));
}, 660_000);

// a CronJob left behind would run every minute into the next test files
afterAll(async () => {
  await kubectl(["delete", "cronjob", "incluster-cron", "-n", cronJobs, "--ignore-not-found"]);
});

describe("a Job from chaos-run job's manifests", () => {
  it("runs the scenario as its ServiceAccount, and leaves Events on the pod, its result, and its metrics", { timeout: 240_000 }, async () => {
    const yaml = await manifests([fixture("partition-passes.yaml"), "-n", jobs, "--pushgateway", pushgateway]);
    await apply(yaml);
    expect(await jobEnd("chaos-run-incluster-partition")).toBe("Complete");
    const runner = await runnerOf("chaos-run-incluster-partition");
    expect(runner.exitCode, runner.log).toBe(0);
    expect(runner.log).toMatch(/PASS incluster-partition: 3 of 3 expectations held \(exit 0\)/);
    expect(runner.log).toMatch(/run [a-z0-9]{8}: incluster-partition on nginx \(namespace incluster-target, context in-cluster\)/);
    expect(await chaosObjects(targets, "nginx")).toEqual([]);

    // Events on the target pod, as kubectl shows them (matched to the pod by its UID)
    const uid = (await getPod(targets, "nginx"))?.metadata.uid;
    const events = await eventsOn("nginx");
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(["FaultApplied", "FaultReverted", "ExperimentPassed"]));
    for (const e of events.filter((x) => x.reportingComponent === "chaos-run")) expect(e.involvedObject.uid).toBe(uid);
    expect(events.find((e) => e.reason === "ExperimentPassed")?.message).toMatch(/^chaos-run incluster-partition run [a-z0-9]{8} passed \(exit 0\)/);
    const described = await kubectlOk(["describe", "pod", "nginx", "-n", targets]);
    expect(described).toMatch(/Normal\s+FaultReverted\s+\S+\s+chaos-run\s+step 1 \(cut port 80\)/);

    // its result, labelled; history lists it; report --from-cluster renders it
    const [result] = await results("incluster-partition");
    expect(result?.metadata.labels).toMatchObject({ "chaos-run.dev/verdict": "passed", "chaos-run.dev/exit-code": "0", "app.kubernetes.io/instance": "chaos-run-incluster-partition" });
    const name = result?.metadata.name ?? "";
    // the journal it holds says who ran it: the Job's ServiceAccount
    const cm = JSON.parse(await kubectlOk(["get", "configmap", name, "-n", jobs, "-o", "json"])) as { binaryData: Record<string, string> };
    const journal = JSON.parse(gunzipSync(Buffer.from(cm.binaryData["journal.json.gz"] ?? "", "base64")).toString("utf8")) as { cluster: { user: string } };
    expect(journal.cluster.user).toBe(`system:serviceaccount:${jobs}:chaos-run-incluster-partition`);
    const history = await chaosRun(["history", "-n", jobs, "incluster-partition", "--kubeconfig", kubeconfig]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(new RegExp(`incluster-partition\\s+passed \\(3/3\\)\\s+0\\s+\\S+\\s+s1 errors \\d+(\\.\\d)?%\\s+${name}`));
    const md = await chaosRun(["report", "--from-cluster", name, "-n", jobs, "--format", "md", "--kubeconfig", kubeconfig]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain("PASS incluster-partition: 3 of 3 expectations held (exit 0)");

    // its metrics, pushed from the pod and scraped: read back with a PromQL query
    const query = `chaos_run_passed{job="chaos-run",scenario="incluster-partition",namespace="${targets}"} == 1 and on(scenario) chaos_run_error_ratio{step="1",probe="web"} > 0`;
    const answer = await waitFor(
      "the run's metrics in Prometheus",
      async () => {
        const res = await fetch(`http://127.0.0.1:29090/api/v1/query?query=${encodeURIComponent(query)}`);
        const body = (await res.json()) as { data: { result: unknown[] } };
        return body.data.result.length > 0 ? body.data.result : undefined;
      },
      30_000,
      1000,
    );
    expect(answer).toHaveLength(1);
  });

  it("a Role short of one right: the Job fails at preflight naming it (exit 3), nothing touched", { timeout: 120_000 }, async () => {
    const before = await ephemeralCount(targets, "nginx");
    const docs = parseAllDocuments(await manifests([fixture("partition-passes.yaml"), "-n", jobs, "--name", "incluster-denied"]));
    // the targets' Role lets it create execs but not get them: what a websocket's exec is authorized as
    let cut = 0;
    for (const d of docs) {
      const o = d.toJS() as { kind?: string; metadata?: { namespace?: string }; rules?: { resources: string[]; verbs: string[] }[] };
      if (o.kind !== "Role" || o.metadata?.namespace !== targets) continue;
      const exec = o.rules?.findIndex((r) => r.resources.includes("pods/exec")) ?? -1;
      expect(o.rules?.[exec]?.verbs).toEqual(["get", "create"]);
      d.setIn(["rules", exec, "verbs"], ["create"]);
      cut++;
    }
    expect(cut).toBe(1);
    await apply(docs.map((d) => d.toString()).join("---\n"));
    expect(await jobEnd("incluster-denied")).toBe("Failed");
    const runner = await runnerOf("incluster-denied");
    expect(runner.exitCode).toBe(3);
    expect(runner.log).toContain(`system:serviceaccount:${jobs}:incluster-denied may not get pods/exec in namespace ${targets} (nothing was touched)`);
    expect(await ephemeralCount(targets, "nginx")).toBe(before);
    expect((await kubectl(["get", "pod", `chaos-tools-${/run ([a-z0-9]{8})/.exec(runner.log)?.[1] ?? "x"}`, "-n", targets])).code).not.toBe(0);
  });

  it("a selector that matches the runner's own pod is refused, nothing touched", { timeout: 120_000 }, async () => {
    await apply(await manifests([fixture("targets-runner.yaml"), "-n", jobs, "--name", "incluster-self"]));
    expect(await jobEnd("incluster-self")).toBe("Failed");
    const runner = await runnerOf("incluster-self");
    expect(runner.exitCode).toBe(3);
    expect(runner.log).toContain(`the target selector app.kubernetes.io/name=chaos-run matches this run's own pod ${jobs}/${runner.name}: a run never targets itself (nothing was touched)`);
    expect(await ephemeralCount(jobs, runner.name)).toBe(0);
  });

  it("deleted mid-fault: the runner's SIGTERM reverts the fault within the lease, and the result says so", { timeout: 180_000 }, async () => {
    await apply(await manifests([fixture("partition-deleted.yaml"), "-n", jobs]));
    await waitFor("the partition in effect", async () => ((await chaosObjects(targets, "nginx")).length > 0 ? true : undefined), 90_000, 250);
    const deleted = performance.now();
    await kubectlOk(["delete", "job", "chaos-run-incluster-deleted", "-n", jobs, "--wait=false"]);
    await waitFor("the partition's table gone from the pod", async () => ((await chaosObjects(targets, "nginx")).length === 0 ? true : undefined), 30_000, 100);
    const tookMs = performance.now() - deleted;
    // within the agent's lease (15 s): the revert came from the runner, not from the lease
    expect(tookMs).toBeLessThan(15_000);
    const [result] = await waitFor("the interrupted run's result", async () => {
      const r = await results("incluster-deleted");
      return r.length > 0 ? r : undefined;
    });
    expect(result?.metadata.labels).toMatchObject({ "chaos-run.dev/verdict": "interrupted", "chaos-run.dev/exit-code": "143" });
    expect((await eventsOn("nginx")).map((e) => e.reason)).toContain("ExperimentInterrupted");
  });
});

describe("a CronJob from chaos-run job --schedule", () => {
  // Each run holds its fault for 65 s: the first is still going at the next minute's tick, which
  // concurrencyPolicy Forbid holds back until it ended (the controller starts the missed run then,
  // within its startingDeadlineSeconds). Runs shorter than a minute would never overlap anyway.
  it("runs every minute, never two at once, and keeps the scenario's last result (--keep 1)", { timeout: 330_000 }, async () => {
    const complete = (j: JobJson): boolean => j.status.conditions?.some((c) => c.type === "Complete" && c.status === "True") === true;
    const done = await waitFor(
      "two runs of the CronJob",
      async () => {
        const list = JSON.parse(await kubectlOk(["get", "jobs", "-n", cronJobs, "-l", "app.kubernetes.io/instance=incluster-cron", "-o", "json"])) as { items: JobJson[] };
        return list.items.filter(complete).length >= 2 ? list.items : undefined;
      },
      320_000,
      2000,
    );
    const [first, second] = done.sort((a, b) => Date.parse(a.status.startTime ?? "") - Date.parse(b.status.startTime ?? ""));
    expect([first, second].map((j) => (j !== undefined && complete(j) ? "Complete" : "not complete"))).toEqual(["Complete", "Complete"]);
    const firstEnd = Date.parse(first?.status.completionTime ?? "");
    // the first run spanned a tick (the test means something), and the second started only after it ended
    expect(firstEnd - Date.parse(first?.status.startTime ?? "")).toBeGreaterThan(60_000);
    expect(Date.parse(second?.status.startTime ?? "")).toBeGreaterThanOrEqual(firstEnd);
    const held = await kubectlOk(["get", "events", "-n", cronJobs, "--field-selector", "involvedObject.kind=CronJob,reason=JobAlreadyActive", "-o", "name"]);
    expect(held.trim()).not.toBe("");
    // both passed, and the second pruned the first's result
    for (const job of [first, second]) expect((await runnerOf(job?.metadata.name ?? "", cronJobs)).exitCode).toBe(0);
    const kept = await results("incluster-held", cronJobs);
    expect(kept).toHaveLength(1);
    const secondLog = (await runnerOf(second?.metadata.name ?? "", cronJobs)).log;
    expect(secondLog).toContain(`result: configmap ${kept[0]?.metadata.name ?? "?"} in namespace ${cronJobs}`);
    // the CronJob deleted with the run it has going by then (a third): reverted as it stops
    await kubectlOk(["delete", "cronjob", "incluster-cron", "-n", cronJobs, "--cascade=foreground", "--wait=true"]);
    expect(await chaosObjects(targets, "nginx-cron")).toEqual([]);
  });
});
