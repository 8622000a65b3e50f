// The one way probes talk HTTP from the runner (the prometheus probe): a port, so the engine's
// unit tests can answer in its place, and its implementation on Node's fetch. Errors say what
// happened in words: refused, timed out, unreachable.

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export type HttpGet = (url: string, options: { readonly signal: AbortSignal; readonly timeoutMs: number }) => Promise<HttpAnswer>;

/** A network failure, in words: what fetch's `cause` says (ECONNREFUSED, ENOTFOUND …). */
export function networkErrorText(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return e.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : "canceled";
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    if (code === "ECONNREFUSED") return `connection refused (${cause.message.replace(/^connect /, "")})`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `unknown host (${cause.message})`;
    if (code === "UND_ERR_CONNECT_TIMEOUT") return `no connection within the timeout (${cause.message})`;
    return cause.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export const fetchGet: HttpGet = async (url, options) => {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  try {
    const r = await fetch(url, { signal, headers: { accept: "application/json" } });
    return { status: r.status, body: await r.text() };
  } catch (e) {
    if (timeout.aborted) throw new Error(`timed out after ${options.timeoutMs} ms`);
    if (options.signal.aborted) throw options.signal.reason;
    throw new Error(networkErrorText(e, options.timeoutMs));
  }
};
