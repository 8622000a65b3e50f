// chaos-run kill -p POD [-c CONTAINER] [-s SIGNAL]: a signal to a container's main process,
// through a kill agent of its own in the pod (added with targetContainerName), then the
// container's restart and the pod's return to Ready watched in the foreground — until it has
// recovered, at most the window. A signal the process cannot receive is refused before any pod
// is touched. Nothing to revert: Ctrl-C only stops the watching (exit 130).
import { KILL_SIGNALS } from "../faults/types.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, HELP_HELP, POD_FLAG, POD_HELP, targetSelection, WINDOW_FLAG } from "./common-flags.js";
import { CONTAINER_NAME, name, signal } from "./flags.js";
import { faultStep, seconds, shortcutExpectation, shortcutScenario } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb } from "./verb.js";

const DEFAULT_WINDOW_S = 60;

const HELP = `Usage: chaos-run kill -p POD [-c CONTAINER] [-s SIGNAL] [options]

Sends SIGNAL (default SIGKILL) to the main process of CONTAINER (default: the pod's default
container) in each pod, then waits in the foreground until the container has restarted and
the pod is Ready again — at most WINDOW seconds — and prints what it saw: the exit, the
restarts, the time to Ready.

The signal comes from a kill agent of its own, an ephemeral container added to the pod with
targetContainerName (it shares the container's PID namespace) and capabilities SYS_PTRACE and
KILL. There the main process is the namespace's init, which the kernel lets receive only the
signals it handles — and SIGKILL, which the kill agent injects through ptrace (and dies with).
Any other signal is refused, with the reason, before any pod is touched. With
shareProcessNamespace the main process is an ordinary one and gets any signal it does not ignore.

Options:
${POD_HELP}
  -c, --container NAME   the container (default: kubectl.kubernetes.io/default-container, else the first)
  -s, --signal SIGNAL    ${KILL_SIGNALS.join(", ")} (also without SIG, or by number)
  -w, --window S         how long to watch for the recovery: seconds (default ${DEFAULT_WINDOW_S}), or a duration (2m)
${AGENT_HELP}
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 killed and Ready again within the window, 1 the container did not restart or
was not Ready again in time, 2 usage, 3 could not run (a signal refused before any harm, RBAC,
Pod Security), 130/143 interrupted (nothing to revert).
`;

const FLAGS = {
  ...POD_FLAG,
  container: name(CONTAINER_NAME, "a container name", "c"),
  signal: signal("s"),
  ...WINDOW_FLAG,
  ...AGENT_FLAGS,
};

export const run = defineVerb({ name: "kill", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run kill -p POD -s SIGKILL" }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "kill");
  const windowMs = values.window ?? DEFAULT_WINDOW_S * 1000;
  const step = faultStep("kill", { kind: "kill", container: values.container, signal: values.signal }, windowMs, {
    // the verb's promise: the container went down, and came back in time
    expect: [shortcutExpectation("/steps/0", "restarts", { atLeast: 1 }), shortcutExpectation("/steps/0", "recovery.time", { atMost: seconds(windowMs) })],
  });
  return runShortcut(ctx, () => ({
    scenario: shortcutScenario({ name: "kill", selection, namespace: ctx.globals.namespace, pullPolicy: values["pull-policy"], steps: [step] }),
    agentImage: values["agent-image"],
    untilRecovered: true,
    printObservations: true,
    done: `killed with ${values.signal}; Ready again.\n`,
  }));
});
