// Pods for the process-fault tiers (kill, stress, pod deletion, disconnection): one manifest
// shape, the debug container that gives a pod ephemeral containers before chaos-run comes (the
// seed's bug must never return), and a container's status by name.
import { getPod, kubectlOk, waitFor, type PodJson } from "./lab.js";

/**
 * Requests stay small whatever the limits: without them they default to the limits, and the
 * lab's one node has 2 CPUs for everyone's pods. The limits are what is tested (the pod's cgroup).
 */
export const SMALL_REQUESTS = { cpu: "10m", memory: "16Mi" };

export interface Resources {
  cpu?: string;
  memory?: string;
}

export function podManifest(
  ns: string,
  name: string,
  containers: { name: string; image: string; command?: string[]; limits?: Resources }[],
  extra: Record<string, unknown> = {},
  labels: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { ...labels, test: "process-faults" } },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: containers.map((c) => ({
        name: c.name,
        image: c.image,
        ...(c.command === undefined ? {} : { command: c.command }),
        ...(c.limits === undefined ? {} : { resources: { limits: c.limits, requests: SMALL_REQUESTS } }),
      })),
      ...extra,
    },
  });
}

/** A debug container, as `kubectl debug` adds one: the pod then has ephemeral containers before chaos-run comes. */
export async function debugged(ns: string, pod: string): Promise<void> {
  await kubectlOk(["debug", "-n", ns, pod, "--image", "chaos-tools", "-c", "dbg", "--profile", "general", "--", "sleep", "3600"]);
  await waitFor(
    `the debug container of ${pod}`,
    async () => ((await getPod(ns, pod))?.status.ephemeralContainerStatuses?.find((s) => s.name === "dbg")?.state.running !== undefined ? true : undefined),
    60_000,
  );
}

export function container(pod: PodJson | undefined, name: string) {
  return pod?.status.containerStatuses?.find((c) => c.name === name);
}
