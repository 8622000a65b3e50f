// DNS faults on the real node against the lab's real CoreDNS (kube-dns, the kubernetes plugin):
// the agent's resolver in the pod's network namespace answers the pod's queries for the names
// that match and forwards the others to CoreDNS untouched. Measured with the dns probe, which
// resolves from inside each target pod through its agent as the pod's resolver does: each action
// and its rate (binomial bounds, ±4.5 standard deviations), a matched name failing while another
// resolves, TCP queries, a delay, the revert (the names resolve again at the next step), and a pod
// with dnsPolicy: None whose own nameserver (CoreDNS's pod address) is faulted all the same. And
// an agent SIGKILLed from the node while it holds the fault (a pod of its own): a fresh agent
// reverts it at once and the pod's own resolver (getent in its nginx container) resolves again.
// And IPv6-only pods: the kubelet gives them the kube-dns Service's address, IPv4 (the lab's
// Service range is), which they cannot reach — the fault is refused there; with CoreDNS's pod
// IPv6 address in dnsConfig the fault redirects their queries over IPv6.
//
// A query may go astray, and the assertions allow for a few (at most ANOMALIES of 200), saying
// how many: a UDP query from a source port that conntrack holds an entry for keeps that entry's
// NAT decision. The apply deletes the entries of the pod's earlier queries (without it, 2 and 6
// of the addresses step's 200 went to CoreDNS unfaulted, one run), and the revert those of the
// flows it redirected; what is left is a probe's socket given the source port of one of the
// resolver's own forwarded queries of the step (their entries live 30 s): about 200 × 20 / 28,000
// ≈ 0.14 expected in that step (0 and 0 in two runs), and a query timed out on a loaded machine.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Journal, JournalProbe } from "../../src/report/journal.js";
import { chaosRun, startChaosRun } from "../support/chaos.js";
import { agentProcess } from "../support/host.js";
import { getPod, kubeconfig, kubectl, kubectlOk, makeNamespace, waitFor, waitReady } from "../support/lab.js";

const ns = "dns-test";
const asAdmin = ["--kubeconfig", kubeconfig, "-n", ns];
const dir = mkdtempSync(join(tmpdir(), "chaos-run-dns-"));
/** A Service of the test's own: CoreDNS answers its name with its ClusterIP. */
const db = `db.${ns}.svc.cluster.local`;
const other = "kubernetes.default.svc.cluster.local";
let corednsIp = "";

/** The newest journal of a run under `reports`. */
function journalIn(reports: string, name: string): Journal {
  const sub = readdirSync(reports)
    .filter((d) => d.startsWith(`${name}-`))
    .sort()
    .at(-1);
  if (sub === undefined) throw new Error(`no ${name} run in ${reports}`);
  return JSON.parse(readFileSync(join(reports, sub, "journal.json"), "utf8")) as Journal;
}

/** ±4.5 standard deviations of binomial(n, p): a false failure about once in 150,000 runs. */
function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.floor(n * p - 4.5 * sd), Math.ceil(n * p + 4.5 * sd)];
}

/** `getent hosts NAME` in the pod's own container: the pod's resolver (glibc, its resolv.conf). */
async function resolves(pod: string, name: string): Promise<boolean> {
  return (await kubectl(["exec", "-n", ns, pod, "-c", pod, "--", "getent", "hosts", `${name}.`], kubeconfig, 15_000)).code === 0;
}

/** The CHAOS- tables and chains left in the pod, read with nft from a container of the lab's inspection image. */
async function chaosTables(pod: string): Promise<string[]> {
  const p = await getPod(ns, pod);
  if (!(p?.spec.ephemeralContainers ?? []).some((c) => c.name === "inspect")) {
    await kubectlOk(["debug", "-n", ns, pod, "--image", "lab-inspect", "-c", "inspect", "--profile", "netadmin", "--", "sleep", "infinity"]);
    await waitFor(
      "the inspect container",
      async () => ((await getPod(ns, pod))?.status.ephemeralContainerStatuses?.find((s) => s.name === "inspect")?.state.running !== undefined ? true : undefined),
      60_000,
    );
  }
  const r = await kubectl(["exec", "-n", ns, pod, "-c", "inspect", "--", "nft", "list", "ruleset"]);
  return r.stdout.split("\n").filter((l) => l.includes("CHAOS-"));
}

