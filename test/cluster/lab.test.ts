// The lab itself: a single-node Kubernetes of the real parts (kubelet, containerd, runc, CNI,
// a registry of the images the repository builds). Every claim is checked with the machine's
// kubectl and with client-node, as a user of any cluster would see it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { connectCluster } from "../../src/kube/index.js";
import { getPod, kubeconfig, kubectl, kubectlOk, limitedKubeconfig, makeNamespace, nginxAndTools, repoRoot, run, viewerKubeconfig, waitFor, waitReady } from "../support/lab.js";

const ns = "lab-test";

beforeAll(async () => {
  await nginxAndTools(ns);
});

describe("control plane and node", () => {
  it("serves Kubernetes v1.32 with one Ready node, lab-node, on containerd", async () => {
    const version = JSON.parse(await kubectlOk(["version", "-o", "json"])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.32\.\d+$/);
    const nodes = JSON.parse(await kubectlOk(["get", "nodes", "-o", "json"])) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } } }[];
    };
    expect(nodes.items.map((n) => n.metadata.name)).toEqual(["lab-node"]);
    const node = nodes.items[0];
    expect(node?.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(node?.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.\d+\.\d+/);
    expect(node?.status.nodeInfo.kubeletVersion).toMatch(/^v1\.32\.\d+$/);
  });

  it("listens on loopback and the node's own address only", async () => {
    const cfg = readFileSync(kubeconfig, "utf8");
    expect(cfg).toMatch(/server: https:\/\/198\.19\.255\.1:\d+/); // the node\'s address: pods reach the API server there too
    const ss = await run(["ss", "-Hltnp"]);
    const ours = ss.stdout.split("\n").filter((l) => /kube-apiserver|etcd|kubelet|containerd|docker-registry|kube-controller|kube-scheduler/.test(l));
    expect(ours.length).toBeGreaterThanOrEqual(4);
    for (const line of ours) expect(line).toMatch(/\s(127\.0\.0\.1|\[::1\]|198\.19\.255\.1):\d+\s/);
  });

  it("keeps pod traffic on the machine: pods route only through the host, which forwards nothing off the bridge", async () => {
    const routes = await kubectlOk(["exec", "-n", ns, "tools", "--", "ip", "-4", "route"]);
    expect(routes).toMatch(/^default via 198\.18\.0\.1 dev eth0/m);
    for (const ipt of ["iptables", "ip6tables"]) {
      const rules = (await run([ipt, "-w", "-S", "CHAOSLAB-FWD"])).stdout;
      expect(rules).toContain("-A CHAOSLAB-FWD -i chaoslab0 -o chaoslab0 -j RETURN");
      expect(rules).toContain("-A CHAOSLAB-FWD -i chaoslab0 -j DROP");
      expect((await run([ipt, "-w", "-S", "FORWARD"])).stdout.split("\n")[1]).toBe("-A FORWARD -j CHAOSLAB-FWD");
    }
  });
});

