// chaos-run stress -p POD --cpu N [--load P] [--memory SIZE] -r S: CPU workers and memory
// consumed by the pod's agent for S seconds, held in the foreground like disrupt (Ctrl-C stops
// every stressor at once, exit 130); --detach leaves them to the agent's lease. The agent is an
// ephemeral container in the pod's cgroup, outside the app container's: what it measured — the
// load achieved, how much the pod's CPU limit throttled it, what the OOM killer took — is printed.
import { UsageError } from "../errors.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, DETACH_FLAG, DURATION_FLAG, DURATION_HELP, HELP_HELP, POD_FLAG, POD_HELP, targetSelection } from "./common-flags.js";
import { boolean, percent, size, wholeNumber } from "./flags.js";
import { faultStep, heldFaultScenario, seconds, sweepCommand } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb } from "./verb.js";

const HELP = `Usage: chaos-run stress -p POD [--cpu N [--load P]] [--memory SIZE] -r DURATION_S [options]

Consumes CPU and memory in each pod for DURATION_S seconds, from its agent (added if the pod
has none; it needs no capability), held in the foreground: every stressor stops at the end,
at once on Ctrl-C (exit 130) or SIGTERM (143), when the agent's lease lapses, at its TTL, and
when the agent dies. With --detach, returns once the stressors run and leaves them to the
agent, which stops them after DURATION_S by itself (chaos-run sweep stops them sooner).

The agent is an ephemeral container: it has no resources of its own and runs in the pod's
cgroup, outside the app container's. It competes with the app under the pod's CPU limit (the
sum of its containers' limits), and its memory counts towards the pod's limit, not the app
container's. What it measured is printed: the load achieved, how long the pod's CPU limit
throttled it, and — under a memory limit — what the OOM killer took (the memory stressor asks
to be its first choice, so that the agent survives to report).

A stress asks a pod for no more than the pod has: memory up to its memory limit, CPU workers
(workers x load) up to its CPU limit; on a pod without a limit, up to its request (what the
scheduler set aside for it on its node). More is refused unless --allow-beyond-limit.

Options:
${POD_HELP}
  --cpu N                CPU workers (threads), each on an exact duty cycle
  --load P               percent of one CPU each worker uses: 50, or 50% (default 100)
  --memory SIZE          memory to allocate and touch: 64Mi, 1Gi, 500M, bytes
  --allow-beyond-limit   ask for more than the pod's limit (or, without one, its request):
                         refused otherwise, before anything is touched (exit 3)
${DURATION_HELP}
  --detach               return once the stressors run; the agent stops them after DURATION_S
${AGENT_HELP}
${HELP_HELP}
${CLUSTER_HELP}

Exit status: 0 stressed for the duration and stopped (with --detach: started), 2 usage,
3 could not run, 4 a stop could not be confirmed, 130/143 interrupted (after stopping).
`;

const FLAGS = {
  ...POD_FLAG,
  cpu: wholeNumber({ min: 1, max: 64, of: "workers" }),
  load: percent({ aboveZero: true, takes: "a percent of one CPU above 0 and at most 100" }),
  memory: size({ min: 4096, max: 1024 ** 4 }),
  "allow-beyond-limit": boolean(),
  ...DURATION_FLAG,
  ...DETACH_FLAG,
  ...AGENT_FLAGS,
};

export const run = defineVerb({ name: "stress", help: HELP, flags: FLAGS, positionals: "none", example: "chaos-run stress -p POD --cpu 1 --load 50 -r 30" }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "stress");
  const { cpu: workers, load, memory, duration: durationMs, detach } = values;
  if (load !== undefined && workers === undefined) throw new UsageError("--load needs --cpu N");
  if (workers === undefined && memory === undefined) throw new UsageError("stress needs --cpu N or --memory SIZE (or both)", { hint: "chaos-run stress -p POD --cpu 1 --load 50 -r 30" });
  const beyond = values["allow-beyond-limit"] ? { allowBeyondLimit: true } : {};
  const fault = {
    kind: "stress" as const,
    cpu: workers === undefined ? undefined : { workers, load: load ?? 100, ...beyond },
    memory: memory === undefined ? undefined : { bytes: memory.bytes, text: memory.text, ...beyond },
  };
  const namespace = ctx.globals.namespace;
  return runShortcut(ctx, () => ({
    scenario: heldFaultScenario({ name: "stress", selection, namespace, pullPolicy: values["pull-policy"], step: faultStep("stress", fault, durationMs), durationMs, detach }),
    agentImage: values["agent-image"],
    detach,
    printObservations: true,
    done: detach
      ? `stressors running; the agent stops them in ${seconds(durationMs)} by itself. To stop them now: ${sweepCommand(namespace)}\n`
      : `stressed for ${seconds(durationMs)}; every stressor stopped.\n`,
  }));
});
