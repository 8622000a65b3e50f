// The network verbs in the seed's style (`disrupt`, `http`, `disconnect`): one fault on named
// pods, held here in the foreground with a countdown — its lease renewed, reverted at its end or
// at once on Ctrl-C/SIGTERM — or, with --detach, handed to the agent, whose lease (the fault's
// whole duration) ends it. Each verb says only what it builds and what it tells the user.
import { TTL_MARGIN_MS } from "../engine/preflight.js";
import type { Probe, ProbeRun, Step } from "../scenario/types.js";
import { DEFAULT_AGENT_TTL_MS, type PullPolicy } from "../scenario/types.js";
import { countdownView } from "../ui/countdown.js";
import { plainView } from "../ui/plain.js";
import { ENGINE_DEFAULTS, connectFromFlags } from "./cluster.js";
import type { VerbContext } from "./io.js";
import { writeResult } from "./result.js";
import { runScenario } from "./run-scenario.js";
import { seedScenario } from "./seed-verbs.js";

export interface HeldFault {
  /** the verb: the scenario's name and its "file" in reports */
  readonly verb: string;
  readonly pods: readonly string[];
  readonly step: Step;
  readonly durationMs: number;
  readonly detach: boolean;
  readonly pullPolicy: PullPolicy | undefined;
  readonly agentImage: string | undefined;
  readonly probes?: Readonly<Record<string, Probe>> | undefined;
  readonly steadyState?: readonly ProbeRun[] | undefined;
  /** what stdout says once the run passed; `sweep` is the command that ends a detached fault early */
  readonly done: (sweep: string) => string;
}

export async function runHeldFault(ctx: VerbContext, f: HeldFault): Promise<number> {
  const namespace = ctx.globals.namespace;
  const scenario = seedScenario({
    name: f.verb,
    pods: f.pods,
    namespace,
    agentImage: undefined,
    pullPolicy: f.pullPolicy,
    // the agent outlives the fault by far: its TTL is the last resort, never the fault's end
    ttlMs: Math.max(DEFAULT_AGENT_TTL_MS, f.durationMs + 2 * TTL_MARGIN_MS),
    // handed to the agent, the lease is the fault's whole life
    leaseMs: f.detach ? f.durationMs : undefined,
    probes: f.probes,
    steadyState: f.steadyState,
    steps: [f.step],
  });
  const cluster = await connectFromFlags(ctx.globals, ctx.io);
  try {
    const countdown = countdownView({ out: ctx.io.stderr, tty: ctx.io.stderrIsTTY, now: Date.now });
    const outcome = await runScenario(ctx, cluster, { scenario, file: f.verb, agentImage: f.agentImage, concurrency: ENGINE_DEFAULTS.concurrency, handOffToLease: f.detach }, [
      countdown,
      plainView(ctx.io.stderr),
    ]);
    if ("planError" in outcome) throw outcome.planError;
    const code = writeResult(ctx, outcome.result);
    if (code === 0) ctx.io.stdout.write(f.done(`chaos-run sweep${namespace !== undefined ? ` -n ${namespace}` : ""}`));
    return code;
  } finally {
    cluster.close();
  }
}
