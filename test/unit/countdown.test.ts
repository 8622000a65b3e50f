// The countdown of a fault held in the foreground (disrupt): one live line on a terminal, a line
// every ten seconds elsewhere, gone as soon as the fault is reverted; the same for the time a
// kill's recovery is watched, gone when the fault says what it observed.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { countdownView } from "../../src/ui/countdown.js";

beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"], now: 0 }));
afterEach(() => vi.useRealTimers());

const holding = (untilAt: number): EngineEvent => ({
  type: "fault:holding",
  at: 0,
  index: 0,
  faultId: "r1-s1",
  summary: "netem delay 100ms; all traffic",
  pods: [{ namespace: "default", name: "nginx" }],
  untilAt,
});
const reverted: EngineEvent = {
  type: "fault:reverted",
  at: 0,
  index: 0,
  faultId: "r1-s1",
  pod: { namespace: "default", name: "nginx" },
  confirmed: true,
  detail: "",
  attempts: 1,
  commands: [],
  durationMs: 5,
};

function recorder(): { out: { write: (s: string) => void }; text: () => string } {
  let text = "";
  return {
    out: {
      write: (s) => {
        text += s;
      },
    },
    text: () => text,
  };
}

describe("countdown", () => {
  it("on a terminal: one line redrawn every second, cleared when the fault is reverted", async () => {
    const r = recorder();
    const view = countdownView({ out: r.out, tty: true, now: Date.now });
    view(holding(30_000));
    await vi.advanceTimersByTimeAsync(2000);
    expect(r.text()).toBe(
      "\r\u001b[2Kholding netem delay 100ms; all traffic on nginx: 30s left (Ctrl-C reverts it now)" +
        "\r\u001b[2Kholding netem delay 100ms; all traffic on nginx: 29s left (Ctrl-C reverts it now)" +
        "\r\u001b[2Kholding netem delay 100ms; all traffic on nginx: 28s left (Ctrl-C reverts it now)",
    );
    expect(r.text()).not.toContain("\n");
    view(reverted);
    expect(r.text().endsWith("\r\u001b[2K")).toBe(true);
    const before = r.text().length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(r.text().length).toBe(before);
  });

  it("without a terminal (CI): a line every ten seconds, not every second", async () => {
    const r = recorder();
    const view = countdownView({ out: r.out, tty: false, now: Date.now });
    view(holding(95_000));
    await vi.advanceTimersByTimeAsync(25_000);
    expect(
      r
        .text()
        .split("\n")
        .filter((l) => l !== ""),
    ).toEqual([
      "holding netem delay 100ms; all traffic on nginx: 1m35s left (Ctrl-C reverts it now)",
      "holding netem delay 100ms; all traffic on nginx: 1m25s left (Ctrl-C reverts it now)",
      "holding netem delay 100ms; all traffic on nginx: 1m15s left (Ctrl-C reverts it now)",
    ]);
    view({ type: "run:end", at: 0, status: "interrupted", exitCode: 130, message: "interrupted by SIGINT", hint: undefined });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(
      r
        .text()
        .split("\n")
        .filter((l) => l !== ""),
    ).toHaveLength(3);
  });

  it("counts down the recovery watched after a kill, and stops when the fault says what it observed", async () => {
    const r = recorder();
    const view = countdownView({ out: r.out, tty: true, now: Date.now });
    view({ type: "fault:watching", at: 0, index: 0, faultId: "r1-s1", summary: "kill SIGKILL nginx", pods: [{ namespace: "default", name: "nginx" }], untilAt: 62_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    view({ type: "fault:observed", at: 1_000, index: 0, faultId: "r1-s1", kind: "kill", pod: { namespace: "default", name: "nginx" }, metrics: {}, detail: "restarted" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.text()).toBe(
      "\r\u001b[2Kwatching nginx recover from kill SIGKILL nginx: 1m02s left (Ctrl-C stops watching)" +
        "\r\u001b[2Kwatching nginx recover from kill SIGKILL nginx: 1m01s left (Ctrl-C stops watching)" +
        "\r\u001b[2K",
    );
  });
});
