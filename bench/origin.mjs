// Benchmark origin: a tiny HTTP server in its own process (so that it never
// stalls when the benchmark process is busy). Answers every request with
// 200 "ok". Prints one JSON line {"port": N} on stdout once it listens.
import http from "node:http";

const body = Buffer.from("ok");
const server = http.createServer((req, res) => {
  // Drain any request body, then answer.
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Exit when the parent goes away (stdin closes).
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
