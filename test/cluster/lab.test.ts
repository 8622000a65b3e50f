// The lab itself (issue: "a real Kubernetes control plane … with pods that run for
// real"): every claim is checked with the machine's kubectl and with client-node,
// through the real apiserver → kwok → shim path.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import {
  getPod,
  kubeconfig,
  kubectl,
  kubectlOk,
  labDir,
  limitedKubeconfig,
  makeNamespace,
  nginxAndTools,
  run,
  viewerKubeconfig,
  waitFor,
  waitReady,
} from "../support/lab.js";

const ns = "lab-test";

beforeAll(async () => {
  await nginxAndTools(ns);
});

describe("control plane", () => {
  it("serves Kubernetes v1.32 with one Ready node, lab-node", async () => {
    const version = JSON.parse(await kubectlOk(["version", "-o", "json"])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.32\.\d+$/);
    const nodes = JSON.parse(await kubectlOk(["get", "nodes", "-o", "json"])) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    expect(nodes.items.map((n) => n.metadata.name)).toEqual(["lab-node"]);
    expect(nodes.items[0]?.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
  });

  it("listens on loopback only", async () => {
    const cfg = readFileSync(kubeconfig, "utf8");
    expect(cfg).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
    const ss = await run(["ss", "-Hltnp"]);
    const ours = ss.stdout.split("\n").filter((l) => /kube-apiserver|etcd|kwok/.test(l));
    expect(ours.length).toBeGreaterThanOrEqual(3);
    for (const line of ours) expect(line).toMatch(/\s(127\.0\.0\.1|\[::1\]):\d+\s/);
  });
});

describe("pods run for real", () => {
  it("gives a pod eth0 with its IP from 198.18.0.0/16, Running and Ready", async () => {
    const pod = await getPod(ns, "nginx");
    expect(pod?.status.phase).toBe("Running");
    expect(pod?.status.podIP).toMatch(/^198\.18\.\d+\.\d+$/);
    const wide = await kubectlOk(["get", "pod", "nginx", "-n", ns, "-o", "wide"]);
    expect(wide).toMatch(/nginx\s+1\/1\s+Running\s+0\s+\S+\s+198\.18\.\d+\.\d+\s+lab-node/);
    const addr = await kubectlOk(["exec", "-n", ns, "tools", "--", "ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    const toolsIp = (await getPod(ns, "tools"))?.status.podIP;
    expect(addr).toContain(`inet ${toolsIp}/16`);
  });

  it("runs exec inside the pod: hostname, /etc/hostname", async () => {
    expect((await kubectlOk(["exec", "-n", ns, "nginx", "--", "cat", "/etc/hostname"])).trim()).toBe("nginx");
    expect((await kubectlOk(["exec", "-n", ns, "tools", "--", "hostname"])).trim()).toBe("tools");
  });

  it("serves nginx's page to curl from the tools pod", async () => {
    const ip = (await getPod(ns, "nginx"))?.status.podIP ?? "";
    const page = await kubectlOk(["exec", "-n", ns, "tools", "--", "curl", "-sS", "-m", "5", `http://${ip}/`]);
    expect(page).toContain("Welcome to nginx!");
  });

  it("offers only the image's commands: tc is not in the nginx image", async () => {
    const r = await kubectl(["exec", "-n", ns, "nginx", "--", "tc", "qdisc", "show"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/executable file not found|exit status 127/);
  });

  it("reports a container's real exit code and restarts it", async () => {
    await kubectlOk(["run", "crash", "-n", ns, "--image", "chaos-tools", "--restart=Always", "--", "sh", "-c", "sleep 0.2; exit 7"]);
    const pod = await waitFor("a restart of crash", async () => {
      const p = await getPod(ns, "crash");
      const cs = p?.status.containerStatuses?.[0];
      return cs !== undefined && cs.restartCount >= 1 && cs.lastState?.terminated !== undefined ? p : undefined;
    });
    expect(pod.status.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(7);
    await kubectlOk(["delete", "pod", "crash", "-n", ns, "--wait=false"]);
  });

  it("fails an image it cannot run with ErrImagePull", async () => {
    await kubectlOk(["run", "unknown", "-n", ns, "--image", "registry.example/nothing-like-this:1"]);
    const reason = await waitFor("ErrImagePull", async () => {
      const r = (await getPod(ns, "unknown"))?.status.containerStatuses?.[0]?.state.waiting?.reason;
      return r === "ErrImagePull" ? r : undefined;
    });
    expect(reason).toBe("ErrImagePull");
    expect((await getPod(ns, "unknown"))?.status.phase).toBe("Pending");
    await kubectlOk(["delete", "pod", "unknown", "-n", ns, "--wait=false"]);
  });

  it("stops a deleted pod's processes and removes its network namespace", async () => {
    await kubectlOk(["run", "doomed", "-n", ns, "--image", "chaos-tools"]);
    const pod = await waitReady(ns, "doomed");
    const pidFile = join(labDir, "pods", pod.metadata.uid, "doomed", "pid");
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(() => process.kill(pid, 0)).not.toThrow();
    await kubectlOk(["delete", "pod", "doomed", "-n", ns, "--timeout=30s"]);
    expect(() => process.kill(pid, 0)).toThrow();
    const netns = await run(["ip", "netns", "list"]);
    expect(netns.stdout).not.toContain(pod.metadata.uid);
    expect(existsSync(join(labDir, "pods", pod.metadata.uid))).toBe(false);
  });
});

describe("ephemeral containers", () => {
  it("adds a kubectl debug container, then another: the seed's bug does not exist here", async () => {
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "chaos-tools", "-c", "dbg1", "--profile", "general", "--", "sleep", "3600"]);
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "chaos-tools", "-c", "dbg2", "--profile", "general", "--", "sh", "-c", "exit 3"]);
    const pod = await waitFor("both ephemeral containers reported", async () => {
      const p = await getPod(ns, "nginx");
      const st = p?.status.ephemeralContainerStatuses ?? [];
      const dbg1 = st.find((s) => s.name === "dbg1");
      const dbg2 = st.find((s) => s.name === "dbg2");
      return dbg1?.state.running !== undefined && dbg2?.state.terminated !== undefined ? p : undefined;
    });
    expect(pod.status.ephemeralContainerStatuses?.find((s) => s.name === "dbg2")?.state.terminated?.exitCode).toBe(3);
    // the debug container shares the pod's network: nginx answers on its loopback
    const code = await kubectlOk(["exec", "-n", ns, "nginx", "-c", "dbg1", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/"]);
    expect(code).toBe("200");
  });

  it("rejects NET_ADMIN under Pod Security baseline with the API's 403", async () => {
    const strict = await makeNamespace("lab-test-baseline", "baseline");
    await kubectlOk(["run", "web", "-n", strict, "--image", "nginx"]);
    await waitReady(strict, "web");
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const patch = {
      spec: { ephemeralContainers: [{ name: "agent", image: "chaos-agent", securityContext: { capabilities: { add: ["NET_ADMIN"] } } }] },
    };
    const err = await core
      .patchNamespacedPodEphemeralcontainers(
        { name: "web", namespace: strict, body: patch },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
      )
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(k8s.ApiException);
    const apiErr = err as k8s.ApiException<string>;
    expect(apiErr.code).toBe(403);
    const status = JSON.parse(String(apiErr.body)) as { message: string };
    expect(status.message).toMatch(/violates PodSecurity "baseline:latest": non-default capabilities .*"NET_ADMIN"/);
  });
});

describe("exec through client-node", () => {
  it("returns stdout and a Success status; a non-zero exit comes back as kwok's InternalError", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const exec = new k8s.Exec(kc);
    const collect = async (argv: string[]): Promise<{ out: string; status: k8s.V1Status }> => {
      let out = "";
      const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) });
      const status = await new Promise<k8s.V1Status>((resolve, reject) => {
        exec.exec(ns, "tools", "tools", argv, sink, sink, null, false, resolve).catch(reject);
      });
      return { out, status };
    };
    const ok = await collect(["cat", "/etc/hostname"]);
    expect(ok.out.trim()).toBe("tools");
    expect(ok.status.status).toBe("Success");
    const bad = await collect(["sh", "-c", "echo oops >&2; exit 5"]);
    expect(bad.status.status).toBe("Failure");
    expect(bad.status.message).toMatch(/exit status 5$/);
    expect(bad.out).toContain("oops");
  });
});

describe("RBAC", () => {
  it("gives the least-privilege user what deploy/rbac.yaml grants, and no more", async () => {
    const can = async (config: string, verb: string, resource: string): Promise<string> => {
      const [res, sub] = resource.split("/");
      const args = ["auth", "can-i", verb, res ?? resource, "-n", ns, ...(sub === undefined ? [] : ["--subresource", sub])];
      return (await kubectl(args, config)).stdout.trim();
    };
    expect(await can(limitedKubeconfig, "list", "pods")).toBe("yes");
    expect(await can(limitedKubeconfig, "patch", "pods/ephemeralcontainers")).toBe("yes");
    expect(await can(limitedKubeconfig, "create", "pods/exec")).toBe("yes");
    expect(await can(limitedKubeconfig, "delete", "nodes")).toBe("no");
    expect(await can(limitedKubeconfig, "create", "secrets")).toBe("no");
    expect(await can(viewerKubeconfig, "list", "pods")).toBe("no");
    const list = await kubectl(["get", "pods", "-n", ns], limitedKubeconfig);
    expect(list.code).toBe(0);
    const denied = await kubectl(["get", "pods", "-n", ns], viewerKubeconfig);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden/);
  });
});
