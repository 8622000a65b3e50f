// The exec argv the runner sends to the chaos agent in a pod.
//
// Format (the agent parses exactly this; arguments are separate argv entries, no shell):
//
//   chaos-agent apply --id ID --iface IFACE [--lease SECONDSs]
//       [--revert CMD... ;]...        each revert command is `--revert`, its argv, then `;`
//       -- CMD... [; CMD...]...       then `--`, then the apply commands separated by `;`
//
//   chaos-agent revert --id ID
//
// `;` is a literal argument (like `find -exec ... ;`), so no command may contain an argument
// equal to `;` (agentApplyArgv throws). The agent records the revert commands under ID before
// it runs any apply command, runs the apply commands in order, and stops at the first failure
// (then runs the reverts itself). `revert --id ID` runs the recorded reverts in order, all of
// them, continuing past failures; it is idempotent. An argument equal to `$IFACE` (in --iface
// and in commands) stands for the pod's default-route interface, resolved by the agent. With
// --lease the agent reverts the fault by itself unless `chaos-agent renew` extends it in time
// (the runner renews while it holds the fault; if it dies, the fault ends within the lease).
import type { FaultCommands } from "./types.js";

const SEPARATOR = ";";

export interface AgentApplyOptions {
  /** interface name, or `$IFACE` for the default-route interface */
  readonly iface: string;
  /** whole seconds the fault may outlive the runner's last renewal */
  readonly leaseSeconds?: number | undefined;
}

function checkCommand(cmd: readonly string[], what: string): void {
  if (cmd.length === 0) throw new RangeError(`empty ${what} command`);
  for (const arg of cmd) {
    if (arg === SEPARATOR) throw new RangeError(`${what} command ${JSON.stringify(cmd)} contains the separator argument ";"`);
  }
}

export function agentApplyArgv(faultId: string, commands: FaultCommands, options: AgentApplyOptions): string[] {
  if (commands.apply.length === 0) throw new RangeError("a fault needs at least one apply command");
  const argv = ["chaos-agent", "apply", "--id", faultId, "--iface", options.iface];
  if (options.leaseSeconds !== undefined) {
    if (!Number.isInteger(options.leaseSeconds) || options.leaseSeconds < 1) throw new RangeError(`lease must be a whole number of seconds ≥ 1, not ${options.leaseSeconds}`);
    argv.push("--lease", `${options.leaseSeconds}s`);
  }
  for (const cmd of commands.revert) {
    checkCommand(cmd, "revert");
    argv.push("--revert", ...cmd, SEPARATOR);
  }
  argv.push("--");
  commands.apply.forEach((cmd, i) => {
    checkCommand(cmd, "apply");
    if (i > 0) argv.push(SEPARATOR);
    argv.push(...cmd);
  });
  return argv;
}

export function agentRevertArgv(faultId: string): string[] {
  return ["chaos-agent", "revert", "--id", faultId];
}

/** Extends the leases of the given faults by `leaseSeconds` from now. */
export function agentRenewArgv(leaseSeconds: number, faultIds: readonly string[]): string[] {
  return ["chaos-agent", "renew", "--lease", `${leaseSeconds}s`, ...faultIds];
}

/** The agent's TTL in whole seconds (at least 1), as its serve argv. */
export function agentServeArgs(ttlMs: number): string[] {
  return ["serve", "--ttl", `${Math.max(1, Math.ceil(ttlMs / 1000))}s`];
}

/** A lease in whole seconds (at least 1) from milliseconds. */
export function leaseSeconds(leaseMs: number): number {
  return Math.max(1, Math.ceil(leaseMs / 1000));
}
