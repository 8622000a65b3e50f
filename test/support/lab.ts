// Test helpers for the lab tiers: where the lab is, kubectl against it, waiting.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { parseAb } from "../../src/probes/ab.js";

export const repoRoot = resolve(import.meta.dirname, "../..");
export const labDir = process.env["CHAOS_RUN_LAB_DIR"] ?? join(repoRoot, ".lab");
export const kubeconfig = join(labDir, "kubeconfig");
export const limitedKubeconfig = join(labDir, "kubeconfig-limited");
export const viewerKubeconfig = join(labDir, "kubeconfig-viewer");
export const inKernelLab = process.env["CHAOS_RUN_KERNEL_LAB"] === "1";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv (no shell) and resolves with its exit code and output; never rejects. */
export function run(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<Run> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty argv");
  return new Promise((resolveRun) => {
    const child = execFile(file, args, { encoding: "utf8", env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolveRun({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The node's address (test/lab/common.sh), on lo while the lab is up; the kubeconfigs name it. */
export const labNodeIp = "198.19.255.1";

/**
 * Throws unless the lab's node address is this machine's: with the lab down it routes off the
 * machine, where no test may send anything (a CI run once sent kubectl's TLS there).
 */
export function assertLabAddress(): void {
  if (!Object.values(networkInterfaces()).some((addrs) => addrs?.some((a) => a.address === labNodeIp))) {
    throw new Error(`the lab's node address ${labNodeIp} is not on this machine (is the lab down?): nothing is sent there`);
  }
}

/** The machine's kubectl (1.32), against the lab as admin unless another kubeconfig is given. */
export function kubectl(args: readonly string[], config = kubeconfig, timeoutMs = 60_000): Promise<Run> {
  assertLabAddress();
  return run(["kubectl", "--kubeconfig", config, ...args], { timeoutMs });
}

export async function kubectlOk(args: readonly string[], config = kubeconfig): Promise<string> {
  const r = await kubectl(args, config);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface PodJson {
  metadata: { name: string; namespace: string; uid: string };
  spec: { nodeName?: string; ephemeralContainers?: { name: string; image: string }[] };
  status: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string }[];
    containerStatuses?: ContainerStatusJson[];
    ephemeralContainerStatuses?: ContainerStatusJson[];
  };
}
export interface ContainerStatusJson {
  name: string;
  containerID?: string;
  ready: boolean;
  restartCount: number;
  state: { running?: object; waiting?: { reason: string }; terminated?: { exitCode: number; reason: string } };
  lastState?: { terminated?: { exitCode: number } };
}

export async function getPod(namespace: string, name: string): Promise<PodJson | undefined> {
  const r = await kubectl(["get", "pod", name, "-n", namespace, "-o", "json"]);
  return r.code === 0 ? (JSON.parse(r.stdout) as PodJson) : undefined;
}

export function isReady(pod: PodJson | undefined): boolean {
  return pod?.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

export async function waitReady(namespace: string, name: string, timeoutMs = 30_000): Promise<PodJson> {
  return waitFor(
    `pod ${namespace}/${name} Ready`,
    async () => {
      const p = await getPod(namespace, name);
      return isReady(p) ? p : undefined;
    },
    timeoutMs,
  );
}

/** A namespace of the test's own, with a Pod Security level (`privileged` admits the agent). */
export async function makeNamespace(name: string, podSecurity: "privileged" | "baseline" | "restricted" = "privileged"): Promise<string> {
  await kubectl(["delete", "namespace", name, "--wait=true", "--ignore-not-found", "--timeout=60s"]);
  await kubectlOk(["create", "namespace", name]);
  await kubectlOk(["label", "namespace", name, `pod-security.kubernetes.io/enforce=${podSecurity}`, "--overwrite"]);
  await waitFor(`default ServiceAccount in ${name}`, async () => ((await kubectl(["get", "sa", "default", "-n", name])).code === 0 ? true : undefined));
  return name;
}

export function labIsUp(): boolean {
  const pidFile = join(labDir, "run", "apiserver.pid");
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, "utf8")), 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * ab -k from a pod (the tools pod): the median request time in ms, from ab's exact percentiles
 * (-e). Not ab's mean: it spreads the connection's handshake (another round trip, delayed too)
 * over the requests.
 */
export async function abMedian(namespace: string, pod: string, url: string, requests = 30): Promise<number> {
  const r = await kubectl(["exec", "-n", namespace, pod, "--", "ab", "-r", "-k", "-n", String(requests), "-c", "1", "-s", "10", "-e", "/dev/stderr", url], kubeconfig, 120_000);
  const parsed = parseAb(r.stdout, r.stderr, r.code, requests);
  if (!parsed.ok || parsed.metrics["latency.p50"] === undefined) throw new Error(`no median in ab's output:\n${r.stdout}${r.stderr}`);
  return parsed.metrics["latency.p50"];
}

/** A namespace of the test's own with nginx and a chaos-tools pod named tools, both Ready (a fresh node pulls their images first: slow inside UML). */
export async function nginxAndTools(namespace: string, timeoutMs = inKernelLab ? 240_000 : 60_000): Promise<void> {
  await makeNamespace(namespace);
  await kubectlOk(["run", "nginx", "-n", namespace, "--image", "nginx"]);
  await kubectlOk(["run", "tools", "-n", namespace, "--image", "chaos-tools"]);
  await waitReady(namespace, "nginx", timeoutMs);
  await waitReady(namespace, "tools", timeoutMs);
}
