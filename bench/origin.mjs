// Benchmark origin: a tiny HTTP server in its own process (so that it never stalls when the
// benchmark process is busy). Answers every request with 200 "ok". Prints one JSON line
// {"port": N} on stdout once it listens.
//
// Two extras for the benchmark's checks, both cheap enough to stay on during runs:
// - a request whose path holds `/__probe/<id>` is remembered (method, path and query, headers,
//   body length) and `GET /__seen/<id>` answers it as JSON (404 when none came): what a Worker
//   forwarded;
// - `POST .../sink` bodies are trace batches (NDJSON): their lines are counted, and
//   `GET /__sink` answers the count so far.
import http from "node:http";

const body = Buffer.from("ok");
const seen = new Map();
let sinkLines = 0;
const server = http.createServer((req, res) => {
  const url = req.url;
  if (req.method === "GET" && url.startsWith("/__seen/")) {
    const s = seen.get(decodeURIComponent(url.slice("/__seen/".length)));
    res.writeHead(s ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(s ?? null));
    return;
  }
  if (req.method === "GET" && url === "/__sink") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ lines: sinkLines }));
    return;
  }
  const probe = url.indexOf("/__probe/");
  const sink = req.method === "POST" && url.split("?")[0].endsWith("/sink");
  let n = 0;
  let text = "";
  req.on("data", (c) => {
    n += c.length;
    if (sink) text += c.toString("utf8");
  });
  req.on("end", () => {
    if (sink) for (const l of text.split("\n")) if (l) sinkLines++;
    if (probe !== -1) {
      const id = url.slice(probe + "/__probe/".length).split(/[/?]/)[0];
      seen.set(decodeURIComponent(id), { method: req.method, url, headers: req.headers, bodyLength: n });
    }
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
