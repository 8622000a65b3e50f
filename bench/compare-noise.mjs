// The compare-noise section (issue 23): how often compare calls a regression between runs that
// differ in nothing but chance. The catalog's checkout scenario (scenarios/checkout-payment-503:
// the demo shop — checkout retries payment's 503s — with ab probes before, during and after 20%
// of payment's answers turned into 503s) is run RUNS times in the host lab, one after another,
// nothing changed between them; each consecutive pair is compared as `chaos-run compare` does.
// Printed: the pairs with a false regression, the figures called regressed among all compared,
// and which figures and rules they were, with the machine's load average beside each run (the
// lab shares its cores with whatever else runs: a busier machine makes a slower service, which
// compare rightly sees and no run's own noise shows). No bar: a rate, measured. Run it under the
// lab's lock (flock /tmp/chaos-lab.lock npm run bench -- compare-noise); about 6 minutes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureLab, kubectl, kubectlOk, labPaths, waitAllReady } from "./lib/lab.mjs";

const RUNS = Number(process.env.BENCH_COMPARE_RUNS ?? 11);
/** A directory to keep the runs' reports in (to compare them again offline); by default they are removed. */
const KEEP = process.env.BENCH_COMPARE_KEEP;
/** A directory kept by BENCH_COMPARE_KEEP: its runs judged again with today's compare, no lab and no new run (a change to the rules measured on the same runs). */
const FROM = process.env.BENCH_COMPARE_FROM;
const NS = "bench-compare";
const SCENARIO = "scenarios/checkout-payment-503.yaml";

async function podIp(root, name) {
  return (await kubectlOk(root, ["get", "pod", name, "-n", NS, "-o", "jsonpath={.status.podIP}"])).trim();
}

