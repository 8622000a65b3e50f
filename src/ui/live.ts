// The live view for a terminal: listr2's default renderer, one task per phase of the run
// (preflight, steady state, agents, each step, steady state after), driven only by engine
// events. listr2 never owns signals or exits here (registerSignalListeners: false,
// exitOnError: false): the engine owns cancellation and revert, the CLI owns the exit code.
import { Listr, type ListrTaskWrapper } from "listr2";
import type { EngineEvent } from "../engine/events.js";
import { formatDuration } from "../expect/format.js";
import type { Plan } from "../plan/types.js";
import { terminalLine } from "../report/sanitise.js";
import { describeEvent } from "../report/event-text.js";

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve = (): void => undefined;
  let reject = (_e: Error): void => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // a phase can fail before its task has started awaiting it: never an unhandled rejection
  promise.catch(() => undefined);
  const d: Deferred = { promise, resolve: () => undefined, reject: () => undefined, settled: false };
  d.resolve = () => {
    if (!d.settled) {
      d.settled = true;
      resolve();
    }
  };
  d.reject = (e) => {
    if (!d.settled) {
      d.settled = true;
      reject(e);
    }
  };
  return d;
}

type Wrapper = ListrTaskWrapper<unknown, typeof import("listr2").DefaultRenderer, typeof import("listr2").SimpleRenderer>;

export interface LiveView {
  readonly observe: (e: EngineEvent) => void;
  /** resolves once the renderer has drawn its last frame */
  readonly finished: () => Promise<void>;
}

/** The live view's phases, in their order: one listr2 task each. */
function phasesOf(plan: Plan): { key: string; title: string }[] {
  const tasks: { key: string; title: string }[] = [{ key: "preflight", title: "Preflight: permissions, Pod Security, agent TTL" }];
  if (plan.steadyState.length > 0) tasks.push({ key: "before", title: "Steady state (before)" });
  if (plan.agent.needed !== false) tasks.push({ key: "agents", title: `Agent in ${plan.target.pods.length} pod${plan.target.pods.length === 1 ? "" : "s"}` });
  for (const s of plan.steps) {
    const what = s.kind === "fault" ? `${s.fault.summary} for ${formatDuration(s.durationMs)}` : s.kind === "wait" ? `wait ${formatDuration(s.durationMs)}` : `probe ${s.run.probe}`;
    tasks.push({ key: `step-${s.index}`, title: `${s.index + 1}. ${s.name}: ${what}` });
  }
  if (plan.steadyState.length > 0) tasks.push({ key: "after", title: "Steady state (after)" });
  return tasks;
}

/** The run's phases as listr2 tasks, each one done when its phase is (by events, not by the task). */
class LivePhases {
  private readonly phases = new Map<string, Deferred>();
  private readonly wrappers = new Map<string, Wrapper>();
  private readonly failures = new Map<string, number>();
  private readonly titles = new Map<string, string>();
  private readonly order: string[] = [];
  current: string | undefined;
  private countdown: NodeJS.Timeout | undefined;
  running: Promise<unknown> = Promise.resolve();

  start(plan: Plan): void {
    const tasks = phasesOf(plan);
    for (const t of tasks) {
      this.order.push(t.key);
      this.titles.set(t.key, t.title);
      this.phases.set(t.key, deferred());
    }
    const listr = new Listr<unknown, "default", "simple">(
      tasks.map((t) => ({
        title: terminalLine(t.title),
        task: async (_ctx: unknown, task: Wrapper) => {
          this.wrappers.set(t.key, task);
          await this.phases.get(t.key)?.promise;
        },
      })),
      {
        concurrent: false,
        exitOnError: false,
        registerSignalListeners: false,
        renderer: "default",
        rendererOptions: { collapseSubtasks: false, formatOutput: "wrap", showErrorMessage: true, clearOutput: false },
      },
    );
    this.running = listr.run().catch(() => undefined);
  }

  say(key: string | undefined, text: string): void {
    const w = key === undefined ? undefined : this.wrappers.get(key);
    // a pod's text may hold escape sequences: listr2 would pass them to the terminal (report/sanitise.ts)
    if (w !== undefined) w.output = terminalLine(text);
  }

