// Probe of the local runtime (workerd under Miniflare), not of the gateway: does a kept-alive
// connection survive a request whose body the Worker did not read? A plain JavaScript Worker
// answers every request; 4 connections send 200 requests each, every fifth a POST with a body.
//
//   node bench/keepalive-probe.mjs          # the Worker never reads the body
//   node bench/keepalive-probe.mjs read     # the Worker reads it (await req.arrayBuffer())
//   node bench/keepalive-probe.mjs cancel   # the Worker cancels it (req.body.cancel())
//
// Prints how many requests got an answer and how many failed (ECONNRESET). See
// docs/reliability.md ("Soak, floods and faults").
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
import http from 'node:http';

const { Miniflare } = await import('miniflare');
const mode = process.argv[2] ?? 'noread';
const body = { read: 'await req.arrayBuffer();', cancel: 'req.body && req.body.cancel();' }[mode] ?? '';
const mf = new Miniflare({
  modules: true,
  script: `export default { async fetch(req) { ${body} return new Response('x'); } }`,
  compatibilityDate: '2025-01-01',
  host: '127.0.0.1',
  port: 0,
  cf: false,
});
const url = new URL(await mf.ready);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let ok = 0;
let failed = 0;
const one = (post) =>
  new Promise((resolve) => {
    const r = http.request(
      { host: url.hostname, port: url.port, method: post ? 'POST' : 'GET', path: '/', agent, headers: post ? { 'content-length': 2 } : {} },
      (s) => {
        s.resume();
        s.on('end', () => {
          ok += 1;
          resolve();
        });
      },
    );
    r.on('error', () => {
      failed += 1;
      resolve();
    });
    if (post) r.write('{}');
    r.end();
  });
await Promise.all(
  Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 200; i++) await one(i % 5 === 0);
  }),
);
console.log(`${mode}: ${ok} answered, ${failed} failed`);
await mf.dispose();
agent.destroy();
