// What the shortcut verbs that measure (kill, kill-pod, stress) print when they end: what each
// fault measured in each pod, as the journal has it, on stdout.
import type { EngineEvent } from "../engine/events.js";
import type { Output } from "./io.js";

export interface Observations {
  readonly observe: (e: EngineEvent) => void;
  /** the observations' lines; true when there was at least one */
  readonly print: (out: Output) => boolean;
}

export function observations(): Observations {
  const lines: string[] = [];
  return {
    observe: (e) => {
      if (e.type === "fault:observed") lines.push(`${e.pod.namespace}/${e.pod.name}: ${e.detail}`);
    },
    print: (out) => {
      for (const l of lines) out.write(`${l}\n`);
      return lines.length > 0;
    },
  };
}
