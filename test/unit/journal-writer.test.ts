// The journal on disk during a run: coalesced while events pour in, written at once when flushed,
// and a failure to write reported once.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { journalWriter } from "../../src/report/files.js";
import { newJournal, type Journal } from "../../src/report/journal.js";

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { path: string; journal: Journal; read: () => Journal } {
  const dir = mkdtempSync(join(tmpdir(), "chaos-run-journal-"));
  dirs.push(dir);
  const path = join(dir, "run", "journal.json");
  const journal = newJournal({ runId: "r1", version: "0.1.0", node: "v20", platform: "linux x64", file: "s.yaml", sha256: "0".repeat(64), startedAt: 0 });
  return { path, journal, read: () => JSON.parse(readFileSync(path, "utf8")) as Journal };
}

describe("journalWriter", () => {
  it("coalesces updates: nothing on disk until the interval ends, then the latest state once", () => {
    vi.useFakeTimers();
    const { path, journal, read } = setup();
    const w = journalWriter(path, () => undefined, 250);
    w.update(journal);
    journal.status = "passed";
    w.update(journal);
    expect(existsSync(path)).toBe(false);
    vi.advanceTimersByTime(249);
    expect(existsSync(path)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(read().status).toBe("passed");
  });

  it("by default once a second at most: each write is the whole file, however little changed", () => {
    vi.useFakeTimers();
    const { path, journal, read } = setup();
    const w = journalWriter(path, () => undefined);
    for (let t = 0; t < 999; t += 50) {
      journal.durationMs = t;
      w.update(journal);
      vi.advanceTimersByTime(50);
      if (t < 950) expect(existsSync(path)).toBe(false);
    }
    expect(read().durationMs).toBe(950);
  });

  it("flush writes a pending change now, and a flush with nothing pending writes nothing", () => {
    vi.useFakeTimers();
    const { path, journal, read } = setup();
    const w = journalWriter(path, () => undefined, 250);
    w.flush();
    expect(existsSync(path)).toBe(false);
    w.update(journal);
    w.flush();
    expect(read().runId).toBe("r1");
    writeFileSync(path, "sentinel");
    w.flush();
    vi.advanceTimersByTime(1000);
    expect(readFileSync(path, "utf8")).toBe("sentinel");
  });

  it("reports a failure to write once and stops trying", () => {
    const { journal } = setup();
    const blocker = join(dirs[0] ?? "", "file");
    writeFileSync(blocker, "");
    const errors: unknown[] = [];
    const w = journalWriter(join(blocker, "journal.json"), (e) => errors.push(e), 250);
    for (let i = 0; i < 3; i++) {
      w.update(journal);
      w.flush();
    }
    expect(errors).toHaveLength(1);
  });
});
