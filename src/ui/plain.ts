// The plain view: one timestamped line per engine event, no colour, no cursor movement. Used
// without a TTY, under CI=true, with NO_COLOR or --output plain. It only observes.
import type { EngineEvent } from "../engine/events.js";
import { describeEvent } from "../report/event-text.js";
import { terminalLine } from "../report/sanitise.js";

export interface Line {
  write(text: string): void;
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}

export function plainView(out: Line): (e: EngineEvent) => void {
  return (e) => {
    const text = describeEvent(e);
    // one line per event, whatever a pod put in its text (report/sanitise.ts)
    if (text !== undefined) out.write(`${clock(e.at)} ${terminalLine(text)}\n`);
  };
}
