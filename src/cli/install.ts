// chaos-run install -p POD [-n NS]: pod-chaos's command, kept. Adds the agent to the pod (or finds
// one still running) through the same engine as a run with no steps.
import { DEFAULT_AGENT_TTL_MS } from "../scenario/types.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, HELP_HELP, POD_FLAG, POD_HELP, targetSelection } from "./common-flags.js";
import { duration } from "./flags.js";
import { shortcutScenario } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run install -p POD [-p POD...] [options]

Adds the chaos agent to each pod as an ephemeral container, or finds one of the same image
still running there. Nothing else is changed; the agent exits by itself after its TTL.

Options:
${POD_HELP}
${AGENT_HELP}
  --ttl MINUTES          the agent's lifetime: minutes (default ${DEFAULT_AGENT_TTL_MS / 60_000}), or a duration (90m, 2h)
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 installed, 2 usage, 3 could not (RBAC, Pod Security, pod not running).
`;

const FLAGS = {
  ...POD_FLAG,
  ...AGENT_FLAGS,
  ttl: duration({ plain: "minutes", min: 1, max: 24 * 60 }),
};

export const run = defineVerb({ name: "install", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run install -p POD" }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "install");
  return runShortcut(ctx, () => ({
    scenario: shortcutScenario({ name: "install", selection, namespace: ctx.globals.namespace, pullPolicy: values["pull-policy"], ttlMs: values.ttl, steps: [] }),
    agentImage: values["agent-image"],
    done: "chaos agent installed.\n",
  }));
});
