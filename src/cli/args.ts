// node:util parseArgs with chaos-run's usage errors (exit 2 and a hint).
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseVerbArgs<O extends Options>(verb: string, args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    const message = e instanceof Error ? (e.message.split("\n")[0] ?? e.message) : String(e);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ""), { hint: `see: chaos-run ${verb} --help` });
  }
}

export function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${flag} must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`);
}

export function integerFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}