beforeAll(async () => {
  await makeNamespace(ns);
  const coredns = JSON.parse(await kubectlOk(["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"])) as { items: { status: { podIP?: string } }[] };
  corednsIp = coredns.items[0]?.status.podIP ?? "";
  expect(corednsIp, "CoreDNS runs in the lab").not.toBe("");
  await kubectlOk(["create", "service", "clusterip", "db", "-n", ns, "--tcp", "80:80"]);
  await kubectlOk(["run", "web", "-n", ns, "--image", "nginx"]);
  await kubectlOk(["run", "victim", "-n", ns, "--image", "nginx"]);
  // its own nameserver, not the cluster's: CoreDNS's pod address, reached directly
  const pinned = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "pinned", namespace: ns, labels: { run: "pinned" } },
    spec: {
      containers: [{ name: "pinned", image: "nginx", imagePullPolicy: "IfNotPresent" }],
      dnsPolicy: "None",
      dnsConfig: { nameservers: [corednsIp], searches: [`${ns}.svc.cluster.local`], options: [{ name: "ndots", value: "2" }] },
    },
  };
  const file = join(dir, "pinned.json");
  writeFileSync(file, JSON.stringify(pinned));
  await kubectlOk(["apply", "-f", file]);
  await waitReady(ns, "web", 60_000);
  await waitReady(ns, "pinned", 60_000);
  await waitReady(ns, "victim", 60_000);
  expect(await resolves("web", db)).toBe(true);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCENARIO = `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: dns-actions }
target: { namespace: ${ns}, pods: [web, pinned], mode: all }
agent: { lease: 5s }
probes:
  hit: { dns: { names: ["${db}."], count: 200, timeout: 1s } }
  other: { dns: { names: ["${other}."], count: 20, timeout: 1s } }
  hitTcp: { dns: { names: ["${db}."], count: 60, tcp: true, timeout: 1s } }
  relative: { dns: { names: [db], count: 10, timeout: 1s } }
  few: { dns: { names: ["${db}."], count: 10, timeout: 300ms } }
steadyState:
  - probe: hit
    expect: { errorRatio: { atMost: 5% } }
steps:
  - name: nxdomain
    fault: { dns: { names: ["db.*"], answer: nxdomain, rate: "50%" } }
    duration: 1s
    during: [{ probe: hit }, { probe: other }, { probe: hitTcp }, { probe: relative }]
  - name: servfail
    fault: { dns: { names: ["DB.${ns}.svc.cluster.local."], answer: servfail, rate: "20%" } }
    duration: 1s
    during: [{ probe: hit }]
  - name: refused
    fault: { dns: { names: ["*.${ns}.svc.cluster.local"], answer: refused, rate: "80%" } }
    duration: 1s
    during: [{ probe: hit }]
  - name: addresses
    fault: { dns: { names: ["d*.*"], answer: [10.0.0.9, "fd00::9"] } }
    duration: 1s
    during: [{ probe: hit }, { probe: other }]
  - name: timeout
    fault: { dns: { names: ["db.*"], answer: timeout, rate: "50%" } }
    duration: 1s
    during: [{ probe: few }]
  - name: delay
    fault: { dns: { names: ["db.*"], delay: 150ms, jitter: 10ms } }
    duration: 1s
    during: [{ probe: few }, { probe: other }]
  - name: after
    probe: hit
`;

/** The step's run of a probe in a pod. */
function probeIn(j: Journal, step: number, probe: string, pod: string): JournalProbe {
  const found = j.probes.find((p) => p.step === step && p.probe === probe && p.pod === pod && !p.aggregate);
  if (found === undefined) throw new Error(`no ${probe} in pod ${pod} at step ${step + 1}`);
  return found;
}

