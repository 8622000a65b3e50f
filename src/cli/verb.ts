// The one shape of a verb: it declares its flags (flags.ts), its help and what it takes besides
// options; defineVerb parses argv with node's parseArgs, answers --help, checks the positionals
// and reads every flag into its typed value — each problem a usage error (exit 2) with a hint —
// before the verb's own code runs.
import { parseArgs } from "node:util";
import { ExitCode, UsageError } from "../errors.js";
import type { Flag, FlagUse, RawFlag } from "./flags.js";
import type { VerbContext } from "./io.js";

export type Flags = Readonly<Record<string, Flag<unknown>>>;

export type FlagValues<F extends Flags> = { readonly [K in keyof F]: F[K] extends Flag<infer T> ? T : never };

/** What a verb takes besides options: nothing, or at least one argument (`one`: exactly one). */
export type Positionals =
  | "none"
  | {
      /** `${verb} ${missing}` when there is none; absent: none is fine too */
      readonly missing?: string | undefined;
      /** `${verb} ${one}, got N` when there are more than one; absent: any number */
      readonly one?: string;
    };

export interface VerbSpec<F extends Flags> {
  readonly name: string;
  readonly help: string;
  readonly flags: F;
  readonly positionals: Positionals;
  /** a command line that works: the hint of a usage error */
  readonly example?: string;
}

export interface VerbArgs<F extends Flags> {
  readonly values: FlagValues<F>;
  readonly positionals: readonly string[];
}

export interface VerbCall<F extends Flags> extends VerbArgs<F> {
  readonly ctx: VerbContext;
}

function parse(spec: VerbSpec<Flags>, args: readonly string[]): { values: Record<string, RawFlag>; positionals: string[] } {
  const options: Record<string, Flag<unknown>["option"]> = { help: { type: "boolean", short: "h" } };
  for (const [key, flag] of Object.entries(spec.flags)) options[key] = flag.option;
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    const message = e instanceof Error ? (e.message.split("\n")[0] ?? e.message) : String(e);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ""), { hint: `see: chaos-run ${spec.name} --help` });
  }
}

function checkPositionals(spec: VerbSpec<Flags>, positionals: readonly string[]): void {
  const hint = spec.example === undefined ? {} : { hint: spec.example };
  const p = spec.positionals;
  if (p === "none") {
    if (positionals.length > 0) throw new UsageError(`${spec.name} takes no arguments besides options, got ${positionals.join(" ")}`, hint);
    return;
  }
  if (positionals.length === 0) {
    if (p.missing !== undefined) throw new UsageError(`${spec.name} ${p.missing}`, hint);
    return;
  }
  if (p.one !== undefined && positionals.length > 1) throw new UsageError(`${spec.name} ${p.one}, got ${positionals.length}`);
}

/** argv after the verb → "help", or the positionals and every flag's value; usage errors thrown. */
export function readVerbArgs<F extends Flags>(spec: VerbSpec<F>, args: readonly string[]): "help" | VerbArgs<F> {
  const parsed = parse(spec, args);
  if (parsed.values["help"] === true) return "help";
  checkPositionals(spec, parsed.positionals);
  const values: Record<string, unknown> = {};
  for (const [key, flag] of Object.entries(spec.flags)) {
    const short = flag.option.short;
    const use: FlagUse = { label: short === undefined ? `--${key}` : `-${short}/--${key}`, verb: spec.name, example: spec.example };
    values[key] = flag.read(parsed.values[key], use);
  }
  // every key of F was read by its own flag, so each value has that flag's type
  return { values: values as FlagValues<F>, positionals: parsed.positionals };
}

/** A verb module's run(): --help answered, flags read, then `body` with the values. */
export function defineVerb<F extends Flags>(spec: VerbSpec<F>, body: (call: VerbCall<F>) => Promise<number>): (ctx: VerbContext) => Promise<number> {
  return async (ctx) => {
    const args = readVerbArgs(spec, ctx.args);
    if (args === "help") {
      ctx.io.stdout.write(spec.help);
      return ExitCode.Ok;
    }
    return body({ ctx, ...args });
  };
}
