// Seeded mutations of the catalog's files, for the fuzz test (short in test:unit, long in
// `npm run fuzz`). Deterministic: case N of seed S is always the same text.
import { mulberry32 } from "../../src/plan/prng.js";

type Rng = () => number;

const pick = <T>(rng: Rng, xs: readonly T[]): T => {
  const x = xs[Math.floor(rng() * xs.length)];
  if (x === undefined) throw new Error("empty choice");
  return x;
};

const WRONG_VALUES = [
  "0",
  "-1",
  "1e400",
  "99999999999999999999999",
  "0.0000001",
  "true",
  "null",
  "~",
  "[]",
  "{}",
  '""',
  "'30'",
  "30",
  "100ms",
  "5%",
  "[1, 2]",
  "{ a: 1 }",
  ".inf",
  ".nan",
  "0x1F",
  "0o17",
  "2001-01-01",
  "! tag",
  "&anchor x",
  "*alias",
  "|",
  ">",
  "'",
  '"',
  "{{ target.ip }}",
  "{{ nope }}",
  "baseline.latency.p95 * 1.5",
  "a.b + * 3",
  "((((1",
  "10 xs",
  "\t",
  "\u0000",
  "\u00e9t\u00e9",
  "\ud83d\ude00",
];
const BYTES = ":-{}[],#&*!|>'\"%@`?\t\n\r \u0000\u0007\u00ff\u2028\ufeff\ud800aZ09";

function mutateOnce(text: string, rng: Rng): string {
  const lines = text.split("\n");
  const i = Math.floor(rng() * lines.length);
  const line = lines[i] ?? "";
  switch (Math.floor(rng() * 12)) {
    case 0: // delete a line
      lines.splice(i, 1);
      return lines.join("\n");
    case 1: // duplicate a line
      lines.splice(i, 0, line);
      return lines.join("\n");
    case 2: {
      // swap two lines
      const j = Math.floor(rng() * lines.length);
      lines[i] = lines[j] ?? "";
      lines[j] = line;
      return lines.join("\n");
    }
    case 3: {
      // a wrong value after a key
      const m = /^(\s*-?\s*[A-Za-z.0-9]+:\s*)(.*)$/.exec(line);
      if (m === null) return text;
      lines[i] = `${m[1] ?? ""}${pick(rng, WRONG_VALUES)}`;
      return lines.join("\n");
    }
    case 4: {
      // random bytes somewhere
      const at = Math.floor(rng() * (text.length + 1));
      let junk = "";
      const n = 1 + Math.floor(rng() * 6);
      for (let k = 0; k < n; k++) junk += BYTES.charAt(Math.floor(rng() * BYTES.length));
      return text.slice(0, at) + junk + text.slice(at);
    }
    case 5: {
      // a typo in a key
      const m = /^(\s*-?\s*)([A-Za-z]+)(:.*)$/.exec(line);
      if (m === null) return text;
      const key = m[2] ?? "";
      const k = Math.floor(rng() * key.length);
      const typo = rng() < 0.5 ? key.slice(0, k) + key.slice(k + 1) : key.slice(0, k) + pick(rng, ["x", "e", "_", "A"]) + key.slice(k);
      lines[i] = `${m[1] ?? ""}${typo}${m[3] ?? ""}`;
      return lines.join("\n");
    }
    case 6: // truncate
      return text.slice(0, Math.floor(rng() * text.length));
    case 7: // indent or dedent a line
      lines[i] = rng() < 0.5 ? `  ${line}` : line.replace(/^ {1,2}/, "");
      return lines.join("\n");
    case 8: {
      // deep nesting
      const depth = pick(rng, [50, 500, 2000]);
      const deep = rng() < 0.5 ? "[".repeat(depth) + "]".repeat(depth) : `${"{a: ".repeat(depth)}1${"}".repeat(depth)}`;
      const m = /^(\s*-?\s*[A-Za-z.0-9]+:\s*)/.exec(line);
      lines[i] = m === null ? deep : `${m[1] ?? ""}${deep}`;
      return lines.join("\n");
    }
    case 9: {
      // an alias bomb, or a plain alias
      const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"];
      for (let k = 1; k < 9; k++)
        bomb.push(
          `${String.fromCharCode(97 + k)}: &${String.fromCharCode(97 + k)} [${Array(9)
            .fill(`*${String.fromCharCode(96 + k)}`)
            .join(", ")}]`,
        );
      return rng() < 0.5 ? `${bomb.join("\n")}\n${text}` : text.replace(/(\n\s*)name: ([a-z-]+)/, "$1name: &n $2").replace(/(\n\s*)probe: web\n/, "$1probe: *n\n");
    }
    case 10: // a huge line
      lines[i] = `${line}${"x".repeat(pick(rng, [1000, 20_000]))}`;
      return lines.join("\n");
    default: {
      // mangle an expression or a template
      return text.replace(
        /(\{\{[^}]*\}\}|[a-z]+\.latency\.p\d\d)/,
        pick(rng, ["{{ target.ip", "{{}}", "{{ env. }}", "nope.latency.p95", "baseline.latency.p59", "baseline.latency.p95 * 2ms", "baseline", "1 / 0"]),
      );
    }
  }
}

/** Case `n` of a run with `seed`: a catalog file with 1 to 4 mutations. */
export function fuzzCase(corpus: readonly string[], seed: number, n: number): string {
  const rng = mulberry32((seed * 1_000_003 + n) >>> 0);
  let text = pick(rng, corpus);
  const rounds = 1 + Math.floor(rng() * 4);
  for (let r = 0; r < rounds; r++) text = mutateOnce(text, rng);
  return text;
}
