// Least privilege for every container chaos-run adds — the pod's agent, a kill or stress agent,
// the agent sweep adds, the tools pod's container — and what Pod Security makes of it. Each
// drops ALL capabilities and adds back only what its fault needs, cannot gain privileges (no
// setuid, no file capabilities) and runs under the runtime's default seccomp profile. The Pod
// Security level a container needs is computed from the securityContext that will be sent, by
// the Pod Security Standards' rules for a container, never written down per fault. Pure.

/** The securityContext of a container chaos-run adds, sent exactly as it is here: nothing left to the pod's or the runtime's defaults. */
export interface AddedContainerSecurity {
  readonly runAsUser: number;
  /** undefined: the image's (root's group for the agent) */
  readonly runAsGroup?: number | undefined;
  readonly runAsNonRoot: boolean;
  /** added back after `drop`, e.g. NET_ADMIN */
  readonly capabilities: readonly string[];
  readonly drop: readonly string[];
  readonly allowPrivilegeEscalation: boolean;
  readonly seccompProfile: "RuntimeDefault" | "Localhost" | "Unconfined";
}

/** The user of a container that needs no root and the pod names none: nobody. */
export const NOBODY = 65534;

/**
 * A container that needs capabilities (the pod's agent, a kill agent): root, since a capability
 * added to a container is effective only for root (the runtime gives other users no ambient
 * capabilities), with exactly `capabilities` added back.
 */
export function rootSecurity(capabilities: readonly string[]): AddedContainerSecurity {
  return { runAsUser: 0, runAsNonRoot: false, capabilities: [...capabilities], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" };
}

/** A container that needs no privilege at all, as `user` (and `group`, else the user's number). */
export function nonRootSecurity(user: number, group?: number): AddedContainerSecurity {
  return { runAsUser: user, runAsGroup: group ?? user, runAsNonRoot: true, capabilities: [], drop: ["ALL"], allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault" };
}

/** What of a pod decides the user of a stress agent: its own users, where it names them. */
export interface PodUsers {
  /** spec.securityContext.runAsNonRoot */
  readonly runAsNonRoot: boolean | undefined;
  readonly runAsUser: number | undefined;
  readonly runAsGroup: number | undefined;
  /** its containers' own runAsUser, in order */
  readonly containerUsers: readonly (number | undefined)[];
}

/**
 * A stress agent adds no capability. Where the pod demands non-root (runAsNonRoot) or the
 * namespace enforces "restricted", it runs as the pod's user (the pod's runAsUser, else its first
 * container's, else nobody); elsewhere as root without any capability.
 */
export function stressSecurity(pod: PodUsers, namespaceLevel: PodSecurityLevel | undefined): AddedContainerSecurity {
  if (pod.runAsNonRoot !== true && namespaceLevel !== "restricted") return rootSecurity([]);
  const user = [pod.runAsUser, ...pod.containerUsers].find((u): u is number => u !== undefined && u !== 0) ?? NOBODY;
  return nonRootSecurity(user, pod.runAsGroup !== undefined && pod.runAsGroup !== 0 ? pod.runAsGroup : undefined);
}

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/** Strictest first. */
export const POD_SECURITY_LEVELS: readonly PodSecurityLevel[] = ["restricted", "baseline", "privileged"];

/** The capabilities the baseline level admits a container to add (Pod Security Standards). */
export const BASELINE_CAPABILITIES: readonly string[] = [
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
];

/**
 * What `level` refuses in a container's securityContext, in words (empty: it admits it) — the
 * Pod Security Standards' checks of a container: baseline refuses capabilities beyond its list
 * and an Unconfined seccomp profile; restricted also requires allowPrivilegeEscalation false,
 * runAsNonRoot true and no runAsUser 0, a RuntimeDefault or Localhost seccomp profile, and
 * capabilities drop ALL with nothing added but NET_BIND_SERVICE. (Pod-level rules — host
 * namespaces, volumes — concern the pod, which the namespace admitted already.)
 */
export function refusals(sc: AddedContainerSecurity, level: PodSecurityLevel): string[] {
  const out: string[] = [];
  if (level === "privileged") return out;
  const beyondBaseline = sc.capabilities.filter((c) => !BASELINE_CAPABILITIES.includes(c));
  if (beyondBaseline.length > 0) out.push(`adds ${beyondBaseline.join(", ")}`);
  if (sc.seccompProfile === "Unconfined") out.push("runs without a seccomp profile (Unconfined)");
  if (level === "baseline") return out;
  const beyondRestricted = sc.capabilities.filter((c) => c !== "NET_BIND_SERVICE" && BASELINE_CAPABILITIES.includes(c));
  if (beyondRestricted.length > 0) out.push(`adds ${beyondRestricted.join(", ")}`);
  if (!sc.drop.includes("ALL")) out.push("does not drop ALL capabilities");
  if (sc.allowPrivilegeEscalation) out.push("allows privilege escalation");
  if (!sc.runAsNonRoot || sc.runAsUser === 0) out.push("runs as root (runAsUser 0)");
  if (sc.seccompProfile !== "RuntimeDefault" && sc.seccompProfile !== "Localhost") out.push("has no RuntimeDefault or Localhost seccomp profile");
  return out;
}

/** The strictest Pod Security level that admits the container. */
export function levelOf(sc: AddedContainerSecurity): PodSecurityLevel {
  return POD_SECURITY_LEVELS.find((l) => refusals(sc, l).length === 0) ?? "privileged";
}

/** Whether a namespace that enforces `enforced` admits a container that needs `needed`. */
export function admits(enforced: PodSecurityLevel, needed: PodSecurityLevel): boolean {
  return POD_SECURITY_LEVELS.indexOf(needed) <= POD_SECURITY_LEVELS.indexOf(enforced);
}

/** A namespace's enforced level from its labels: no label (or an unknown value) is privileged, as the admission plugin has it by default. */
export function enforcedLevel(labels: Readonly<Record<string, string>>): PodSecurityLevel {
  const l = labels["pod-security.kubernetes.io/enforce"];
  return l === "baseline" || l === "restricted" ? l : "privileged";
}

/** The securityContext in a few words, for plans and messages. */
export function securityWords(sc: AddedContainerSecurity): string {
  const user = sc.runAsNonRoot ? `runAsUser ${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ""}, runAsNonRoot true` : `runAsUser ${sc.runAsUser}, runAsNonRoot false`;
  const caps = `capabilities drop ${sc.drop.join(", ")}${sc.capabilities.length > 0 ? ` add ${sc.capabilities.join(", ")}` : ", none added"}`;
  return `${user}, ${caps}, allowPrivilegeEscalation ${sc.allowPrivilegeEscalation}, seccomp ${sc.seccompProfile}`;
}
