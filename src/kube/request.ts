// One HTTP request read whole, on a keep-alive agent, sent again when the connection it reused was
// closed by the other end as the request went out. A kept-alive connection the API server (or a
// load balancer in front of it) closes while idle can be handed to a request in the instant
// before its close is seen: the request then fails with ECONNRESET, EPIPE or "socket hang up"
// without an answer. Node says so (http: `request.reusedSocket`) and leaves the retry to the
// caller. The requests sent here are a pod read, a log read and the patch that adds a named
// ephemeral container: sent twice, the second finds the container there, and the same spec
// merges into it unchanged. The answer says it was sent again (`resent`): the server may have
// read the first before the connection closed, so an error answer to the second does not say
// the first was not carried out (api-errors.ts: isApiRefusal).
import type http from "node:http";

export interface Answer {
  readonly status: number;
  readonly text: string;
  /** the request was sent more than once: the first may have been carried out, whatever this answer says */
  readonly resent: boolean;
}

export interface RequestSpec {
  readonly options: http.RequestOptions;
  readonly body: string | undefined;
  /** the request is given up (its socket destroyed) when no answer has come within this, its sends again included; undefined: none */
  readonly timeoutMs: number | undefined;
  /** at most this much of the answer is read */
  readonly limitBytes: number;
}

/** How many times a request whose reused connection was closed under it is sent again. */
export const STALE_RETRIES = 2;

/** An error of a request that went out on a reused connection and got no answer: the connection was closed as it was sent. */
class StaleConnection extends Error {
  constructor(readonly original: Error) {
    super(original.message);
  }
}

const STALE_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

function isStaleClose(req: http.ClientRequest, err: Error, answered: boolean): boolean {
  if (answered || !req.reusedSocket) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && STALE_CODES.has(code)) || err.message === "socket hang up";
}

function sendOnce(request: typeof http.request, spec: RequestSpec, timeoutMs: number | undefined, resent: boolean): Promise<Answer> {
  const { options, body, limitBytes } = spec;
  return new Promise<Answer>((resolve, reject) => {
    let answered = false;
    const req = request(options, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (d: Buffer) => {
        size += d.length;
        if (size <= limitBytes) chunks.push(d);
        else res.destroy(new Error(`the answer to ${options.method ?? "GET"} ${options.path ?? "/"} is over ${limitBytes} bytes`));
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), resent }));
      res.on("error", reject);
    });
    req.on("error", (err) => reject(isStaleClose(req, err, answered) ? new StaleConnection(err) : err));
    if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${spec.timeoutMs ?? timeoutMs} ms`)));
    req.end(body);
  });
}

/** Sends `spec` with `request` (http.request or https.request); again, up to STALE_RETRIES times, where its reused connection was closed under it. */
export async function requestWhole(request: typeof http.request, spec: RequestSpec): Promise<Answer> {
  const deadline = spec.timeoutMs === undefined ? undefined : performance.now() + spec.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      // its sends again share the request's time: a log read keeps to the budget its caller set
      const left = deadline === undefined ? undefined : Math.max(1, Math.round(deadline - performance.now()));
      return await sendOnce(request, spec, left, attempt > 0);
    } catch (e) {
      if (!(e instanceof StaleConnection)) throw e;
      if (attempt >= STALE_RETRIES) throw e.original;
    }
  }
}