  /** counts an expectation that did not hold against the current phase */
  failed(): void {
    if (this.current !== undefined) this.failures.set(this.current, (this.failures.get(this.current) ?? 0) + 1);
  }

  private finish(key: string): void {
    const d = this.phases.get(key);
    if (d === undefined || d.settled) return;
    const failed = this.failures.get(key) ?? 0;
    if (failed > 0) d.reject(new Error(`${this.titles.get(key) ?? key}: ${failed} expectation${failed > 1 ? "s" : ""} did not hold`));
    else d.resolve();
  }

  /** moves to phase `key`, finishing every phase before it */
  enter(key: string): void {
    if (this.current === key) return;
    this.stopCountdown();
    const i = this.order.indexOf(key);
    for (const k of this.order.slice(0, i < 0 ? this.order.length : i)) this.finish(k);
    this.current = key;
  }

  /** a step's time left, said every 250 ms until the step ends */
  countDown(key: string, at: number, durationMs: number): void {
    const until = at + durationMs;
    this.countdown = setInterval(() => {
      const left = Math.max(0, until - Date.now());
      this.say(key, `${left > 0 ? `${Math.ceil(left / 1000)}s left` : "ending"} of ${formatDuration(durationMs)}`);
    }, 250);
  }

  stopCountdown(): void {
    if (this.countdown !== undefined) clearInterval(this.countdown);
    this.countdown = undefined;
  }

  /** the run ended: a run that finished finishes every phase; else the current one fails and the rest are skipped */
  end(e: Extract<EngineEvent, { type: "run:end" }>): void {
    this.stopCountdown();
    if (e.status === "passed" || e.status === "failed") {
      for (const k of this.order) this.finish(k);
      return;
    }
    const reason = new Error(terminalLine(e.message ?? e.status));
    for (const k of this.order) {
      const d = this.phases.get(k);
      if (d === undefined || d.settled) continue;
      if (k === this.current) d.reject(reason);
      else {
        this.wrappers.get(k)?.skip?.("not reached");
        d.resolve();
      }
    }
  }
}

/** Colour follows listr2's own rules, which honour NO_COLOR and FORCE_COLOR. */
export function liveView(): LiveView {
  const live = new LivePhases();
  const observe = (e: EngineEvent): void => {
    switch (e.type) {
      case "run:start":
        live.start(e.plan);
        live.enter("preflight");
        break;
      case "preflight":
        live.say("preflight", describeEvent(e) ?? "");
        break;
      case "probe:start":
        // the steady state's monitor samples through every phase: its series is in the report, not here
        if (e.where.phase === "monitor") break;
        if (e.where.phase === "before") live.enter("before");
        if (e.where.phase === "after") live.enter("after");
        live.say(live.current, `probe ${e.probe} running…`);
        break;
      case "probe:result":
        if (e.where.phase !== "monitor") live.say(live.current, describeEvent(e) ?? "");
        break;
      case "tools:ready":
      case "fault:observed":
      case "fault:watching":
      case "fault:applied":
      case "fault:lost":
      case "fault:revert-retry":
      case "fault:reverted":
      case "warning":
        live.say(live.current, describeEvent(e) ?? "");
        break;
      case "expect:result":
        if (e.outcome.verdict !== "pass") live.failed();
        live.say(live.current, describeEvent(e) ?? "");
        break;
      case "agent:injecting":
      case "agent:ready":
        // a kill agent is added within its step
        if (live.current?.startsWith("step-") !== true) live.enter("agents");
        live.say(live.current, describeEvent(e) ?? "");
        break;
      case "step:start":
        live.enter(`step-${e.index}`);
        if (e.kind !== "probe" && e.durationMs !== undefined) live.countDown(`step-${e.index}`, e.at, e.durationMs);
        break;
      case "step:end":
        live.stopCountdown();
        break;
      case "run:end":
        live.end(e);
        break;
      default:
        break;
    }
  };
  return { observe, finished: async () => void (await live.running) };
}
