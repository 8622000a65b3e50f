// chaos-run kill-pod -p POD [--grace S]: the pod deleted through the API (no agent), and its
// controller watched in the foreground until a replacement is Ready — at most the window. A pod
// with no controller does not come back, and is said so. Nothing to revert: Ctrl-C only stops
// the watching (exit 130).
import type { Cluster } from "../kube/types.js";
import { CLUSTER_HELP } from "./cluster.js";
import { HELP_HELP, POD_FLAG, POD_HELP, targetSelection, WINDOW_FLAG } from "./common-flags.js";
import { duration } from "./flags.js";
import type { Output } from "./io.js";
import { faultStep, seconds, shortcutExpectation, shortcutScenario } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb } from "./verb.js";

const DEFAULT_WINDOW_S = 120;

const HELP = `Usage: chaos-run kill-pod -p POD [--grace S] [options]

Deletes each pod through the API (no agent is added), then watches its controller in the
foreground until a replacement is Ready — at most WINDOW seconds — and prints the time it took
(recovery.time) and how many of the controller's pods are Ready (pods.ready). A pod with no
controller does not come back: the command says so before it deletes it.

Options:
${POD_HELP}
  --grace S              grace period of the deletion: seconds, or a duration (default: the pod's own; 0: at once)
  -w, --window S         how long to watch for a replacement: seconds (default ${DEFAULT_WINDOW_S}), or a duration (5m)
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 deleted (and, where it has a controller, replaced by a Ready pod within the
window), 1 no replacement Ready in time, 2 usage, 3 could not run (RBAC: delete pods),
130/143 interrupted (the pod stays deleted; nothing to revert).
`;

const FLAGS = {
  ...POD_FLAG,
  grace: duration({ plain: "seconds", min: 0, max: 3600, whole: true }),
  ...WINDOW_FLAG,
};

/** The pods of `names` that no controller would replace, each said on stderr: they will not come back. */
async function podsWithoutController(cluster: Cluster, namespace: string, names: readonly string[], err: Output): Promise<string[]> {
  const bare: string[] = [];
  for (const name of names) {
    const p = await cluster.getPod(namespace, name);
    if (p !== undefined && p.owner === undefined) bare.push(name);
  }
  for (const name of bare) err.write(`chaos-run: pod ${namespace}/${name} has no controller: once deleted, it will not come back\n`);
  return bare;
}

export const run = defineVerb({ name: "kill-pod", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run kill-pod -p POD" }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "kill-pod");
  const windowMs = values.window ?? DEFAULT_WINDOW_S * 1000;
  return runShortcut(ctx, async (cluster) => {
    // only what a controller replaces can be expected back
    // (said for named pods; a Service's, a workload's or a selector's pods are found at run time)
    const named = selection.kind === "pods" ? selection.names : [];
    const bare = await podsWithoutController(cluster, ctx.globals.namespace ?? cluster.identity.namespace, named, ctx.io.stderr);
    const step = faultStep("kill-pod", { kind: "podDelete", gracePeriodMs: values.grace }, windowMs, {
      expect: bare.length === 0 ? [shortcutExpectation("/steps/0", "recovery.time", { atMost: seconds(windowMs) })] : [],
    });
    return {
      scenario: shortcutScenario({ name: "kill-pod", selection, namespace: ctx.globals.namespace, steps: [step] }),
      untilRecovered: true,
      printObservations: true,
      done: bare.length === 0 ? "deleted; replaced by a Ready pod.\n" : "deleted.\n",
    };
  });
});
