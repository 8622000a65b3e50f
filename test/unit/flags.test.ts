// The verbs' flags (src/cli/flags.ts, common-flags.ts) read through the one verb helper: a flag
// takes what the scenario file takes for the same thing, and a plain number keeps the unit the
// verb always gave it; anything else is a usage error naming the flag and what it takes.
import { describe, expect, it } from "vitest";
import { DURATION_FLAG, POD_FLAG, targetSelection, WINDOW_FLAG } from "../../src/cli/common-flags.js";
import { choice, duration, percent, podList, size, wholeNumber } from "../../src/cli/flags.js";
import { type Flags, readVerbArgs } from "../../src/cli/verb.js";
import { ExitCode, UsageError } from "../../src/errors.js";

function read<F extends Flags>(flags: F, ...args: string[]) {
  const r = readVerbArgs({ name: "verb", help: "", flags, positionals: "none", example: "chaos-run verb -p POD" }, args);
  if (r === "help") throw new Error("unexpected --help");
  return r.values;
}

/** The usage error `read` throws, as the CLI would print it. */
function refusal<F extends Flags>(flags: F, ...args: string[]): { message: string; hint: string | undefined; exitCode: number } {
  try {
    read(flags, ...args);
  } catch (e) {
    if (e instanceof UsageError) return { message: e.message, hint: e.hint, exitCode: e.exitCode };
    throw e;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

describe("durations", () => {
  const delay = { delay: duration({ short: "d", plain: "milliseconds", min: 0, max: 60_000 }) };
  it("a plain number in the verb's unit, or a duration as a scenario writes it; in milliseconds", () => {
    expect(read(delay, "-d", "100").delay).toBe(100);
    expect(read(delay, "-d", "0.5").delay).toBe(0.5);
    expect(read(delay, "-d", "100ms").delay).toBe(100);
    expect(read(delay, "--delay", "1.5s").delay).toBe(1500);
    expect(read(delay).delay).toBeUndefined();
    expect(read(DURATION_FLAG, "-r", "30").duration).toBe(30_000);
    expect(read(DURATION_FLAG, "-r", "30s").duration).toBe(30_000);
    expect(read(DURATION_FLAG, "-r", "1.5m").duration).toBe(90_000);
    expect(read(DURATION_FLAG, "-r", "1500ms").duration).toBe(1500);
    expect(read(DURATION_FLAG, "--duration", "24h").duration).toBe(86_400_000);
    expect(read(WINDOW_FLAG, "-w", "2m").window).toBe(120_000);
    expect(read({ ttl: duration({ plain: "minutes", min: 1, max: 1440 }) }, "--ttl", "90").ttl).toBe(5_400_000);
  });
  it("refuses what is out of range, a plain fraction where the verb took whole numbers, and what is no duration", () => {
    const r = refusal(DURATION_FLAG, "-r", "1.5");
    expect(r).toEqual({ message: '-r/--duration takes a whole number of seconds from 1 to 86400 or a duration (30s, 1.5m), not "1.5"', hint: undefined, exitCode: ExitCode.Invalid });
    expect(refusal(DURATION_FLAG, "-r", "0.5s").message).toContain('not "0.5s"');
    expect(refusal(DURATION_FLAG, "-r", "25h").message).toContain('not "25h"');
    expect(refusal(DURATION_FLAG, "-r", "30sec").message).toContain('not "30sec"');
    expect(refusal(DURATION_FLAG, "--duration=-5").message).toContain('not "-5"');
    expect(refusal(delay, "-d", "2m").message).toBe('-d/--delay takes a number of milliseconds from 0 to 60000 or a duration (100ms, 1.5s), not "2m"');
  });
  it("a required one names the verb and gives its example", () => {
    expect(refusal(DURATION_FLAG)).toEqual({ message: "verb needs a duration: -r SECONDS", hint: "chaos-run verb -p POD", exitCode: ExitCode.Invalid });
  });
});

describe("percentages", () => {
  const loss = { loss: percent({ short: "l" }) };
  it("50 and 50% alike, as errorRate: 50% in a scenario", () => {
    expect(read(loss, "-l", "50").loss).toBe(50);
    expect(read(loss, "-l", "50%").loss).toBe(50);
    expect(read(loss, "-l", "0.5%").loss).toBe(0.5);
    expect(read(loss, "-l", "100%").loss).toBe(100);
  });
  it("refuses more than 100, a negative or a stray unit", () => {
    for (const bad of ["120", "120%", "-1", "5 %", "5%%", "five"])
      expect(refusal(loss, `--loss=${bad}`).message).toBe(`-l/--loss takes a number of percent from 0 to 100 (5 or 5%), not ${JSON.stringify(bad)}`);
  });
  it("above zero where zero means nothing, in the verb's own words", () => {
    const load = { load: percent({ aboveZero: true, takes: "a percent of one CPU above 0 and at most 100" }) };
    expect(read(load, "--load", "50%").load).toBe(50);
    expect(refusal(load, "--load", "0%").message).toBe('--load takes a percent of one CPU above 0 and at most 100, not "0%"');
  });
});

describe("sizes, whole numbers, choices", () => {
  it("a size as Kubernetes writes it, kept as given", () => {
    const memory = { memory: size({ min: 4096, max: 1024 ** 4 }) };
    expect(read(memory, "--memory", "64Mi").memory).toEqual({ bytes: 64 * 1024 ** 2, text: "64Mi" });
    expect(read(memory, "--memory", "500M").memory).toEqual({ bytes: 5e8, text: "500M" });
    expect(refusal(memory, "--memory", "64MB").message).toBe('--memory takes a size from 4Ki to 1Ti (64Mi, 1Gi, 500M, bytes), not "64MB"');
    expect(refusal(memory, "--memory", "2Ti").message).toContain('not "2Ti"');
  });
  it("whole numbers say what they count where they count something", () => {
    expect(read({ port: wholeNumber({ min: 1, max: 65535 }) }, "--port", "8080").port).toBe(8080);
    expect(refusal({ port: wholeNumber({ min: 1, max: 65535 }) }, "--port", "80.0").message).toBe('--port must be a whole number from 1 to 65535, not "80.0"');
    expect(refusal({ cpu: wholeNumber({ min: 1, max: 64, of: "workers" }) }, "--cpu", "65").message).toBe('--cpu takes a whole number of workers from 1 to 64, not "65"');
  });
  it("a choice falls back to its default, or is undefined without one", () => {
    const format = { format: choice(["text", "json"] as const, "text") };
    expect(read(format).format).toBe("text");
    expect(read(format, "--format", "json").format).toBe("json");
    expect(refusal(format, "--format", "yaml").message).toBe('--format must be one of text, json, not "yaml"');
    expect(read({ policy: choice(["Always", "Never"] as const) }).policy).toBeUndefined();
  });
});

describe("pods", () => {
  it("-p repeated or comma-separated, at least one", () => {
    expect(read(POD_FLAG, "-p", "a,b", "-p", " c ", "--pod", "d").pod).toEqual(["a", "b", "c", "d"]);
    // none: refused once the verb asks which pods (-p, --service, --workload or -l: test/unit/target-flags.test.ts)
    expect(() => targetSelection(read(POD_FLAG), "verb")).toThrow("verb needs a pod: -p POD");
    expect(refusal(POD_FLAG, "-p", "Web_1").message).toBe('"Web_1" is not a pod name');
  });
  it("plan's --pods list, optional", () => {
    expect(read({ pods: podList() }, "--pods", "p3, p1").pods).toEqual(["p3", "p1"]);
    expect(read({ pods: podList() }).pods).toBeUndefined();
    expect(refusal({ pods: podList() }, "--pods", "a,B").message).toBe('--pods needs comma-separated pod names; "B" is not one');
    expect(refusal({ pods: podList() }, "--pods", ",").message).toBe("--pods needs comma-separated pod names");
  });
});

describe("the verb helper", () => {
  it("--help before anything is checked; positionals as the verb declares them", () => {
    expect(readVerbArgs({ name: "verb", help: "", flags: DURATION_FLAG, positionals: "none" }, ["--help", "-r", "nonsense"])).toBe("help");
    const none = () => read({}, "extra");
    expect(none).toThrow("verb takes no arguments besides options, got extra");
    const one = { name: "plan", help: "", flags: {}, positionals: { missing: "needs a scenario FILE", one: "takes one FILE" } };
    expect(() => readVerbArgs(one, [])).toThrow("plan needs a scenario FILE");
    expect(() => readVerbArgs(one, ["a", "b"])).toThrow("plan takes one FILE, got 2");
    expect(readVerbArgs(one, ["a"])).toEqual({ values: {}, positionals: ["a"] });
  });
  it("an unknown option is a usage error pointing at the verb's help", () => {
    try {
      read({}, "--nope");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).message).toBe("Unknown option '--nope'");
      expect((e as UsageError).hint).toBe("see: chaos-run verb --help");
    }
  });
});