const m = (p: JournalProbe, k: string): number => p.metrics[k] ?? Number.NaN;

/** Queries of a 200 that may go astray through the resolver's own conntrack entries, or time out (see the top). */
const ANOMALIES = 3;

/** The queries of a probe run that got an answer code, any; those that did not (a timeout, an error) said, and at most ANOMALIES. */
function answeredOf(p: JournalProbe, label: string): number {
  const rcodes = Object.entries(p.metrics).filter(([k]) => k.startsWith("rcode."));
  const coded = rcodes.reduce((a, [, v]) => a + (v ?? 0), 0);
  const lost = m(p, "queries") - coded;
  if (lost > 0) console.log(`${label}: ${lost} of ${m(p, "queries")} queries got no answer code (${p.detail ?? ""})`);
  expect(lost, `${label}: ${p.detail}`).toBeLessThanOrEqual(ANOMALIES);
  return coded;
}

/** An rcode's count in a probe run within binomial bounds of the queries that got an answer code. */
function withinRate(p: JournalProbe, rcode: string, rate: number, label: string): void {
  const [lo, hi] = binomialBounds(answeredOf(p, label), rate);
  expect(m(p, `rcode.${rcode}`), `${label}: ${p.detail}`).toBeGreaterThanOrEqual(lo);
  expect(m(p, `rcode.${rcode}`), `${label}: ${p.detail}`).toBeLessThanOrEqual(hi);
}

describe("an agent that dies holding a dns fault", () => {
  it("SIGKILLed from the node: a fresh agent reverts it at once, the pod's own resolver answers again, and the run exits 3 saying so", async () => {
    const run = startChaosRun(["dns", "-p", "victim", "--name", "db.*", "--answer", "servfail", "-r", "15", ...asAdmin]);
    const ready = await run.waitFor(/agent (chaos-agent-[a-z0-9-]+): (running|reused)/, 60_000);
    const name = /agent (chaos-agent-[a-z0-9-]+)/.exec(ready)?.[1] ?? "";
    await run.waitFor(/in effect in pod dns-test\/victim/, 30_000);
    expect(await resolves("victim", db)).toBe(false);
    expect(await resolves("victim", other)).toBe(true);
    const pid = agentProcess(name);
    expect(pid, `the process of ${name} on the node`).toBeDefined();
    process.kill(pid ?? 0, "SIGKILL");
    const killedAt = performance.now();
    await waitFor(`${db} to resolve again`, async () => ((await resolves("victim", db)) ? true : undefined), 15_000, 200);
    console.log(`agent SIGKILLed under a dns fault: ${db} resolved again ${((performance.now() - killedAt) / 1000).toFixed(1)} s later`);
    const done = await run.done;
    expect(done.code, done.stderr + done.stdout).toBe(3);
    expect(done.stderr).toMatch(new RegExp(`its agent ${name} died \\((Error|OOMKilled), exit 137\\) at \\d\\d:\\d\\d:\\d\\d; a fresh agent (chaos-agent-[a-z0-9-]+) reverted what it held`));
    expect(await chaosTables("victim")).toEqual([]);
  }, 90_000);
});

