// The live view for a terminal: listr2's default renderer, one task per phase of the run
// (preflight, steady state, agents, each step, steady state after), driven only by engine
// events. listr2 never owns signals or exits here (registerSignalListeners: false,
// exitOnError: false): the engine owns cancellation and revert, the CLI owns the exit code.
import { Listr, type ListrTaskWrapper } from "listr2";
import type { EngineEvent } from "../engine/events.js";
import { formatDuration } from "../expect/format.js";
import type { Plan } from "../plan/types.js";
import { terminalLine } from "../report/sanitise.js";
import { describeEvent } from "./plain.js";

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

/** Colour follows listr2's own rules, which honour NO_COLOR and FORCE_COLOR. */
export function liveView(): LiveView {
  const phases = new Map<string, Deferred>();
  const wrappers = new Map<string, Wrapper>();
  const failures = new Map<string, number>();
  const titles = new Map<string, string>();
  const order: string[] = [];
  let current: string | undefined;
  let countdown: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const say = (key: string | undefined, text: string): void => {
    const w = key === undefined ? undefined : wrappers.get(key);
    // a pod's text may hold escape sequences: listr2 would pass them to the terminal (report/sanitise.ts)
    if (w !== undefined) w.output = terminalLine(text);
  };
  const finish = (key: string): void => {
    const d = phases.get(key);
    if (d === undefined || d.settled) return;
    const failed = failures.get(key) ?? 0;
    if (failed > 0) d.reject(new Error(`${titles.get(key) ?? key}: ${failed} expectation${failed > 1 ? "s" : ""} did not hold`));
    else d.resolve();
  };
  /** moves to phase `key`, finishing every phase before it */
  const enter = (key: string): void => {
    if (current === key) return;
    if (countdown !== undefined) clearInterval(countdown);
    countdown = undefined;
    const i = order.indexOf(key);
    for (const k of order.slice(0, i < 0 ? order.length : i)) finish(k);
    current = key;
  };

  const start = (plan: Plan): void => {
    const tasks: { key: string; title: string }[] = [{ key: "preflight", title: "Preflight: permissions, Pod Security, agent TTL" }];
    if (plan.steadyState.length > 0) tasks.push({ key: "before", title: "Steady state (before)" });
    if (plan.agent.needed !== false) tasks.push({ key: "agents", title: `Agent in ${plan.target.pods.length} pod${plan.target.pods.length === 1 ? "" : "s"}` });
    for (const s of plan.steps) {
      const what = s.kind === "fault" ? `${s.fault.summary} for ${formatDuration(s.durationMs)}` : s.kind === "wait" ? `wait ${formatDuration(s.durationMs)}` : `probe ${s.run.probe}`;
      tasks.push({ key: `step-${s.index}`, title: `${s.index + 1}. ${s.name}: ${what}` });
    }
    if (plan.steadyState.length > 0) tasks.push({ key: "after", title: "Steady state (after)" });
    for (const t of tasks) {
      order.push(t.key);
      titles.set(t.key, t.title);
      phases.set(t.key, deferred());
    }
    const listr = new Listr<unknown, "default", "simple">(
      tasks.map((t) => ({
        title: terminalLine(t.title),
        task: async (_ctx: unknown, task: Wrapper) => {
          wrappers.set(t.key, task);
          await phases.get(t.key)?.promise;
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
    running = listr.run().catch(() => undefined);
  };

  const observe = (e: EngineEvent): void => {
    switch (e.type) {
      case "run:start":
        start(e.plan);
        enter("preflight");
        break;
      case "preflight":
        say("preflight", describeEvent(e) ?? "");
        break;
      case "tools:ready":
        say(current, describeEvent(e) ?? "");
        break;
      case "probe:start":
        // the steady state's monitor samples through every phase: its series is in the report, not here
        if (e.where.phase === "monitor") break;
        if (e.where.phase === "before") enter("before");
        if (e.where.phase === "after") enter("after");
        say(current, `probe ${e.probe} running…`);
        break;
      case "probe:result":
        if (e.where.phase !== "monitor") say(current, describeEvent(e) ?? "");
        break;
      case "fault:observed":
      case "fault:watching":
      case "fault:applied":
      case "fault:lost":
      case "fault:revert-retry":
      case "fault:reverted":
      case "warning":
        say(current, describeEvent(e) ?? "");
        break;
      case "expect:result":
        if (e.outcome.verdict !== "pass" && current !== undefined) failures.set(current, (failures.get(current) ?? 0) + 1);
        say(current, describeEvent(e) ?? "");
        break;
      case "agent:injecting":
      case "agent:ready":
        // a kill agent is added within its step
        if (current?.startsWith("step-") === true) say(current, describeEvent(e) ?? "");
        else {
          enter("agents");
          say("agents", describeEvent(e) ?? "");
        }
        break;
      case "step:start": {
        const key = `step-${e.index}`;
        enter(key);
        if (e.kind !== "probe" && e.durationMs !== undefined) {
          const until = e.at + e.durationMs;
          countdown = setInterval(() => {
            const left = Math.max(0, until - Date.now());
            say(key, `${left > 0 ? `${Math.ceil(left / 1000)}s left` : "ending"} of ${formatDuration(e.durationMs ?? 0)}`);
          }, 250);
        }
        break;
      }
      case "step:end":
        if (countdown !== undefined) clearInterval(countdown);
        countdown = undefined;
        break;
      case "run:end":
        if (countdown !== undefined) clearInterval(countdown);
        if (e.status === "passed" || e.status === "failed") for (const k of order) finish(k);
        else {
          const reason = new Error(terminalLine(e.message ?? e.status));
          for (const k of order) {
            const d = phases.get(k);
            if (d === undefined || d.settled) continue;
            if (k === current) d.reject(reason);
            else {
              wrappers.get(k)?.skip?.("not reached");
              d.resolve();
            }
          }
        }
        break;
      default:
        break;
    }
  };
  return { observe, finished: async () => void (await running) };
}
