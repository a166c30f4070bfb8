// The demo log sink: receives the gateway's trace batches (NDJSON) and prints one line per
// entry, so the demo shows the trace as an operator's log system would receive it.
import http from "node:http";

const port = Number(process.env.DEMO_SINK_PORT || 8791);
http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      for (const line of Buffer.concat(chunks).toString("utf8").split("\n").filter(Boolean)) {
        try {
          const e = JSON.parse(line);
          const what = e.line || `${e.interceptor} ${e.outcome}${e.cause ? " " + e.cause : ""}`;
          console.log(`[log-sink] ${e.request_id ?? ""} ${e.method ?? ""} ${e.path ?? ""} ${e.interceptor}: ${what}`);
        } catch {
          console.log(`[log-sink] ${line}`);
        }
      }
      res.writeHead(204).end();
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`[log-sink] listening on http://127.0.0.1:${port}`));
