// What each fault adds to a pod, as the plan says it: the container's securityContext (the one
// that will be sent), the Pod Security level that admits it (computed from that securityContext,
// src/faults/security.ts), and what ends the fault when no revert reaches it. Pure.
import { capabilitiesFor, killCapabilities } from "../faults/requests.js";
import { levelOf, rootSecurity, stressSecurity, type AddedContainerSecurity } from "../faults/security.js";
import type { Fault } from "../faults/types.js";
import type { FaultEnd, PlannedContainer, PlannedPod } from "./types.js";

function planned(security: AddedContainerSecurity, note?: string): PlannedContainer {
  return { security, level: levelOf(security), ...(note === undefined ? {} : { note }) };
}

/** A kill's agent: SYS_PTRACE for SIGKILL to an init (ptrace), KILL for what goes by kill(2) — where the pod shares its process namespace. */
function killContainer(fault: Extract<Fault, { kind: "kill" }>, pods: readonly PlannedPod[]): PlannedContainer {
  const init = rootSecurity(killCapabilities(fault.signal, true));
  const shared = rootSecurity(killCapabilities(fault.signal, false));
  if (init.capabilities.join() === shared.capabilities.join()) return planned(init, `${fault.signal} is sent with kill(2): KILL, since the process may run as another user`);
  const known = pods.filter((p) => !p.placeholder && p.sharesProcesses !== undefined);
  const sharing = known.filter((p) => p.sharesProcesses === true).map((p) => p.name);
  const note = `SIGKILL to a container's main process, its namespace's init, goes through ptrace (SYS_PTRACE, "${levelOf(init)}"); in a pod that shares its process namespace it is sent with kill(2) (KILL, "${levelOf(shared)}")${sharing.length > 0 ? `: ${sharing.join(", ")}` : ""}`;
  return known.length > 0 && sharing.length === known.length ? planned(shared, note) : planned(init, note);
}

/** The container a fault adds to each pod; undefined for a pod deletion, which adds none. */
export function faultContainer(fault: Fault, pods: readonly PlannedPod[]): PlannedContainer | undefined {
  switch (fault.kind) {
    case "netem":
    case "partition":
    case "http":
    case "grpc":
    case "dns":
      return planned(rootSecurity(capabilitiesFor(fault)));
    case "kill":
      return killContainer(fault, pods);
    case "stress":
      return planned(
        stressSecurity({ runAsNonRoot: undefined, runAsUser: undefined, runAsGroup: undefined, containerUsers: [] }, undefined),
        `where the pod (runAsNonRoot) or the namespace ("restricted") demands non-root, the stress agent runs as the pod's user instead, which "${levelOf(stressSecurity({ runAsNonRoot: true, runAsUser: undefined, runAsGroup: undefined, containerUsers: [] }, undefined))}" admits`,
      );
    case "podDelete":
      return undefined;
  }
}

/** What ends a fault when no revert reaches it. */
export function faultEnd(fault: Fault): FaultEnd {
  switch (fault.kind) {
    case "partition":
    case "http":
    case "grpc":
    case "dns":
      return "kernel";
    case "netem":
      return "agent";
    case "stress":
      return "process";
    case "kill":
    case "podDelete":
      return "event";
  }
}

/** What ends it, in words. */
export const FAULT_END_WORDS: Readonly<Record<FaultEnd, string>> = {
  agent:
    "needs a live agent to end: the pod's agent reverts it (at the step's end, when its lease lapses, at its TTL); if that agent dies, the runner adds a fresh one that reverts it at once (chaos-run sweep does the same)",
  kernel:
    "expires in the kernel: its nftables rules match only while the interface is in a set whose element times out at the lease + 1 s, renewed with the lease, so neither a dead agent nor a dead runner leaves it behind after that (where the node's kernel has no nf_tables, iptables-legacy, it needs a live agent like netem: the runner adds a fresh one if its agent dies)",
  process: "ends with its stress agent's processes (the step's end, the lease, the TTL, the agent's death)",
  event: "an event: nothing is held",
};
