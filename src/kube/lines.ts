// A stream's bytes as whole lines: what an attached container writes on its stdout (an agent's
// replies on its line) comes in chunks that split lines, and characters, anywhere.
import { StringDecoder } from "node:string_decoder";

export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private pieces: string[] = [];
  private length = 0;
  /** the line being read is over the limit: dropped up to its newline */
  private dropping = false;

  /** `line` is called with each whole line, without its newline; a line longer than `limit` characters is dropped whole. */
  constructor(
    private readonly line: (text: string) => void,
    private readonly limit: number,
  ) {}

  push(chunk: Buffer): void {
    const parts = this.decoder.write(chunk).split("\n");
    const last = parts.pop() ?? "";
    for (const part of parts) {
      if (!this.dropping && this.length + part.length <= this.limit) this.line(this.pieces.join("") + part);
      this.pieces = [];
      this.length = 0;
      this.dropping = false;
    }
    if (this.dropping) return;
    this.pieces.push(last);
    this.length += last.length;
    if (this.length > this.limit) {
      this.pieces = [];
      this.length = 0;
      this.dropping = true;
    }
  }
}
