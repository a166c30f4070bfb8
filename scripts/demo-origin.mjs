// The demo origin: answers every request with what it received (method, path, query, the
// headers the gateway forwarded, and the body), so you can see what the gateway passes on.
import http from "node:http";

const port = Number(process.env.DEMO_ORIGIN_PORT || 8790);
http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ origin: "demo", method: req.method, url: req.url, headers: req.headers, body }, null, 2) + "\n");
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`[demo-origin] listening on http://127.0.0.1:${port}`));
