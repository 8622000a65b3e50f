// Run by bench/proxy-memory.mjs inside the network namespaces it creates (ip netns exec):
//   node idle-http.mjs app PORT               an HTTP/1.1 server that answers every request with
//                                             a 2-byte body and keeps every connection open
//   node idle-http.mjs clients HOST PORT N    N connections to HOST:PORT, one GET each, answered,
//                                             then held open and idle; prints "ready N" once all
//                                             are answered, and holds them until stdin closes.
// Raw sockets on both sides, so that no timeout of node's http module closes an idle connection.
import net from "node:net";

const ANSWER = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

function app(port) {
  const server = net.createServer((socket) => {
    let pending = "";
    socket.on("data", (b) => {
      pending += b.toString("latin1");
      for (let end = pending.indexOf("\r\n\r\n"); end >= 0; end = pending.indexOf("\r\n\r\n")) {
        pending = pending.slice(end + 4);
        socket.write(ANSWER);
      }
    });
    socket.on("error", () => socket.destroy());
  });
  server.listen(port, () => process.stdout.write("listening\n"));
}

function clients(host, port, n) {
  const sockets = [];
  let answered = 0;
  const fail = (why) => {
    process.stderr.write(`idle-http clients: ${why}\n`);
    process.exit(1);
  };
  for (let i = 0; i < n; i++) {
    const socket = net.connect({ host, port }, () => socket.write(`GET /${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
    let got = "";
    socket.on("data", (b) => {
      got += b.toString("latin1");
      if (got.endsWith("\r\n\r\nok")) {
        got = "";
        answered++;
        if (answered === n) process.stdout.write(`ready ${n}\n`);
      }
    });
    socket.on("error", (e) => fail(`connection ${i}: ${e.message}`));
    socket.on("close", () => fail(`connection ${i} closed by the other side`));
    sockets.push(socket);
  }
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "app") app(Number(args[0]));
else if (mode === "clients") clients(args[0], Number(args[1]), Number(args[2]));
else {
  process.stderr.write("usage: idle-http.mjs app PORT | clients HOST PORT N\n");
  process.exit(2);
}
