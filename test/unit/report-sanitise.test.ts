// Pod-controlled text in every view: a hostile string — terminal escape sequences (CSI, OSC, an
// 8-bit CSI), a carriage return, NUL, a Markdown fence and cell separators, a closing script
// tag and an image tag, a line separator, a right-to-left override, a lone surrogate — is put
// wherever a pod or a tool can put text, and no view lets any of it act: it is shown escaped.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { errorText } from "../../src/cli/io.js";
import { htmlText, markdownBlock, markdownCode, markdownText, terminalLine, terminalText, xmlText } from "../../src/report/sanitise.js";
import { fixtureRun, liveOutput, views } from "./report-fixture.js";

const HOSTILE = "ok\u001b[2J\u001b]0;pwned\u0007\rFORGED\u0000nul```\n### heading\n</script><img src=x onerror=alert(1)>|cell|`tick`\u2028sep\u202eevil\ud800\u009b31m~~s~~ [l](http://x) &amp;";

/** What acts in a terminal or breaks a file: any control but LF (and TAB), separators, bidi overrides, a lone surrogate. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters looked for
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])/;

const f = fixtureRun(HOSTILE);
const all = views(f);

describe("every view shows a pod's hostile text escaped, never acting", () => {
  it("the terminal table, plain and in colour: no control character but chaos-run's own colours and line breaks", () => {
    for (const name of ["table", "table (colour)"]) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: chaos-run's own colour codes
      const own = (all[name] ?? "").replace(/\u001b\[(?:1|22|31|32|39|90)m/g, "");
      expect(ACTIVE.exec(own), name).toBeNull();
      expect(own).toContain("ok\\x1b[2J\\x1b]0;pwned\\x07\\rFORGED\\x00nul");
    }
  });

  it("the plain lines: one line per event, nothing in it that moves the cursor", () => {
    const lines = all["plain lines"]?.split(/(?<=\n)/) ?? [];
    expect(lines.length).toBeGreaterThan(8);
    for (const l of lines) {
      expect(l.indexOf("\n")).toBe(l.length - 1);
      expect(ACTIVE.exec(l), l).toBeNull();
    }
    expect(lines.some((l) => l.includes("warning: ok\\x1b[2J\\x1b]0;pwned\\x07\\rFORGED\\x00nul```\\n### heading\\n</script>"))).toBe(true);
  });

  it("the live view (listr2 in a terminal): the pod's sequences never reach it, its own do", async () => {
    const out = await liveOutput(f.events);
    expect(out).toContain("\u001b[");
    for (const raw of ["\u001b[2J", "\u001b]0;", "\u0007", "\r", "\u0000", "\u009b", "\u2028", "\u202e"]) expect(out.includes(raw), JSON.stringify(raw)).toBe(false);
    expect(out).toContain("\\x1b[2J");
  }, 30_000);

  it("Markdown: the message's fence cannot be closed, table rows keep their six cells, no tag, link or emphasis", () => {
    const md = all["markdown"] ?? "";
    expect(ACTIVE.exec(md)).toBeNull();
    const lines = md.split("\n");
    const open = lines.findIndex((l) => /^`{3,}$/.test(l));
    const fence = lines[open] ?? "";
    const close = lines.findIndex((l, i) => i > open && l === fence);
    expect(fence.length).toBeGreaterThan(3);
    // every line between is the message's: none of them can end the block early
    for (const l of lines.slice(open + 1, close)) expect(/^\s*`{3,}\s*$/.test(l) && l.trim().length >= fence.length).toBe(false);
    expect(lines.slice(open + 1, close).join("\n")).toContain("</script><img src=x");
    const rows = lines.filter((l) => l.startsWith("| "));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) expect(r.replace(/\\\|/g, "").split("|").length - 1, r).toBe(7);
    const outside = [...lines.slice(0, open), ...lines.slice(close + 1)].join("\n");
    // (a backslash before it: shown as written, not markup)
    expect(outside).not.toMatch(/(?<!\\)<img|(?<!\\)<\/script|(?<!\\)\[l\]\(|(?<!\\)~~s|^#+ heading/m);
    expect(outside).toContain("\\</script>\\<img src=x onerror=alert(1)>\\|cell\\|\\`tick\\`");
  });

  it("JUnit: well-formed XML, and a reader gets the text back with its controls shown", () => {
    const xml = all["junit"] ?? "";
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(ACTIVE.exec(xml)).toBeNull();
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", htmlEntities: true }).parse(xml) as {
      testsuites: { testsuite: { testcase: { error?: { message: string } }[] | { error?: { message: string } } } };
    };
    const cases = [doc.testsuites.testsuite.testcase].flat();
    const message = cases.find((c) => c.error !== undefined)?.error?.message ?? "";
    expect(message).toContain("ok\\x1b[2J\\x1b]0;pwned\\x07\\rFORGED\\x00nul```\n### heading\n</script><img src=x onerror=alert(1)>|cell|");
  });

  it("HTML: no tag of the pod's, no control character", () => {
    const html = all["html"] ?? "";
    expect(ACTIVE.exec(html)).toBeNull();
    expect(html).not.toMatch(/<\/script|<img|<script/i);
    expect(html).toContain("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
  });

  it("an error on stderr: lines and tabs kept, every other control shown", () => {
    const text = errorText(`agent said: ${HOSTILE}`, `try ${HOSTILE}`);
    expect(ACTIVE.exec(text)).toBeNull();
    expect(text.startsWith("chaos-run: error: agent said: ok\\x1b[2J")).toBe(true);
    expect(text).toContain("\n  hint: try ok\\x1b[2J");
  });
});

describe("one function per kind of output", () => {
  it("terminal: a line escapes its line breaks, a text keeps them", () => {
    expect(terminalLine("a\u001b[31mb\r\nc\t")).toBe("a\\x1b[31mb\\r\\nc\\t");
    expect(terminalText("a\u001b[31mb\r\nc\t")).toBe("a\\x1b[31mb\\r\nc\t");
    expect(terminalLine("ümlaut → ok")).toBe("ümlaut → ok");
  });

  it("Markdown: text, a code span and a block that the text cannot end", () => {
    expect(markdownText("a*b*_c_ [x](y) <b>x</b> < 5ms a|b ~~s~~ &lt; `t`\nnext")).toBe("a\\*b\\*\\_c\\_ \\[x\\](y) \\<b>x\\</b> < 5ms a\\|b \\~\\~s\\~\\~ \\&lt; \\`t\\` next");
    expect(markdownCode("latency.p95")).toBe("`latency.p95`");
    expect(markdownCode("a``b|c")).toBe("```a``b\\|c```");
    expect(markdownCode("`x")).toBe("`` `x ``");
    expect(markdownBlock("x\n````\ny")).toBe("`````\nx\n````\ny\n`````");
    expect(markdownBlock("plain")).toBe("```\nplain\n```");
  });

  it("XML and HTML: markup as entities, what XML cannot hold shown escaped", () => {
    expect(xmlText(`<a b="c">&'\n\u0001\ufffe\udc00`)).toBe("&lt;a b=&quot;c&quot;&gt;&amp;&apos;&#10;\\x01\\ufffe\\udc00");
    expect(htmlText(`<a b="c">&'\n\u0001\u2028`)).toBe("&lt;a b=&quot;c&quot;&gt;&amp;&#39;\n\\x01\\u2028");
  });
});
