// The kinds of flag the verbs take, each declared once: how node's parseArgs reads it, what its
// text means, and the usage error (exit 2) when it means nothing. A flag takes what the scenario
// file takes for the same thing — `--error-rate 20%` as `errorRate: "20%"`, `-r 1.5m` as
// `duration: 1.5m` — and a plain number keeps the unit the verb always gave it (`-d 100` is
// milliseconds, `-r 30` seconds). verb.ts reads a verb's flags through these.
import { UsageError } from "../errors.js";
import { KILL_SIGNALS, type KillSignal } from "../faults/types.js";
import { parseSelector, SelectorSyntaxError, type Selector } from "../scenario/selector.js";
import { formatSize, parseDuration, parsePercent, parseSize, roundMs } from "../scenario/units.js";

/** What parseArgs gives for one flag. */
export type RawFlag = string | boolean | (string | boolean)[] | undefined;

/** Where a flag is read: its name as messages give it (`-r/--duration`), and its verb. */
export interface FlagUse {
  readonly label: string;
  readonly verb: string;
  /** the verb's example command line, the hint of a missing required flag */
  readonly example: string | undefined;
}

export interface Flag<T> {
  readonly option: { readonly type: "string" | "boolean"; readonly short?: string; readonly multiple?: boolean };
  /** the flag's value from what parseArgs read; a UsageError when the text means nothing */
  readonly read: (raw: RawFlag, use: FlagUse) => T;
}

function stringOption(short: string | undefined, multiple = false): Flag<unknown>["option"] {
  return { type: "string", ...(short === undefined ? {} : { short }), ...(multiple ? { multiple } : {}) };
}

function lastText(raw: RawFlag): string | undefined {
  return typeof raw === "string" ? raw : undefined;
}

function allTexts(raw: RawFlag): string[] {
  return Array.isArray(raw) ? raw.filter((v): v is string => typeof v === "string") : typeof raw === "string" ? [raw] : [];
}

/** A flag whose text becomes a value or is refused with `${label} ${refusal}`. */
function textFlag<T>(short: string | undefined, parse: (text: string) => T | undefined, refusal: string): Flag<T | undefined> {
  return {
    option: stringOption(short),
    read: (raw, use) => {
      const given = lastText(raw);
      if (given === undefined) return undefined;
      const value = parse(given);
      if (value === undefined) throw new UsageError(`${use.label} ${refusal}, not ${JSON.stringify(given)}`);
      return value;
    },
  };
}

export function boolean(short?: string): Flag<boolean> {
  return { option: { type: "boolean", ...(short === undefined ? {} : { short }) }, read: (raw) => raw === true };
}

export function text(short?: string): Flag<string | undefined> {
  return { option: stringOption(short), read: lastText };
}

/** A flag given any number of times, in order. */
export function texts(short?: string): Flag<readonly string[]> {
  return { option: stringOption(short, true), read: allTexts };
}

const PLAIN_NUMBER = /^\d+(\.\d+)?$/;
const WHOLE_NUMBER = /^[0-9]+$/;

/** A whole number in a range (a port, a status code, a seed); `of` names what it counts. */
export function wholeNumber(o: { readonly min: number; readonly max: number; readonly of?: string; readonly short?: string }): Flag<number | undefined> {
  const ok = (t: string) => (WHOLE_NUMBER.test(t) && Number(t) >= o.min && Number(t) <= o.max ? Number(t) : undefined);
  const refusal = o.of === undefined ? `must be a whole number from ${o.min} to ${o.max}` : `takes a whole number of ${o.of} from ${o.min} to ${o.max}`;
  return textFlag(o.short, ok, refusal);
}

const PLAIN_UNITS = { milliseconds: 1, seconds: 1000, minutes: 60_000 } as const;
const DURATION_EXAMPLES: Readonly<Record<keyof typeof PLAIN_UNITS, string>> = { milliseconds: "100ms, 1.5s", seconds: "30s, 1.5m", minutes: "90m, 2h" };

export interface DurationOptions {
  /** what a plain number counts, as the verb always took it */
  readonly plain: keyof typeof PLAIN_UNITS;
  /** the range, in plain units */
  readonly min: number;
  readonly max: number;
  /** a plain number must be whole (as `-r` always was); a duration with its unit need not */
  readonly whole?: boolean;
  readonly short?: string;
}

/** A duration, in milliseconds: a plain number in the verb's unit, or one as a scenario writes it. */
export function duration(o: DurationOptions): Flag<number | undefined> {
  const factor = PLAIN_UNITS[o.plain];
  const parse = (t: string): number | undefined => {
    const plain = PLAIN_NUMBER.test(t) && (o.whole !== true || WHOLE_NUMBER.test(t));
    const ms = plain ? roundMs(Number(t) * factor) : parseDuration(t);
    return ms !== undefined && ms >= o.min * factor && ms <= o.max * factor ? ms : undefined;
  };
  const refusal = `takes ${o.whole === true ? "a whole number" : "a number"} of ${o.plain} from ${o.min} to ${o.max} or a duration (${DURATION_EXAMPLES[o.plain]})`;
  return textFlag(o.short, parse, refusal);
}

/** A percentage as `50` or `50%`; `takes` says what it is where the plain range would not. */
export function percent(o: { readonly short?: string; readonly aboveZero?: boolean; readonly takes?: string } = {}): Flag<number | undefined> {
  const parse = (t: string): number | undefined => {
    const n = PLAIN_NUMBER.test(t) ? Number(t) : parsePercent(t);
    return n !== undefined && n <= 100 && (o.aboveZero !== true || n > 0) ? n : undefined;
  };
  return textFlag(o.short, parse, `takes ${o.takes ?? "a number of percent from 0 to 100 (5 or 5%)"}`);
}

