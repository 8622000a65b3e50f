// requestWhole (src/kube/request.ts): a request whose kept-alive connection is closed by the
// other end as it goes out is sent again on a new one; any other failure is the caller's. The
// server is a real HTTP server on loopback that closes a connection where a kept-alive
// connection's close would meet the next request.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { requestWhole, STALE_RETRIES } from "../../src/kube/request.js";

interface Served {
  readonly port: number;
  /** the requests seen, by connection: [connection number, request number on it] */
  readonly seen: [number, number][];
  close(): Promise<void>;
}

/** A loopback server; `drop(connection, nth)` says whether to close the connection instead of answering its nth request (from 1). */
async function serve(drop: (connection: number, nth: number) => boolean): Promise<Served> {
  const seen: [number, number][] = [];
  const counts = new Map<Socket, { id: number; n: number }>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const socket = req.socket;
    let c = counts.get(socket);
    if (c === undefined) {
      c = { id: ++connections, n: 0 };
      counts.set(socket, c);
    }
    c.n++;
    seen.push([c.id, c.n]);
    req.resume();
    req.on("end", () => {
      if (drop(c.id, c.n)) socket.destroy();
      else res.end(`answer ${c.id}.${c.n}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const agents: http.Agent[] = [];
const servers: Served[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  for (const s of servers.splice(0)) await s.close();
});

function spec(port: number, agent: http.Agent, method = "GET") {
  agents.push(agent);
  return { options: { host: "127.0.0.1", port, path: "/x", method, agent }, body: method === "PATCH" ? "{}" : undefined, timeoutMs: 5000, limitBytes: 1024 };
}

describe("requestWhole", () => {
  it("sends a request again when the kept-alive connection it reused is closed under it", async () => {
    // the first connection's second request meets its close, as an idle connection's would
    const s = await serve((connection, nth) => connection === 1 && nth === 2);
    servers.push(s);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect(await requestWhole(http.request, spec(s.port, agent))).toEqual({ status: 200, text: "answer 1.1", resent: false });
    // said: the first send may have been acted on, whatever the answer to the second
    expect(await requestWhole(http.request, spec(s.port, agent, "PATCH"))).toEqual({ status: 200, text: "answer 2.1", resent: true });
    expect(s.seen).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
    ]);
  });

  it("does not send again what failed on a new connection: the request may have been acted on, and the failure is the caller's", async () => {
    const s = await serve(() => true);
    servers.push(s);
    await expect(requestWhole(http.request, spec(s.port, new http.Agent({ keepAlive: true })))).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(s.seen).toEqual([[1, 1]]);
  });

  it("gives up after STALE_RETRIES sends again, with the connection's own error", async () => {
    // four kept-alive connections, then every request on a reused one meets a close
    const s = await serve((_, nth) => nth > 1);
    servers.push(s);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    await Promise.all([0, 1, 2, 3].map(() => requestWhole(http.request, spec(s.port, agent))));
    await expect(requestWhole(http.request, spec(s.port, agent))).rejects.toThrow(/socket hang up|ECONNRESET/);
    // the first send and its retries each took a kept-alive connection, and each was closed
    expect(s.seen.filter(([, nth]) => nth === 2)).toHaveLength(1 + STALE_RETRIES);
  });

  it("says when an answer is over the limit, and when none came in time", async () => {
    const big = http.createServer((_, res) => res.end("x".repeat(4096)));
    const slow = http.createServer(() => undefined);
    for (const srv of [big, slow]) await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    try {
      const port = (srv: http.Server): number => (srv.address() as AddressInfo).port;
      await expect(requestWhole(http.request, spec(port(big), new http.Agent({ keepAlive: true })))).rejects.toThrow("the answer to GET /x is over 1024 bytes");
      await expect(requestWhole(http.request, { ...spec(port(slow), new http.Agent({ keepAlive: true })), timeoutMs: 100 })).rejects.toThrow("no answer within 100 ms");
    } finally {
      for (const srv of [big, slow]) {
        srv.closeAllConnections();
        srv.close();
      }
    }
  });
});
