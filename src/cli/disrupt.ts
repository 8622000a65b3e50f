// chaos-run disrupt -p POD -d MS -r S: pod-chaos's command, kept. A one-fault netem scenario
// through the same engine. By default the fault is held in the foreground with a countdown, its
// lease renewed, and reverted here at its end — or at once on Ctrl-C (exit 130) or SIGTERM (143).
// With --detach the fault is handed to the agent, whose lease (the fault's duration) ends it,
// and the command returns once the fault is in effect, saying how to end it early.
import { UsageError } from "../errors.js";
import type { NetemParams } from "../faults/types.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, DETACH_FLAG, DURATION_FLAG, DURATION_HELP, HELP_HELP, POD_HELP_SELECTOR_LONG, targetFlags, targetSelection } from "./common-flags.js";
import { boolean, duration, INTERFACE_NAME, name, percent } from "./flags.js";
import { faultStep, heldFaultScenario, seconds, sweepCommand } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run disrupt -p POD -d DELAY_MS -r DURATION_S [options]

Adds network latency (and optionally jitter and loss) to each pod for DURATION_S seconds,
through the agent (added if the pod has none), and holds it in the foreground with a
countdown: the fault is reverted at the end, or at once on Ctrl-C (exit 130) or SIGTERM
(exit 143). With --detach, returns as soon as the fault is in effect and leaves it to the
agent, which reverts it by itself when the duration is over (chaos-run sweep ends it sooner).

Options:
${POD_HELP_SELECTOR_LONG}
  -d, --delay MS         added delay: milliseconds (100), or a duration (100ms, 1.5s)
${DURATION_HELP}
  -j, --jitter MS        jitter: milliseconds (10), or a duration (with --delay)
  -l, --loss PERCENT     packet loss: percent (5, or 5%)
  -i, --interface NAME   interface (default: the pod's default-route interface)
  --detach               return once the fault is in effect; the agent ends it after DURATION_S
  -w, --wait             hold the fault in the foreground (the default; kept for scripts)
${AGENT_HELP}
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 applied and reverted (with --detach: applied), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

const FLAGS = {
  ...targetFlags({ selectorShort: false }),
  delay: duration({ short: "d", plain: "milliseconds", min: 0, max: 60_000 }),
  jitter: duration({ short: "j", plain: "milliseconds", min: 0, max: 60_000 }),
  loss: percent({ short: "l" }),
  ...DURATION_FLAG,
  interface: name(INTERFACE_NAME, "an interface name", "i"),
  wait: boolean("w"),
  ...DETACH_FLAG,
  ...AGENT_FLAGS,
};

export const run = defineVerb({ name: "disrupt", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run disrupt -p POD -d 100 -r 30" }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "disrupt");
  const { delay: delayMs, jitter: jitterMs, loss, duration: durationMs, detach } = values;
  if (delayMs === undefined && loss === undefined) throw new UsageError("disrupt needs a delay (-d MS) or a loss (-l PERCENT)");
  if (jitterMs !== undefined && delayMs === undefined) throw new UsageError("--jitter needs --delay");
  if (detach && values.wait) throw new UsageError("--detach and --wait contradict each other: --wait holds the fault here (the default), --detach leaves it to the agent");
  const netem: NetemParams = { delayMs, jitterMs, correlation: undefined, distribution: undefined, loss, duplicate: undefined, corrupt: undefined, reorder: undefined, rate: undefined };
  const step = faultStep("disrupt", { kind: "netem", netem, scope: undefined, interface: values.interface }, durationMs);
  const namespace = ctx.globals.namespace;
  return runShortcut(ctx, () => ({
    scenario: heldFaultScenario({ name: "disrupt", selection, namespace, pullPolicy: values["pull-policy"], step, durationMs, detach }),
    agentImage: values["agent-image"],
    detach,
    done: detach
      ? `fault applied; the agent reverts it in ${seconds(durationMs)} by itself. To end it early: ${sweepCommand(namespace)}\n`
      : `fault applied for ${seconds(durationMs)} and reverted.\n`,
  }));
});
