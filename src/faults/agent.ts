// The exec argv the runner sends to the chaos agent in a pod.
//
// Format (the agent parses exactly this; arguments are separate argv entries, no shell):
//
//   chaos-agent apply --id ID --iface IFACE
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
// and in commands) stands for the pod's default-route interface, resolved by the agent.
import type { FaultCommands } from "./types.js";

const SEPARATOR = ";";

export interface AgentApplyOptions {
  /** interface name, or `$IFACE` for the default-route interface */
  readonly iface: string;
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