describe("each action on the real CoreDNS, through the dns probe", () => {
  let j: Journal;
  let elapsedMs = 0;

  beforeAll(async () => {
    const file = join(dir, "dns-actions.yaml");
    writeFileSync(file, SCENARIO);
    const reports = join(dir, "reports");
    const started = performance.now();
    const r = await chaosRun([file, "--kubeconfig", kubeconfig, "--report-dir", reports]);
    elapsedMs = performance.now() - started;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    j = journalIn(reports, "dns-actions");
  }, 120_000);

  it("nxdomain to 50%: within binomial bounds over UDP and TCP, the other name untouched, the name through the search list too; the resolver's own count agrees", () => {
    for (const pod of ["web", "pinned"]) {
      const hit = probeIn(j, 0, "hit", pod);
      withinRate(hit, "NXDOMAIN", 0.5, `${pod}, nxdomain`);
      const tcp = probeIn(j, 0, "hitTcp", pod);
      withinRate(tcp, "NXDOMAIN", 0.5, `${pod}, nxdomain over TCP`);
      // TCP has no conntrack reuse: a connection per query, each one redirected
      expect(m(tcp, "rcode.NXDOMAIN") + m(tcp, "answered"), tcp.detail).toBe(60);
      const o = probeIn(j, 0, "other", pod);
      expect(m(o, "answered"), o.detail).toBeGreaterThanOrEqual(20 - 2);
      expect(m(o, "rcode.NXDOMAIN")).toBe(0);
      // `db` through the pod's search list: its first expansion is the Service's name
      expect(m(probeIn(j, 0, "relative", pod), "queries")).toBe(10);
      const counted = j.faults.find((f) => f.step === 0 && f.pod === pod)?.observed;
      expect(counted?.kind).toBe("dns");
      expect(counted?.metrics["tcp"], counted?.detail).toBeGreaterThanOrEqual(60);
      expect(counted?.metrics["nxdomain"], counted?.detail).toBeGreaterThanOrEqual(m(hit, "rcode.NXDOMAIN") + m(tcp, "rcode.NXDOMAIN"));
      const [lo, hi] = binomialBounds(counted?.metrics["matched"] ?? 0, 0.5);
      expect(counted?.metrics["faulted"]).toBeGreaterThanOrEqual(lo);
      expect(counted?.metrics["faulted"]).toBeLessThanOrEqual(hi);
    }
    // the pinned pod asked its own nameserver, CoreDNS's pod, not the cluster's Service address
    expect(probeIn(j, 0, "hit", "pinned").detail).toContain(`nameserver ${corednsIp}`);
    expect(probeIn(j, 0, "hit", "web").detail).toContain("nameserver 10.96.0.10");
  });

  it("servfail to 20% (a name written in capitals, with its final dot), refused to 80% (a glob of one label): within binomial bounds", () => {
    for (const pod of ["web", "pinned"]) {
      withinRate(probeIn(j, 1, "hit", pod), "SERVFAIL", 0.2, `${pod}, servfail`);
      withinRate(probeIn(j, 2, "hit", pod), "REFUSED", 0.8, `${pod}, refused`);
    }
  });

  it("given addresses: the name answered with them, another name not", () => {
    for (const pod of ["web", "pinned"]) {
      const hit = probeIn(j, 3, "hit", pod);
      expect(m(hit, "answered"), hit.detail).toBeGreaterThanOrEqual(200 - ANOMALIES);
      expect(hit.detail).toContain("(10.0.0.9");
      const counted = j.faults.find((f) => f.step === 3 && f.pod === pod)?.observed;
      expect(counted?.metrics["addresses"], counted?.detail).toBe(counted?.metrics["matched"]);
      console.log(`${pod}, addresses: ${m(hit, "queries") - (counted?.metrics["matched"] ?? 0)} of ${m(hit, "queries")} queries went astray (did not reach the resolver)`);
      expect(counted?.metrics["addresses"]).toBeGreaterThanOrEqual(200 - ANOMALIES);
      const o = probeIn(j, 3, "other", pod);
      expect(o.detail).not.toContain("10.0.0.9");
      expect(m(o, "answered")).toBeGreaterThanOrEqual(20 - 2);
    }
  });

  it("timeout to 50%: those queries get no answer; a delay of 150 ms ± 10 ms is in the matched name's answers only", () => {
    for (const pod of ["web", "pinned"]) {
      const few = probeIn(j, 4, "few", pod);
      expect(m(few, "timeouts") + m(few, "answered"), few.detail).toBeGreaterThanOrEqual(9);
      const [lo, hi] = binomialBounds(10, 0.5);
      expect(m(few, "timeouts"), few.detail).toBeGreaterThanOrEqual(lo);
      expect(m(few, "timeouts"), few.detail).toBeLessThanOrEqual(hi + 1);
      const slow = probeIn(j, 5, "few", pod);
      expect(m(slow, "latency.p50"), slow.detail).toBeGreaterThanOrEqual(140);
      expect(m(slow, "latency.p50")).toBeLessThan(300);
      expect(m(probeIn(j, 5, "other", pod), "latency.p50")).toBeLessThan(50);
    }
  });

  it("the revert: the next step resolves again, and no CHAOS- table is left", async () => {
    for (const pod of ["web", "pinned"]) {
      const after = probeIn(j, 6, "hit", pod);
      expect(m(after, "answered"), after.detail).toBeGreaterThanOrEqual(200 - ANOMALIES);
      expect(after.detail).not.toContain("10.0.0.9");
      expect(m(after, "rcode.NXDOMAIN") + m(after, "rcode.SERVFAIL") + m(after, "rcode.REFUSED")).toBe(0);
      expect(await chaosTables(pod)).toEqual([]);
    }
    console.log(`dns-actions: 6 fault steps on 2 pods, ${j.probes.length} probe runs, in ${(elapsedMs / 1000).toFixed(1)} s`);
  }, 60_000);
});

