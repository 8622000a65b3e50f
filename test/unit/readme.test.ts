// The README and the pages of docs/ that people copy commands from stay true to the code: the
// README opens with the two commands (the demo and the tests) and package.json has both; its
// scenario is the catalog's file as it is; every `chaos-run VERB …` written in them names a verb
// that exists and only flags that verb's --help lists; every whole scenario shown in docs/
// validates; every relative link points at a file (and a heading) that exists. A page that
// drifts from the CLI fails here, not in a reader's terminal. (docs/scenario-reference.md has its
// own test: docs.test.ts.)
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { VERBS, runCli } from "../../src/cli/cli.js";
import type { CliIO } from "../../src/cli/io.js";
import { validateSource } from "../../src/scenario/load.js";

/** The pages whose commands and links are checked (docs/compare.md and docs/in-cluster.md have their own authors). */
const PAGES = ["README.md", ...["architecture", "scenarios", "faults", "probes", "reports", "safety", "lab", "benchmarks"].map((p) => `docs/${p}.md`)];

const read = (path: string): string => readFileSync(path, "utf8");

async function helpOf(args: string[]): Promise<string> {
  let out = "";
  const io: CliIO = {
    stdout: {
      write: (s) => {
        out += s;
      },
    },
    stderr: { write: () => undefined },
    stdoutIsTTY: false,
    stderrIsTTY: false,
    env: {},
    cwd: process.cwd(),
  };
  await runCli(args, io);
  return out;
}

/** Fenced blocks of a language (```yaml), in order. */
function fenced(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, "gm"))].map((m) => m[1] as string);
}

/** Every `chaos-run …` command written in a page: the verb (`run` for `chaos-run FILE`), and the flags after it on that line. */
function commands(text: string): { line: string; verb: string; flags: string[] }[] {
  const out: { line: string; verb: string; flags: string[] }[] = [];
  for (const line of text.split("\n")) {
    for (const m of line.matchAll(/chaos-run ([\w./-]+\.ya?ml|[\w./-]+\/|[a-z][a-z-]*)([^`|\n]*)/g)) {
      const word = m[1] as string;
      const verb = word in VERBS ? word : /[./]/.test(word) ? "run" : undefined;
      if (verb === undefined) continue; // prose: "chaos-run grew from", "chaos-run adds"
      const flags = [...(m[2] as string).matchAll(/(?<![\w/{])(--?[a-zA-Z][\w-]*)/g)].map((f) => f[1] as string);
      out.push({ line: line.trim(), verb, flags });
    }
  }
  return out;
}

/** GitHub's anchor of a heading: lower case, spaces to '-', punctuation but '-' and '_' dropped. */
function anchorsOf(markdown: string): Set<string> {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return new Set(
    [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      (m[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, "")
        .replace(/ /g, "-"),
    ),
  );
}

describe("the README", () => {
  const readme = read("README.md");

  it("opens with the two commands: the demo against the lab, and every test", () => {
    const first = fenced(readme, "sh")[0] ?? "";
    expect(readme.indexOf("```sh")).toBeLessThan(readme.indexOf("\n## "));
    const lines = first.split("\n").map((l) => l.replace(/#.*$/, "").trim());
    expect(lines.slice(0, 2)).toEqual(["npm ci && npm run demo", "npm test"]);
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    expect(scripts.demo).toBe("test/lab/demo");
    expect(scripts.test).toBeDefined();
  });

  it("shows the demo's scenario as it is in scenarios/", () => {
    expect(fenced(readme, "yaml")[0]).toBe(read("scenarios/nginx-latency.yaml"));
  });

  it("writes the commands a newcomer runs, which the next test checks", () => {
    expect([...new Set(commands(readme).map((c) => c.verb))]).toEqual(expect.arrayContaining(["run", "validate", "plan", "job", "history", "sweep", "disrupt"]));
  });

  it("keeps its Exit codes section (src/errors.ts points there), each code in it", () => {
    const section = readme.slice(readme.indexOf("## Exit codes"), readme.indexOf("\n## ", readme.indexOf("## Exit codes") + 1));
    for (const code of ["`0`", "`1`", "`2`", "`3`", "`4`", "`130`", "`143`"]) expect(section).toContain(code);
  });
});

describe.each(PAGES)("%s", (page) => {
  const text = read(page);

  it("writes only verbs and flags the CLI has", async () => {
    const global = await helpOf(["--help"]);
    const helps = new Map<string, string>();
    const wrong: string[] = [];
    for (const c of commands(text)) {
      if (!helps.has(c.verb)) helps.set(c.verb, await helpOf([c.verb, "--help"]));
      const help = helps.get(c.verb) as string;
      expect(help, `${c.verb} --help`).toContain(`Usage: chaos-run ${c.verb}`);
      for (const f of c.flags) if (!new RegExp(`(^|[\\s,/(\\[])${f}\\b`, "m").test(help) && !global.includes(f)) wrong.push(`${f} (chaos-run ${c.verb}) in: ${c.line}`);
    }
    expect(wrong).toEqual([]);
  });

  it("shows only scenarios that validate", () => {
    for (const yaml of fenced(text, "yaml").filter((y) => /^apiVersion: chaos-run\/v1$/m.test(y))) {
      const result = validateSource(page, yaml);
      expect(result.diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual([]);
    }
  });

  it("links only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      const [path = "", anchor] = target.split("#");
      const file = path === "" ? page : normalize(join(dirname(page), path));
      if (!existsSync(file)) broken.push(target);
      else if (anchor !== undefined && file.endsWith(".md") && !anchorsOf(read(file)).has(anchor)) broken.push(target);
    }
    expect(broken).toEqual([]);
  });
});
