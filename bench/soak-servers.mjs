// The origin and the log sink of bench/soak.mjs, in their own process (so that they never stall
// when the load generator is busy). Prints one JSON line {"origin": port, "sink": port}.
//   origin: /hang/... accepts the request and never answers; anything else: 200 "ok"
//   sink:   /hang accepts the batch and never answers; anything else: 204
import http from 'node:http';

const hanging = [];
function server(handler) {
  const s = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  s.keepAliveTimeout = 60_000;
  s.headersTimeout = 65_000;
  return s;
}
const origin = server((req, res) => {
  if (req.url.startsWith('/hang')) return void hanging.push(res);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
  res.end('ok');
});
const sink = server((req, res) => {
  if (req.url.startsWith('/hang')) return void hanging.push(res);
  res.writeHead(204);
  res.end();
});
const listen = (s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r(s.address().port)));
const ports = { origin: await listen(origin), sink: await listen(sink) };
process.stdout.write(JSON.stringify(ports) + '\n');
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
