// What an attached container writes, as whole lines: split anywhere in chunks, characters too;
// a line over the limit dropped whole up to its newline, and the next read as it is.
import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../src/kube/lines.js";

function split(chunks: readonly Buffer[], limit = 20): string[] {
  const got: string[] = [];
  const s = new LineSplitter((l) => got.push(l), limit);
  for (const c of chunks) s.push(c);
  return got;
}

describe("LineSplitter", () => {
  it("joins what the chunks split, a character's bytes too, and keeps an unended line back", () => {
    const bytes = Buffer.from("première\nsecond line\nthird");
    const at = bytes.indexOf(0xa8); // the second byte of è
    expect(split([bytes.subarray(0, at), bytes.subarray(at, 15), bytes.subarray(15)])).toEqual(["première", "second line"]);
  });

  it("drops a line over the limit whole, however many chunks it spans, and reads the next", () => {
    const long = "x".repeat(15);
    expect(split([Buffer.from(`ok\n${long}`), Buffer.from(long), Buffer.from(`${long}\nafter\n`)])).toEqual(["ok", "after"]);
    expect(split([Buffer.from(`${"y".repeat(21)}\nnext\n`)])).toEqual(["next"]);
    expect(split([Buffer.from(`${"z".repeat(20)}\n`)])).toEqual(["z".repeat(20)]);
  });
});