describe("an IPv6-only pod (RuntimeClass ipv6-only)", () => {
  it("given the cluster's IPv4 DNS address only, the fault is refused saying why; with CoreDNS's IPv6 address in dnsConfig, its queries are faulted", async () => {
    const coredns = JSON.parse(await kubectlOk(["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"])) as { items: { status: { podIPs?: { ip: string }[] } }[] };
    const corednsV6 = coredns.items[0]?.status.podIPs?.find((a) => a.ip.includes(":"))?.ip ?? "";
    expect(corednsV6, "CoreDNS's pod has an IPv6 address").not.toBe("");
    const pod = (name: string, dns: object) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, labels: { run: name } },
      spec: { runtimeClassName: "ipv6-only", containers: [{ name, image: "nginx", imagePullPolicy: "IfNotPresent" }], ...dns },
    });
    const file = join(dir, "v6.json");
    const pinned = { dnsPolicy: "None", dnsConfig: { nameservers: [corednsV6], searches: [`${ns}.svc.cluster.local`] } };
    writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: [pod("v6default", {}), pod("v6pinned", pinned)] }));
    await kubectlOk(["apply", "-f", file]);
    await waitReady(ns, "v6default", 60_000);
    await waitReady(ns, "v6pinned", 60_000);

    const refused = await chaosRun(["dns", "-p", "v6default", "--name", "db.*", "--answer", "nxdomain", "-r", "2", ...asAdmin]);
    expect(refused.code, refused.stderr + refused.stdout).toBe(3);
    expect(refused.stderr).toMatch(/unsupported: the pod's nameservers \(10\.96\.0\.10\) are of a family eth0 has no address in/);

    const scenario = join(dir, "dns-v6.yaml");
    writeFileSync(
      scenario,
      `apiVersion: chaos-run/v1
kind: Scenario
metadata: { name: dns-v6 }
target: { namespace: ${ns}, pods: [v6pinned], mode: all }
agent: { lease: 5s }
probes:
  hit: { dns: { names: ["${db}."], count: 20, timeout: 1s } }
steps:
  - name: nxdomain
    fault: { dns: { names: ["db.*"], answer: nxdomain } }
    duration: 1s
    during: [{ probe: hit }]
`,
    );
    const reports = join(dir, "reports-v6");
    const r = await chaosRun([scenario, "--kubeconfig", kubeconfig, "--report-dir", reports]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const hit = probeIn(journalIn(reports, "dns-v6"), 0, "hit", "v6pinned");
    expect(hit.detail).toContain(`nameserver ${corednsV6}`);
    expect(m(hit, "rcode.NXDOMAIN"), hit.detail).toBe(20);
  }, 120_000);
});
