// Text from the pods — a process's /proc/PID/cmdline, a container's state message, a probe's
// output, an agent's error, names — is hostile: it may hold terminal escape sequences, a
// carriage return that rewrites a line, a NUL, a fence that ends a Markdown block, a tag. Each
// kind of output has one function here, applied by its view where the text goes out; what it
// cannot carry is shown escaped (`\x1b`, `\u2028`), never interpreted and never silently lost.

/** `\x1b`, `\u2028`: a character shown as its escape. */
function escaped(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  if (c === "\t") return "\\t";
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Characters no view shows as they are: C0 and C1 controls (ESC, CSI, NUL, CR …), DEL, the line
 * and paragraph separators (U+2028, U+2029), and the bidirectional overrides and isolates that
 * make text read otherwise than it is (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069). Tab and
 * line feed are matched too: each view says whether it keeps them.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to catch
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A lone surrogate (half of a character): invalid in UTF-8 and in XML. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function visible(text: string, keep: string): string {
  return text.replace(UNSAFE, (c) => (keep.includes(c) ? c : escaped(c))).replace(LONE_SURROGATE, (c) => escaped(c));
}

/** For a terminal, one line (plain lines, the live view, a table cell, an error line): nothing that moves the cursor or styles. */
export function terminalLine(text: string): string {
  return visible(text, "");
}

/** For a terminal, several lines (an error with its hint): line feeds and tabs kept, every other control escaped. */
export function terminalText(text: string): string {
  return visible(text, "\n\t");
}

/**
 * What starts Markdown's inline syntax, backslash-escaped (CommonMark lets any ASCII punctuation
 * be): emphasis, code, links and images, table cells, strikethrough, and `<` or `&` only where
 * they would begin a tag, an autolink or an entity (`< 50ms` stays as it reads).
 */
const MARKDOWN_ACTIVE = /[\\`*_[\]|~]|<(?=[A-Za-z/!?])|&(?=[A-Za-z#])/g;

/** Markdown text inline or in a table cell: one line, no emphasis, link, tag, code span or cell break. */
export function markdownText(text: string): string {
  return visible(text.replace(/\r?\n/g, " "), "").replace(MARKDOWN_ACTIVE, (c) => `\\${c}`);
}

/** The longest run of backticks in a text. */
function longestTicks(text: string): number {
  return Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
}

/** A Markdown code span that the text cannot end (its fence is longer than any run of backticks in it), safe in a table cell. */
export function markdownCode(text: string): string {
  const inner = visible(text.replace(/\r?\n/g, " "), "").replace(/\|/g, "\\|");
  const fence = "`".repeat(longestTicks(inner) + 1);
  const pad = inner.startsWith("`") || inner.endsWith("`") ? " " : "";
  return `${fence}${pad}${inner}${pad}${fence}`;
}

/** A fenced Markdown block that the text cannot close: lines kept, the fence longer than any run of backticks in it. */
export function markdownBlock(text: string): string {
  const inner = visible(text, "\n\t");
  const fence = "`".repeat(Math.max(3, longestTicks(inner) + 1));
  return `${fence}\n${inner}\n${fence}`;
}

/**
 * XML 1.0 text or attribute value (JUnit): the five markup characters as entities, line feeds
 * and tabs as character references (an attribute would fold them into spaces), and every other
 * control — what XML cannot hold at all, even escaped (most C0 controls, lone surrogates,
 * U+FFFE/U+FFFF), and a carriage return — shown escaped instead of making the file unreadable.
 */
export function xmlText(text: string): string {
  return visible(text, "\n\t")
    .replace(/[\ufffe\uffff]/g, (c) => escaped(c))
    .replace(/[&<>"'\n\t]/g, (c) => XML_ENTITIES[c] ?? c);
}

const XML_ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\n": "&#10;", "\t": "&#9;" };

/** HTML text or a quoted attribute value: markup characters as entities, controls escaped (line feeds and tabs kept). */
export function htmlText(text: string): string {
  return visible(text, "\n\t").replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