/** The demo shop of test/cluster/http.test.ts: payment (the lab's nginx), checkout (nginx retrying payment's 503s). */
async function shop(root) {
  await kubectl(root, ["delete", "namespace", NS, "--wait=true", "--ignore-not-found", "--timeout=120s"]);
  await kubectlOk(root, ["create", "namespace", NS]);
  await kubectlOk(root, ["label", "namespace", NS, "pod-security.kubernetes.io/enforce=privileged"]);
  for (let i = 0; i < 100 && (await kubectl(root, ["get", "sa", "default", "-n", NS])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  await kubectlOk(root, ["run", "payment", "-n", NS, "--image", "nginx", "--labels", "app=payment"]);
  await waitAllReady(root, NS, "app=payment", 1);
  const conf = readFileSync(join(root, "test/fixtures/lab/checkout.nginx.conf"), "utf8").replaceAll("@PAYMENT@", await podIp(root, "payment"));
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-bench-shop-"));
  writeFileSync(join(dir, "nginx.conf"), conf);
  await kubectlOk(root, ["create", "configmap", "checkout-nginx", "-n", NS, `--from-file=nginx.conf=${join(dir, "nginx.conf")}`]);
  rmSync(dir, { recursive: true, force: true });
  const overrides = {
    spec: {
      containers: [{ name: "checkout", image: "nginx", volumeMounts: [{ name: "conf", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf" }] }],
      volumes: [{ name: "conf", configMap: { name: "checkout-nginx" } }],
    },
  };
  await kubectlOk(root, ["run", "checkout", "-n", NS, "--image", "nginx", "--labels", "app=checkout", "--overrides", JSON.stringify(overrides)]);
  await waitAllReady(root, NS, "app=checkout", 1);
  return podIp(root, "checkout");
}

/** The scenario RUNS times; each run's directory (those that ran to a verdict). */
function runAll(root, reports, checkoutHost, log) {
  const { cli, kubeconfig } = labPaths(root);
  const dirs = [];
  for (let i = 0; i < RUNS; i++) {
    const out = join(reports, String(i).padStart(2, "0"));
    const loadBefore = loadavg()[0];
    const r = spawnSync(process.execPath, [cli, SCENARIO, "--kubeconfig", kubeconfig, "-n", NS, "--report-dir", out], {
      cwd: root,
      env: { ...process.env, CI: "true", NO_COLOR: "1", CHECKOUT_HOST: checkoutHost },
      encoding: "utf8",
    });
    const verdict = /(PASS|FAIL) checkout-payment-503[^\n]*/.exec(r.stdout ?? "")?.[0] ?? `exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").at(-1)}`;
    log(`  run ${i + 1}: ${verdict}; load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
    // a run stopped before its report (exit 3, a usage error) leaves no directory
    const run = existsSync(out) ? readdirSync(out).find((d) => d.startsWith("checkout-payment-503-")) : undefined;
    if ((r.status === 0 || r.status === 1) && run !== undefined) dirs.push(join(out, run));
  }
  return dirs;
}

/** Each consecutive pair compared; what was called regressed, by figure and rule. */
async function judgePairs(root, dirs, log) {
  const { compareRuns } = await import(pathToFileURL(join(root, "dist/compare/compare.js")).href);
  const { loadJournal } = await import(pathToFileURL(join(root, "dist/compare/load.js")).href);
  const journals = dirs.map((d) => loadJournal(d).journal);
  const totals = { pairs: 0, falsePairs: 0, rows: 0, regressed: 0, changed: 0, byRule: {} };
  const byFigure = new Map();
  for (let i = 1; i < journals.length; i++) {
    const c = compareRuns(journals[i - 1], journals[i]);
    const regressed = c.rows.filter((r) => r.verdict === "regressed");
    totals.pairs++;
    totals.rows += c.rows.length;
    totals.regressed += regressed.length;
    totals.changed += c.counts.changed;
    if (regressed.length > 0) totals.falsePairs++;
    for (const r of regressed) {
      totals.byRule[r.rule.kind] = (totals.byRule[r.rule.kind] ?? 0) + 1;
      const key = `${r.section} · ${r.origin} ${r.probe} · ${r.metric} (${r.rule.kind})`;
      byFigure.set(key, [...(byFigure.get(key) ?? []), `${r.base.value} → ${r.new.value}`]);
    }
    log(`  runs ${i} → ${i + 1}: ${regressed.length} of ${c.rows.length} figures regressed, ${c.counts.changed} changed, ${c.unmatched.length} not compared`);
  }
  return { totals, byFigure };
}

/** The runs kept in a BENCH_COMPARE_KEEP directory, in the order they ran. */
function keptRuns(dir) {
  return readdirSync(dir)
    .sort()
    .map((d) => {
      const run = readdirSync(join(dir, d)).find((x) => x.startsWith("checkout-payment-503-"));
      return run === undefined ? undefined : join(dir, d, run);
    })
    .filter((d) => d !== undefined);
}

/** What was called regressed, printed. */
function print(log, { totals, byFigure }) {
  const pct = (a, b) => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;
  log(`false-regression rate: ${totals.falsePairs} of ${totals.pairs} pairs (${pct(totals.falsePairs, totals.pairs)}) called something regressed`);
  log(`  figures: ${totals.regressed} of ${totals.rows} compared called regressed (${pct(totals.regressed, totals.rows)}); ${totals.changed} changed (no better direction)`);
  const rules = Object.entries(totals.byRule).map(([k, n]) => `${k} ${n}`);
  log(`  the rules that called them: ${rules.length === 0 ? "none" : rules.join(", ")}`);
  for (const [figure, values] of byFigure) log(`  regressed ${values.length}×: ${figure}: ${values.join(", ")}`);
}

export default async function compareNoise({ root, log }) {
  if (FROM !== undefined) {
    const dirs = keptRuns(FROM);
    log(`${dirs.length} runs kept in ${FROM}, judged again:`);
    print(log, await judgePairs(root, dirs, log));
    return dirs.length >= 2;
  }
  const down = ensureLab(root, log);
  const reports = KEEP ?? mkdtempSync(join(tmpdir(), "chaos-run-bench-compare-noise-"));
  try {
    const checkoutHost = await shop(root);
    log(`${SCENARIO}, ${RUNS} identical runs in the host lab (namespace ${NS}):`);
    const dirs = runAll(root, reports, checkoutHost, log);
    if (dirs.length < 2) {
      log(`only ${dirs.length} run(s) reached a verdict: nothing to compare`);
      return false;
    }
    print(log, await judgePairs(root, dirs, log));
    return true;
  } finally {
    await kubectl(root, ["delete", "namespace", NS, "--wait=false"]);
    if (KEEP === undefined) rmSync(reports, { recursive: true, force: true });
    down();
  }
}
