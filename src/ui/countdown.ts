// The countdown of a fault held in the foreground (disrupt): on a terminal one live line,
// redrawn every second; elsewhere (CI logs) a line every ten seconds, since a line per second
// would drown the log. It only observes engine events. Put it before the plain view among the
// observers: it clears its live line before any other line is written.
import type { EngineEvent } from "../engine/events.js";
import type { Line } from "./plain.js";

export interface CountdownOptions {
  readonly out: Line;
  /** a terminal: one line redrawn in place */
  readonly tty: boolean;
  readonly now: () => number;
  /** how often a line is written without a terminal */
  readonly plainEveryMs?: number | undefined;
}

function left(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export function countdownView(o: CountdownOptions): (e: EngineEvent) => void {
  let timer: NodeJS.Timeout | undefined;
  let drawn = false;
  const clear = (): void => {
    if (drawn) o.out.write("\r\u001b[2K");
    drawn = false;
  };
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    clear();
  };
  /** a line of its own, redrawn (on a terminal) or written again (elsewhere) until the next event stops it */
  const show = (text: () => string): void => {
    stop();
    const draw = (): void => {
      if (o.tty) {
        o.out.write(`\r\u001b[2K${text()}`);
        drawn = true;
      } else o.out.write(`${text()}\n`);
    };
    draw();
    timer = setInterval(draw, o.tty ? 1000 : (o.plainEveryMs ?? 10_000));
    timer.unref();
  };
  return (e) => {
    if (o.tty) clear();
    switch (e.type) {
      case "fault:holding": {
        const pods = e.pods.map((p) => p.name).join(", ");
        show(() => `holding ${e.summary} on ${pods}: ${left(e.untilAt - o.now())} left (Ctrl-C reverts it now)`);
        break;
      }
      case "fault:watching": {
        const pods = e.pods.map((p) => p.name).join(", ");
        show(() => `watching ${pods} recover from ${e.summary}: ${left(e.untilAt - o.now())} left (Ctrl-C stops watching)`);
        break;
      }
      case "fault:observed":
      case "fault:reverted":
      case "fault:revert-retry":
      case "step:end":
      case "run:end":
        stop();
        break;
      default:
        break;
    }
  };
}
