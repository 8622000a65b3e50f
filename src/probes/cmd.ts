// The cmd probe: one exec's outcome → metrics (PROBE_METRICS.cmd). Pure. A command that ran is
// measured whatever its exit code; one that timed out is measured too (timedOut 1); only an
// exec that could not start (no pod, no container, no permission) is the probe's error.
import type { ExecResult } from "../kube/types.js";

export type CmdMeasure = { readonly ok: true; readonly metrics: Record<string, number | undefined>; readonly detail: string } | { readonly ok: false; readonly error: string };

export function measureCmd(r: ExecResult, stdoutPattern: RegExp | undefined, timeoutMs: number): CmdMeasure {
  if (r.timedOut) {
    return {
      ok: true,
      metrics: { exitCode: undefined, succeeded: 0, stdoutMatched: stdoutPattern === undefined ? undefined : 0, timedOut: 1, duration: r.durationMs },
      detail: `did not finish within ${timeoutMs} ms`,
    };
  }
  if (r.exitCode === undefined) return { ok: false, error: r.error ?? "the exec ended without an exit status" };
  const matched = stdoutPattern === undefined ? undefined : stdoutPattern.test(r.stdout) ? 1 : 0;
  const succeeded = r.exitCode === 0 && matched !== 0 ? 1 : 0;
  const out = r.stdout.trim().split("\n")[0]?.slice(0, 80) ?? "";
  const err = r.stderr.trim().split("\n")[0]?.slice(0, 80) ?? "";
  return {
    ok: true,
    metrics: { exitCode: r.exitCode, succeeded, stdoutMatched: matched, timedOut: 0, duration: r.durationMs },
    detail: `exit ${r.exitCode}${matched === 0 ? ", stdout did not match" : ""}${out !== "" ? `; stdout: ${out}` : ""}${r.exitCode !== 0 && err !== "" ? `; stderr: ${err}` : ""}`,
  };
}
