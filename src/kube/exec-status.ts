// The exit code of an exec, from the Status the apiserver relays at the end of the stream.
// A real kubelet (k8s.io/cri-streaming remotecommand.ServeExec) answers a non-zero exit with
//   {status: "Failure", reason: "NonZeroExitCode", details: {causes: [{reason: "ExitCode", message: "5"}]}}
// kwok (the lab's kubelet) loses it: its exec error becomes an InternalError whose message ends
// in "exit status 5" (Go's exec.ExitError text). Both shapes give the same answer here.

export interface StreamStatus {
  readonly status?: string | undefined;
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
  readonly details?: { readonly causes?: readonly { readonly reason?: string | undefined; readonly message?: string | undefined }[] | undefined } | undefined;
}

export type ExecOutcome = { readonly kind: "exited"; readonly exitCode: number } | { readonly kind: "error"; readonly message: string };

export function execOutcome(status: StreamStatus): ExecOutcome {
  if (status.status === "Success") return { kind: "exited", exitCode: 0 };
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = cause?.message !== undefined && /^\d{1,3}$/.test(cause.message) ? Number(cause.message) : undefined;
    if (code !== undefined && code <= 255) return { kind: "exited", exitCode: code };
    return { kind: "error", message: `exec ended with NonZeroExitCode but no exit code: ${status.message ?? ""}` };
  }
  const m = /exit status (\d{1,3})\s*$/.exec(status.message ?? "");
  if (m?.[1] !== undefined && Number(m[1]) <= 255) return { kind: "exited", exitCode: Number(m[1]) };
  return { kind: "error", message: status.message ?? status.reason ?? "exec failed" };
}
