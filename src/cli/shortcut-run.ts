// How a shortcut verb runs its scenario (shortcut-scenario.ts): connected with kubectl's flags,
// watched with a countdown of its step and plain lines on stderr, what each fault measured
// printed where the verb measures, and one line on stdout once it passed.
import type { EngineEvent } from "../engine/events.js";
import type { Cluster } from "../kube/types.js";
import type { Scenario } from "../scenario/types.js";
import { countdownView } from "../ui/countdown.js";
import { plainView } from "../ui/plain.js";
import { ENGINE_DEFAULTS, connectFromFlags } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { observations } from "./observations.js";
import { writeResult } from "./result.js";
import { runScenario } from "./run-scenario.js";

export interface Shortcut {
  readonly scenario: Scenario;
  /** --agent-image (the kill-pod verb adds no agent) */
  readonly agentImage?: string | undefined;
  /** --detach: the held fault is handed to the agent's lease */
  readonly detach?: boolean;
  /** a kill or a pod deletion: its step ends once every pod recovered */
  readonly untilRecovered?: boolean;
  /** print what each fault measured in each pod (kill, kill-pod, stress) */
  readonly printObservations?: boolean;
  /** stdout once the run passed */
  readonly done: string;
}

/** Connects, lets `prepare` look at the cluster if it must, runs; the exit code of the run. */
export async function runShortcut(ctx: VerbContext, prepare: (cluster: Cluster) => Shortcut | Promise<Shortcut>): Promise<number> {
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const s = await prepare(cluster);
    const observed = observations();
    const views: ((e: EngineEvent) => void)[] = [];
    if (s.printObservations === true) views.push(observed.observe);
    if (s.scenario.steps.length > 0) views.push(countdownView({ out: ctx.io.stderr, tty: ctx.io.stderrIsTTY, now: Date.now }));
    views.push(plainView(ctx.io.stderr));
    const name = s.scenario.metadata.name;
    const setup = {
      scenario: s.scenario,
      file: name,
      agentImage: s.agentImage,
      concurrency: ENGINE_DEFAULTS.concurrency,
      handOffToLease: s.detach === true,
      untilRecovered: s.untilRecovered === true,
    };
    const outcome = await runScenario(ctx, cluster, setup, views);
    if ("planError" in outcome) throw outcome.planError;
    if (s.printObservations === true) observed.print(ctx.io.stdout);
    const code = writeResult(ctx, outcome.result);
    if (code === 0) ctx.io.stdout.write(s.done);
    return code;
  } finally {
    cluster.close();
  }
}