describe("pods, as on any cluster", () => {
  it("kubectl run and get -o wide: Running and Ready on lab-node, IPs from 198.18.0.0/16 and fd00:c612::/64", async () => {
    const pod = await getPod(ns, "nginx");
    expect(pod?.status.phase).toBe("Running");
    expect(pod?.status.podIP).toMatch(/^198\.18\.\d+\.\d+$/);
    expect(pod?.status.podIPs?.map((p) => p.ip)).toEqual([pod?.status.podIP, expect.stringMatching(/^fd00:c612::[0-9a-f]+$/)]);
    const wide = await kubectlOk(["get", "pod", "nginx", "-n", ns, "-o", "wide"]);
    expect(wide).toMatch(/nginx\s+1\/1\s+Running\s+0\s+\S+\s+198\.18\.\d+\.\d+\s+lab-node/);
    const addr = await kubectlOk(["exec", "-n", ns, "tools", "--", "ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    expect(addr).toContain(`inet ${(await getPod(ns, "tools"))?.status.podIP}/16`);
  });

  it("pulls the images by the names people type, from the lab's registry", async () => {
    const pod = JSON.parse(await kubectlOk(["get", "pod", "nginx", "-n", ns, "-o", "json"])) as { status: { containerStatuses: { image: string; imageID: string }[] } };
    expect(pod.status.containerStatuses[0]?.image).toBe("docker.io/library/nginx:latest");
    expect(pod.status.containerStatuses[0]?.imageID).toMatch(/^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
    const events = await kubectlOk(["get", "events", "-n", ns, "--field-selector", "involvedObject.name=nginx,reason=Pulled", "-o", "jsonpath={.items[*].message}"]);
    expect(events).toMatch(/Successfully pulled image "nginx"|Container image "nginx" already present/);
  });

  it("exec and logs: the pod's own hostname, nginx's own log lines", async () => {
    expect((await kubectlOk(["exec", "-n", ns, "nginx", "--", "cat", "/etc/hostname"])).trim()).toBe("nginx");
    expect((await kubectlOk(["exec", "-n", ns, "tools", "--", "hostname"])).trim()).toBe("tools");
    expect(await kubectlOk(["logs", "-n", ns, "nginx"])).toMatch(/start worker process/);
  });

  it("serves nginx's page over IPv4 and IPv6 to curl from the tools pod", async () => {
    const ips = (await getPod(ns, "nginx"))?.status.podIPs?.map((p) => p.ip) ?? [];
    for (const ip of ips) {
      const url = ip.includes(":") ? `http://[${ip}]/` : `http://${ip}/`;
      expect(await kubectlOk(["exec", "-n", ns, "tools", "--", "curl", "-sS", "-m", "5", url])).toContain("Welcome to nginx!");
    }
  });

  it("runs only what the image has: there is no iptables in the nginx image", async () => {
    const r = await kubectl(["exec", "-n", ns, "nginx", "--", "iptables", "-S"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/executable file not found in \$PATH/);
  });

  it("restarts a container whose process exits, per restartPolicy, and counts it", async () => {
    await kubectlOk(["run", "crash", "-n", ns, "--image", "chaos-tools", "--restart=Always", "--", "sh", "-c", "sleep 0.2; exit 7"]);
    const pod = await waitFor(
      "a restart of crash",
      async () => {
        const p = await getPod(ns, "crash");
        const cs = p?.status.containerStatuses?.[0];
        return cs !== undefined && cs.restartCount >= 1 && cs.lastState?.terminated !== undefined ? p : undefined;
      },
      60_000,
    );
    expect(pod.status.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(7);
    await kubectlOk(["delete", "pod", "crash", "-n", ns, "--wait=false"]);
  });

  it("fails an image no registry has with ErrImagePull", async () => {
    await kubectlOk(["run", "unknown", "-n", ns, "--image", "registry.example/nothing-like-this:1"]);
    const reason = await waitFor(
      "ErrImagePull",
      async () => {
        const r = (await getPod(ns, "unknown"))?.status.containerStatuses?.[0]?.state.waiting?.reason;
        return r === "ErrImagePull" || r === "ImagePullBackOff" ? r : undefined;
      },
      60_000,
    );
    expect(reason).toMatch(/ErrImagePull|ImagePullBackOff/);
    expect((await getPod(ns, "unknown"))?.status.phase).toBe("Pending");
    await kubectlOk(["delete", "pod", "unknown", "-n", ns, "--wait=false"]);
  });

  it("kubectl delete: the pod's sandbox and its network go with it", async () => {
    await kubectlOk(["run", "doomed", "-n", ns, "--image", "chaos-tools", "--", "sleep", "infinity"]);
    const pod = await waitReady(ns, "doomed");
    const ip = pod.status.podIP ?? "";
    await kubectlOk(["delete", "pod", "doomed", "-n", ns, "--grace-period=1", "--timeout=60s"]);
    expect(await getPod(ns, "doomed")).toBeUndefined();
    // the bridge no longer has a neighbour at the pod's address
    const ping = await kubectl(["exec", "-n", ns, "tools", "--", "ping", "-n", "-c", "1", "-W", "1", ip]);
    expect(ping.code).not.toBe(0);
  });

  it("a Deployment recreates a deleted pod (scheduler and controller-manager at work)", async () => {
    await kubectlOk(["create", "deployment", "web", "-n", ns, "--image", "nginx", "--replicas", "1"]);
    await kubectlOk(["rollout", "status", "deployment/web", "-n", ns, "--timeout=90s"]);
    const first = (await kubectlOk(["get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
    await kubectlOk(["delete", "pod", first, "-n", ns, "--wait=false"]);
    const second = await waitFor(
      "a replacement pod Ready",
      async () => {
        const names = (await kubectlOk(["get", "pods", "-n", ns, "-l", "app=web", "--field-selector", "status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}"])).trim().split(/\s+/);
        const other = names.find((n) => n !== "" && n !== first);
        return other !== undefined && (await kubectl(["wait", "--for=condition=Ready", `pod/${other}`, "-n", ns, "--timeout=1s"])).code === 0 ? other : undefined;
      },
      90_000,
      500,
    );
    expect(second).not.toBe(first);
    await kubectlOk(["delete", "deployment", "web", "-n", ns, "--wait=false"]);
  });
});

describe("ephemeral containers, security contexts and process namespaces", () => {
  it("kubectl debug twice on one pod: the seed's bug does not exist here", async () => {
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "chaos-tools", "-c", "dbg1", "--profile", "general", "--", "sleep", "3600"]);
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "chaos-tools", "-c", "dbg2", "--profile", "general", "--", "sh", "-c", "exit 3"]);
    const pod = await waitFor(
      "both ephemeral containers reported",
      async () => {
        const p = await getPod(ns, "nginx");
        const st = p?.status.ephemeralContainerStatuses ?? [];
        const dbg1 = st.find((s) => s.name === "dbg1");
        const dbg2 = st.find((s) => s.name === "dbg2");
        return dbg1?.state.running !== undefined && dbg2?.state.terminated !== undefined ? p : undefined;
      },
      60_000,
    );
    expect(pod.status.ephemeralContainerStatuses?.find((s) => s.name === "dbg2")?.state.terminated?.exitCode).toBe(3);
    // the debug container shares the pod's network: nginx answers on its loopback
    const code = await kubectlOk(["exec", "-n", ns, "nginx", "-c", "dbg1", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/"]);
    expect(code).toBe("200");
  });

  it("enforces capabilities: without NET_ADMIN the pod's network cannot be changed, with it it can", async () => {
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "lab-inspect", "-c", "nocap", "--profile", "general", "--", "sleep", "3600"]);
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "lab-inspect", "-c", "netadmin", "--profile", "netadmin", "--", "sleep", "3600"]);
    await waitFor(
      "both debug containers running",
      async () => {
        const st = (await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses ?? [];
        return ["nocap", "netadmin"].every((n) => st.find((s) => s.name === n)?.state.running !== undefined) ? true : undefined;
      },
      60_000,
    );
    const denied = await kubectl([
      "exec",
      "-n",
      ns,
      "nginx",
      "-c",
      "nocap",
      "--",
      "tc",
      "qdisc",
      "add",
      "dev",
      "eth0",
      "root",
      "handle",
      "8001:",
      "tbf",
      "rate",
      "1gbit",
      "burst",
      "64kb",
      "latency",
      "50ms",
    ]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Operation not permitted/);
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "netadmin", "--", "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "8001:", "tbf", "rate", "1gbit", "burst", "64kb", "latency", "50ms"]);
    expect(await kubectlOk(["exec", "-n", ns, "nginx", "-c", "netadmin", "--", "tc", "qdisc", "show", "dev", "eth0"])).toMatch(/qdisc tbf 8001: root/);
    await kubectlOk(["exec", "-n", ns, "nginx", "-c", "netadmin", "--", "tc", "qdisc", "del", "dev", "eth0", "root"]);
  });

  it("targetContainerName shares the target's PID namespace: the debug container sees nginx as PID 1", async () => {
    await kubectlOk(["debug", "-n", ns, "nginx", "--image", "chaos-tools", "-c", "pidview", "--target", "nginx", "--profile", "general", "--", "sleep", "3600"]);
    await waitFor(
      "pidview running",
      async () => ((await getPod(ns, "nginx"))?.status.ephemeralContainerStatuses?.find((s) => s.name === "pidview")?.state.running !== undefined ? true : undefined),
      60_000,
    );
    const cmdline = await kubectlOk(["exec", "-n", ns, "nginx", "-c", "pidview", "--", "cat", "/proc/1/cmdline"]);
    expect(cmdline.split("\0")[0]).toMatch(/^nginx: master process/);
    // and a container without it does not
    const own = await kubectlOk(["exec", "-n", ns, "nginx", "-c", "dbg1", "--", "cat", "/proc/1/cmdline"]);
    expect(own.split("\0")[0]).toBe("sleep");
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
    const err = await core.patchNamespacedPodEphemeralcontainers({ name: "web", namespace: strict, body: patch }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(k8s.ApiException);
    const apiErr = err as k8s.ApiException<string>;
    expect(apiErr.code).toBe(403);
    const status = JSON.parse(String(apiErr.body)) as { message: string };
    expect(status.message).toMatch(/violates PodSecurity "baseline:latest": non-default capabilities .*"NET_ADMIN"/);
  });
});

describe("the Cluster port's own requests, on the run's kept-alive connection", () => {
  it("reads a pod (none: undefined), a container's log up to a limit, and adds an ephemeral container; the API's refusals come back as errors that say what to do", async () => {
    const admin = await connectCluster({ kubeconfig });
    const nobody = { runAsUser: 65534, runAsNonRoot: true, capabilities: [], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" } as const;
    const found = await admin.getPod(ns, "nginx");
    expect(found).toMatchObject({ namespace: ns, name: "nginx", phase: "Running", ready: true });
    expect(await admin.getPod(ns, "no-such-pod")).toBeUndefined();
    const log = await admin.containerLog(ns, "nginx", "nginx", { limitBytes: 40, timeoutMs: 10_000 });
    expect(log.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(log)).toBeLessThanOrEqual(40);
    await expect(admin.containerLog(ns, "nginx", "nope", { limitBytes: 40, timeoutMs: 10_000 })).rejects.toThrow(
      /could not read the log of pod lab-test\/nginx: HTTP 400: container nope is not valid/,
    );

    // the strategic merge patch appends: a pod with an ephemeral container gets a second one
    await admin.addEphemeralContainer(ns, "tools", {
      name: "port-a",
      image: "chaos-tools",
      pullPolicy: "IfNotPresent",
      args: ["sleep", "600"],
      env: { A: "1" },
      securityContext: nobody,
    });
    await admin.addEphemeralContainer(ns, "tools", {
      name: "port-b",
      image: "chaos-tools",
      pullPolicy: "IfNotPresent",
      args: ["sleep", "600"],
      env: {},
      securityContext: nobody,
    });
    const spec = JSON.parse(await kubectlOk(["get", "pod", "tools", "-n", ns, "-o", "json"])) as { spec: { ephemeralContainers?: { name: string; env?: { name: string; value: string }[] }[] } };
    expect(spec.spec.ephemeralContainers?.map((c) => c.name)).toEqual(expect.arrayContaining(["port-a", "port-b"]));
    expect(spec.spec.ephemeralContainers?.find((c) => c.name === "port-a")?.env).toEqual([{ name: "A", value: "1" }]);
    await expect(admin.addEphemeralContainer(ns, "no-such-pod", { name: "x", image: "chaos-tools", pullPolicy: "IfNotPresent", args: [], env: {}, securityContext: nobody })).rejects.toThrow(
      /pod lab-test\/no-such-pod not found \(to add the agent to it\)/,
    );

    // a user who may not: what the API server said, and the fix
    const viewer = await connectCluster({ kubeconfig: viewerKubeconfig });
    await expect(viewer.getPod(ns, "nginx")).rejects.toThrow(/not allowed to get pods in namespace lab-test: .*forbidden/);
    await expect(viewer.containerLog(ns, "nginx", "nginx", { limitBytes: 40, timeoutMs: 10_000 })).rejects.toThrow(/not allowed to get pods\/log in namespace lab-test/);
  });
});

describe("exec through client-node", () => {
  it("returns stdout and Success; a non-zero exit comes back as the kubelet's NonZeroExitCode with the code", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const exec = new k8s.Exec(kc);
    const collect = async (argv: string[]): Promise<{ out: string; status: k8s.V1Status }> => {
      let out = "";
      const sink = new Writable({
        write: (chunk: Buffer, _e, cb) => {
          out += chunk.toString();
          cb();
        },
      });
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
    expect(bad.status.reason).toBe("NonZeroExitCode");
    expect(bad.status.details?.causes).toEqual([{ reason: "ExitCode", message: "5" }]);
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

describe("cluster DNS: CoreDNS behind kube-dns, as clusters run it", () => {
  const clusterDns = "10.96.0.10";
  const corednsLog = async (): Promise<string> => kubectlOk(["logs", "-n", "kube-system", "deployment/coredns"]);

  beforeAll(async () => {
    // `up` starts CoreDNS without waiting for it (a cold build takes minutes): wait here
    const wait = await run([join(repoRoot, "test/lab/coredns"), "wait"], { timeoutMs: 30 * 60_000 });
    expect(wait.code, wait.stderr).toBe(0);
    await kubectlOk(["expose", "pod", "nginx", "-n", ns, "--name", "web-dns", "--port", "80"]);
  }, 30 * 60_000);

  it("resolves the kubernetes Service and a Service of the pod's own namespace, over UDP and over TCP", async () => {
    const apiIp = (await kubectlOk(["get", "service", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP}"])).trim();
    const webIp = (await kubectlOk(["get", "service", "web-dns", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).trim();
    const lookup = async (name: string, tcp: boolean): Promise<string> => {
      // glibc's resolver asks over TCP when RES_OPTIONS says use-vc
      const argv = tcp ? ["env", "RES_OPTIONS=use-vc", "getent", "hosts", name] : ["getent", "hosts", name];
      return (await kubectlOk(["exec", "-n", ns, "tools", "--", ...argv])).trim().split(/\s+/)[0] ?? "";
    };
    for (const tcp of [false, true]) {
      expect(await lookup("kubernetes.default.svc.cluster.local", tcp)).toBe(apiIp);
      expect(await lookup(`web-dns.${ns}.svc.cluster.local`, tcp)).toBe(webIp);
      expect(await lookup("web-dns", tcp)).toBe(webIp); // the pod's search path: its namespace first
    }
    // CoreDNS answered them, both ways (its log plugin records each query with its transport)
    const toolsIp = (await getPod(ns, "tools"))?.status.podIP ?? "";
    const log = await corednsLog();
    for (const proto of ["udp", "tcp"]) {
      expect(log).toMatch(new RegExp(`${toolsIp.replaceAll(".", "\\.")}:\\d+ - \\d+ "A IN kubernetes\\.default\\.svc\\.cluster\\.local\\. ${proto} .*" NOERROR`));
    }
  });

  it("gives a new pod the cluster's resolv.conf, and the kubelet no MissingClusterDNS event", async () => {
    await kubectlOk(["run", "dnsuser", "-n", ns, "--image", "chaos-tools", "--", "sleep", "infinity"]);
    await waitReady(ns, "dnsuser");
    const conf = await kubectlOk(["exec", "-n", ns, "dnsuser", "--", "cat", "/etc/resolv.conf"]);
    expect(conf).toMatch(new RegExp(`^nameserver ${clusterDns.replaceAll(".", "\\.")}$`, "m"));
    expect(conf).toMatch(new RegExp(`^search ${ns}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local$`, "m"));
    expect(conf).toMatch(/^options ndots:5$/m);
    // the kubelet's events of the pod are out once it reports Started (MissingClusterDNS comes before)
    const reasons = await waitFor(
      "dnsuser's Started event",
      async () => {
        const r = (await kubectlOk(["get", "events", "-n", ns, "--field-selector", "involvedObject.name=dnsuser", "-o", "jsonpath={.items[*].reason}"])).split(/\s+/);
        return r.includes("Started") ? r : undefined;
      },
      30_000,
      500,
    );
    expect(reasons).not.toContain("MissingClusterDNS");
    await kubectlOk(["delete", "pod", "dnsuser", "-n", ns, "--wait=false"]);
  });

  it("runs in kube-system on the pods' bridge, with no plugin that could reach off the machine; other names are refused", async () => {
    const svc = JSON.parse(await kubectlOk(["get", "service", "kube-dns", "-n", "kube-system", "-o", "json"])) as { spec: { clusterIP: string; ports: { port: number; protocol: string }[] } };
    expect(svc.spec.clusterIP).toBe(clusterDns);
    expect(svc.spec.ports.map((p) => `${p.port}/${p.protocol}`).sort()).toEqual(["53/TCP", "53/UDP"]);
    const pods = JSON.parse(await kubectlOk(["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"])) as {
      items: { metadata: { name: string }; spec: { hostNetwork?: boolean; serviceAccountName: string }; status: { podIP: string; containerStatuses: { image: string }[] } }[];
    };
    const pod = pods.items[0];
    expect(pod?.spec.hostNetwork).toBeUndefined();
    expect(pod?.spec.serviceAccountName).toBe("coredns");
    // a pod address: behind the host's forwarding guard, like every pod (the control plane test checks the guard)
    expect(pod?.status.podIP).toMatch(/^198\.18\.\d+\.\d+$/);
    expect(pod?.status.containerStatuses[0]?.image).toMatch(/^docker\.io\/library\/coredns:\d+\.\d+\.\d+$/);
    // the binary has the kubernetes plugin and nothing that sends queries on (forward, grpc, etcd, clouds)
    const plugins = (await kubectlOk(["exec", "-n", "kube-system", pod?.metadata.name ?? "", "--", "/coredns", "-plugins"])).split("\n").map((l) => l.trim());
    expect(plugins).toContain("kubernetes");
    for (const sender of ["forward", "grpc", "etcd", "route53", "azure", "clouddns", "secondary"]) expect(plugins).not.toContain(sender);
    // a name outside the cluster's zones: refused at once, not sent anywhere
    const outside = await kubectl(["exec", "-n", ns, "tools", "--", "getent", "hosts", "lab-dns-test.example"]);
    expect(outside.code).toBe(2); // getent: not found
  });

  it("shows in test/lab/status", async () => {
    const status = await run([join(repoRoot, "test/lab/status")]);
    expect(status.stdout).toMatch(new RegExp(`^coredns\\s+ready: kube-dns at ${clusterDns.replaceAll(".", "\\.")}, coredns-\\S+ on 198\\.18\\.`, "m"));
  });
});