export interface Size {
  readonly bytes: number;
  /** as given: the fault and its report show it */
  readonly text: string;
}

/** A size as Kubernetes writes one (`64Mi`, `1Gi`, `500M`, bytes), in a range. */
export function size(o: { readonly min: number; readonly max: number }): Flag<Size | undefined> {
  const parse = (t: string): Size | undefined => {
    const bytes = parseSize(t);
    return bytes !== undefined && bytes >= o.min && bytes <= o.max ? { bytes, text: t } : undefined;
  };
  return textFlag(undefined, parse, `takes a size from ${formatSize(o.min)} to ${formatSize(o.max)} (64Mi, 1Gi, 500M, bytes)`);
}

/** One of a few words (`--format text|json`); without a fallback, undefined when not given. */
export function choice<T extends string>(allowed: readonly T[]): Flag<T | undefined>;
export function choice<T extends string>(allowed: readonly T[], fallback: T): Flag<T>;
export function choice<T extends string>(allowed: readonly T[], fallback?: T): Flag<T | undefined> {
  const flag = textFlag(undefined, (t) => allowed.find((a) => a === t), `must be one of ${allowed.join(", ")}`);
  return { option: flag.option, read: (raw, use) => flag.read(raw, use) ?? fallback };
}

/** A flag the verb cannot do without: `${verb} ${needs}`, with the verb's example as hint. */
export function required<T>(flag: Flag<T | undefined>, needs: string): Flag<T> {
  return {
    option: flag.option,
    read: (raw, use) => {
      const value = flag.read(raw, use);
      if (value === undefined) throw new UsageError(`${use.verb} ${needs}`, use.example === undefined ? {} : { hint: use.example });
      return value;
    },
  };
}

const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function splitNames(lists: readonly string[]): string[] {
  return lists
    .flatMap((v) => v.split(","))
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/** Target pods by name, `-p POD` repeated or comma-separated; none when not given (the target is then found another way). */
export function podNames(): Flag<string[]> {
  return {
    option: stringOption("p", true),
    read: (raw) => {
      const names = splitNames(allTexts(raw));
      const bad = names.find((p) => !POD_NAME.test(p));
      if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not a pod name`);
      return names;
    },
  };
}

/** A label selector in kubectl's syntax (`-l app=web,tier in (a,b),!canary`), refused where it does not parse. */
export function labelSelector(short?: string): Flag<Selector | undefined> {
  return {
    option: stringOption(short),
    read: (raw, use) => {
      const given = lastText(raw);
      if (given === undefined) return undefined;
      try {
        return parseSelector(given);
      } catch (e) {
        if (!(e instanceof SelectorSyntaxError)) throw e;
        throw new UsageError(`${use.label} ${JSON.stringify(given)}: ${e.message} (at column ${e.column + 1})`, {
          hint: "kubectl's syntax: app=web, tier!=db, zone in (a,b), track notin (canary), gpu, !legacy",
        });
      }
    },
  };
}

/** Pod names standing in for a cluster's (`plan --pods a,b,c`). */
export function podList(): Flag<string[] | undefined> {
  return {
    option: stringOption(undefined),
    read: (raw, use) => {
      const given = lastText(raw);
      if (given === undefined) return undefined;
      const names = splitNames([given]);
      const bad = names.find((p) => !POD_NAME.test(p));
      if (names.length === 0 || bad !== undefined) throw new UsageError(`${use.label} needs comma-separated pod names${bad !== undefined ? `; ${JSON.stringify(bad)} is not one` : ""}`);
      return names;
    },
  };
}

/** A name the kernel or Kubernetes would refuse otherwise (`what`: "an interface name"). */
export function name(pattern: RegExp, what: string, short?: string): Flag<string | undefined> {
  return {
    option: stringOption(short),
    read: (raw) => {
      const given = lastText(raw);
      if (given !== undefined && !pattern.test(given)) throw new UsageError(`${JSON.stringify(given)} is not ${what}`);
      return given;
    },
  };
}

export const INTERFACE_NAME = /^[A-Za-z0-9_.@-]{1,15}$/;
export const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const SIGNAL_NUMBERS: Readonly<Record<string, KillSignal>> = { "9": "SIGKILL", "15": "SIGTERM", "2": "SIGINT", "3": "SIGQUIT", "1": "SIGHUP", "6": "SIGABRT", "10": "SIGUSR1", "12": "SIGUSR2" };

/** `KILL`, `SIGKILL`, `kill`, `9` → SIGKILL; SIGKILL when not given. */
export function signalFlag(value: string | undefined): KillSignal {
  if (value === undefined) return "SIGKILL";
  const upper = value.toUpperCase();
  const signal = SIGNAL_NUMBERS[value] ?? KILL_SIGNALS.find((s) => s === upper || s === `SIG${upper}`);
  if (signal === undefined)
    throw new UsageError(`-s/--signal must be one of ${KILL_SIGNALS.join(", ")}, not ${JSON.stringify(value)}`, {
      hint: "signals whose default action ends a process; SIGSTOP and SIGCONT are not offered",
    });
  return signal;
}

export function signal(short?: string): Flag<KillSignal> {
  return { option: stringOption(short), read: (raw) => signalFlag(lastText(raw)) };
}
