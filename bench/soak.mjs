// Reliability figures (docs/reliability.md): a saturation soak of mixed valid and invalid traffic,
// floods of unknown tokens, and the fault table. Runs outside the test command.
//
//   node bench/soak.mjs soak      # 60 s of mixed traffic at saturation: statuses, errors,
//                                 # latency and the wasm linear memory, per 5 s
//   node bench/soak.mjs flood     # distinct unknown tokens, then one repeated unknown token:
//                                 # KV reads per request
//   node bench/soak.mjs faults    # origin down/hanging, KV failing/hanging, nonce store
//                                 # failing/hanging, log sink down/hanging: what clients get
//   node bench/soak.mjs all       # the three, in that order
//
// Environment (optional): SOAK_SECONDS=60 CONNECTIONS=32 CACHE_MAX=10000 FLOOD_REQUESTS=3000
// FLOOD_CONNECTIONS=50 FAULT_WAIT_S=40 RUST_BUILD=<worker-build output, default build/>
// SOAK_KEEPALIVE=1 (reuse connections) SOAK_JSON=<file> (also write the raw figures there).
//
// The Worker under test is the normal build (bash scripts/build.sh), copied to
// target/soak-build/ with a test-only entry module in front of it (written below, never part of
// the deployable bundle): it records the wasm instance the module creates, so that
// GET /__soak/stats can read the wasm linear memory (`memory.buffer.byteLength`) and count
// re-instantiations; and it hands the Worker a KV binding and a nonce-store binding that count
// reads and can be told to fail or hang (GET /__soak/mode?kv=fail|hang|ok&nonce=...). The origin
// and the log sink run in their own Node process (bench/soak-servers.mjs).

process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
process.env.WRANGLER_SEND_METRICS = 'false';

import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { signRequest } from '../scripts/sign-request.mjs';

const { Miniflare } = await import('miniflare');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const SOAK_SECONDS = num('SOAK_SECONDS', 60);
const CONNECTIONS = num('CONNECTIONS', 32);
const FLOOD_REQUESTS = num('FLOOD_REQUESTS', 3000);
const FLOOD_CONNECTIONS = num('FLOOD_CONNECTIONS', 50);
const FAULT_WAIT_S = num('FAULT_WAIT_S', 40);
// The policy's cache.max_entries (the default is 10,000): a smaller one fills within seconds,
// so that the memory curve shows whether anything grows besides the bounded caches.
const CACHE_MAX = num('CACHE_MAX', 10_000);
// A new connection per request; SOAK_KEEPALIVE=1 reuses connections (workerd under Miniflare
// resets a kept-alive connection after a request whose body the Worker did not read, so denied
// POSTs then cost the next request on that connection: see docs/reliability.md).
const FRESH = process.env.SOAK_KEEPALIVE !== '1';
const RUST_BUILD = path.resolve(process.env.RUST_BUILD || path.join(REPO, 'build'));
const OUT = path.join(REPO, 'target', 'soak-build');

const sha256hex = (s) => createHash('sha256').update(s).digest('hex');
const b64u = (b) => Buffer.from(b).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const APP = 'soak-app';
const TOKEN = 'soak-token-0123456789';
const ISS = 'soak-issuer';
const HS_KEY = randomBytes(32);
const RFC_KEYS = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/fixtures/rfc9421/keys.json'), 'utf8')).keys;

// ---------------------------------------------------------------------------------------------
// The test build: the normal build plus a test-only entry module.

const HOOK = `// Test-only (bench/soak.mjs): records the wasm instance the Worker's module creates.
const Original = WebAssembly.Instance;
const S = (globalThis.__soak = { instances: 0, current: null, kvReads: 0, nonceCalls: 0, mode: { kv: 'ok', nonce: 'ok' } });
function Instance(module, imports) {
  const inst = new Original(module, imports);
  S.instances += 1;
  S.current = inst;
  return inst;
}
Instance.prototype = Original.prototype;
WebAssembly.Instance = Instance;
`;

const ENTRY = `// Test-only entry (bench/soak.mjs): never deployed. See the header of bench/soak.mjs.
import './soak-hook.mjs';
import Gateway, { NonceStore } from './index.js';
export { NonceStore };
const S = globalThis.__soak;
// A hang is real pending I/O (a request to a server that never answers), as a hanging KV or
// Durable Object call would be: a bare never-settling promise is cancelled by the runtime
// ("your Worker's code had hung") instead.
const never = () => fetch(S.mode.hangUrl).then(() => null);
function kv(inner) {
  return {
    get(...args) {
      S.kvReads += 1;
      if (S.mode.kv === 'fail') return Promise.reject(new Error('KV stand-in: failing'));
      if (S.mode.kv === 'hang') return never();
      return inner.get(...args);
    },
  };
}
function nonces(inner) {
  return {
    idFromName: (n) => inner.idFromName(n),
    get(id) {
      const stub = inner.get(id);
      return {
        fetch(...args) {
          S.nonceCalls += 1;
          if (S.mode.nonce === 'fail') return Promise.reject(new Error('nonce store stand-in: failing'));
          if (S.mode.nonce === 'hang') return never();
          return stub.fetch(...args);
        },
      };
    },
  };
}
export default {
  fetch(req, env, ctx) {
    const u = new URL(req.url);
    if (u.pathname === '/__soak/stats') {
      return Response.json({ memory: S.current ? S.current.exports.memory.buffer.byteLength : null, instances: S.instances, kvReads: S.kvReads, nonceCalls: S.nonceCalls });
    }
    if (u.pathname === '/__soak/mode') {
      for (const [k, v] of u.searchParams) S.mode[k] = v;
      S.kvReads = 0;
      S.nonceCalls = 0;
      return new Response('ok');
    }
    const wrapped = Object.create(env);
    Object.defineProperty(wrapped, 'RECORDS', { value: kv(env.RECORDS) });
    Object.defineProperty(wrapped, 'NONCES', { value: nonces(env.NONCES) });
    return new Gateway(ctx, wrapped).fetch(req);
  },
};
`;

function prepareBuild() {
  if (!fs.existsSync(path.join(RUST_BUILD, 'index.js'))) {
    throw new Error(`no Worker build in ${RUST_BUILD}: run bash scripts/build.sh first`);
  }
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.cpSync(RUST_BUILD, OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'soak-hook.mjs'), HOOK);
  fs.writeFileSync(path.join(OUT, 'soak-entry.mjs'), ENTRY);
}

// ---------------------------------------------------------------------------------------------
// Origin and log sink, in their own process.

async function startServers() {
  const child = spawn(process.execPath, [path.join(HERE, 'soak-servers.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`soak-servers exited ${c}`)));
  });
  const ports = JSON.parse(line);
  return { ...ports, stop: () => child.kill('SIGTERM') };
}

async function closedPort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// ---------------------------------------------------------------------------------------------
// The gateway

function policy(ports) {
  const o = (p) => `http://127.0.0.1:${p}`;
  return {
    cache: { ttl_seconds: 30, negative_ttl_seconds: 5, max_entries: CACHE_MAX },
    apis: [
      { name: 'orders', base_path: '/orders', origin: `${o(ports.origin)}/be`, interceptors: [{ type: 'oauth' }] },
      { name: 'at', base_path: '/at', origin: `${o(ports.origin)}/be`, interceptors: [{ type: 'access_token' }] },
      { name: 'jwt', base_path: '/jwt', origin: `${o(ports.origin)}/be`, interceptors: [{ type: 'jwt', issuers: [{ issuer: ISS, algorithms: ['HS256'] }] }] },
      {
        name: 'hms',
        base_path: '/hms',
        origin: `${o(ports.origin)}/be`,
        interceptors: [{ type: 'client_id' }, { type: 'digital_signature', mode: 'http_message_signatures' }],
      },
      { name: 'down', base_path: '/down', origin: `${o(ports.closed)}/be`, interceptors: [{ type: 'client_id' }] },
      { name: 'hang', base_path: '/hang', origin: `${o(ports.origin)}/hang`, interceptors: [{ type: 'client_id' }] },
    ],
  };
}

const RECORDS = {
  [`app:${APP}`]: JSON.stringify({
    name: 'Soak',
    status: 'APPROVED',
    access: ['orders', 'at', 'jwt', 'hms', 'down', 'hang'].map((api) => ({ api })),
    signature_keys: [{ kid: 'test-key-ed25519', alg: 'EdDSA', pem: RFC_KEYS['test-key-ed25519'].public_spki_pem }],
  }),
  [`token:${sha256hex(TOKEN)}`]: JSON.stringify({ client_id: APP }),
  [`jwt-issuer:${ISS}`]: JSON.stringify({ keys: [{ kty: 'oct', kid: 'k1', alg: 'HS256', k: b64u(HS_KEY) }] }),
};

function workerdChildren() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const comm = s.slice(s.indexOf('(') + 1, close);
      const ppid = Number(s.slice(close + 2).split(' ')[1]);
      if (ppid === process.pid && comm === 'workerd') out.push(Number(d));
    } catch {}
  }
  return out;
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function startGateway(ports, { logging } = {}) {
  const before = new Set(workerdChildren());
  let output = '';
  const bindings = { POLICY: policy(ports) };
  if (logging) bindings.LOGGING = logging;
  const mf = new Miniflare({
    modules: true,
    modulesRoot: OUT,
    scriptPath: path.join(OUT, 'soak-entry.mjs'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-01-01',
    kvNamespaces: ['RECORDS'],
    durableObjects: { NONCES: { className: 'NonceStore', useSQLite: true } },
    bindings,
    cf: false,
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', (d) => (output += d));
      stderr.on('data', (d) => (output += d));
    },
  });
  const url = new URL(await mf.ready);
  const kv = await mf.getKVNamespace('RECORDS');
  for (const [k, v] of Object.entries(RECORDS)) await kv.put(k, v);
  const pid = workerdChildren().find((p) => !before.has(p)) ?? null;
  return { mf, url, pid, output: () => output };
}

// ---------------------------------------------------------------------------------------------
// Requests

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(url, { method = 'GET', path: p, headers = {}, body, timeoutMs = 30_000, fresh = false }) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: p, headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers, agent: fresh ? false : agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, text: Buffer.concat(chunks).toString() }));
        res.on('error', (e) => resolve({ error: e.code ?? String(e), ms: performance.now() - t0 }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: `no answer in ${timeoutMs / 1000} s` })));
    req.on('error', (e) => resolve({ error: e.code ?? String(e), ms: performance.now() - t0 }));
    if (body) req.write(body);
    req.end();
  });
}

const stats = async (url) => JSON.parse((await request(url, { path: '/__soak/stats', fresh: true })).text);
const setMode = (url, q) => request(url, { path: `/__soak/mode?${q}`, fresh: true });

function hsJwt(claims) {
  const h = b64u(JSON.stringify({ alg: 'HS256', kid: 'k1', typ: 'JWT' }));
  const p = b64u(JSON.stringify(claims));
  return `${h}.${p}.${b64u(createHmac('sha256', HS_KEY).update(`${h}.${p}`).digest())}`;
}

function signedHms(url, { nonce = b64u(randomBytes(12)) } = {}) {
  const body = '{"soak":true}';
  const headers = { 'content-type': 'application/json' };
  const signed = signRequest({
    method: 'POST', url: `http://${url.host}/hms/items`, headers, body, alg: 'ed25519', keyid: 'test-key-ed25519',
    key: RFC_KEYS['test-key-ed25519'].private_pem, nonce,
  });
  return { method: 'POST', path: '/hms/items', body, headers: { ...headers, ...signed, client_id: APP } };
}

/** The soak's traffic: what it is and whether it must pass. */
function mixed(url, i) {
  const k = i % 20;
  if (k < 8) return { kind: 'valid oauth', want: 200, path: '/orders/x', headers: { client_id: APP, access_token: TOKEN } };
  if (k < 10) return { kind: 'valid JWT (distinct)', want: 200, path: '/jwt/x', headers: { authorization: `Bearer ${hsJwt({ iss: ISS, exp: nowS() + 600, jti: `${i}` })}` } };
  if (k < 11) return { kind: 'valid RFC 9421', want: 200, ...signedHms(url) };
  if (k < 14) return { kind: 'unknown token', want: 401, path: '/at/x', headers: { access_token: `unknown-${i % 500}` } };
  if (k < 16) return { kind: 'unknown client id', want: 401, path: '/orders/x', headers: { client_id: `nobody-${i}`, access_token: TOKEN } };
  if (k < 18) return { kind: 'bad JWT signature', want: 401, path: '/jwt/x', headers: { authorization: `Bearer ${hsJwt({ iss: ISS, exp: nowS() + 600 }).slice(0, -4)}AAAA` } };
  if (k < 19) return { kind: 'malformed signature', want: 401, method: 'POST', path: '/hms/items', body: '{}', headers: { client_id: APP, 'signature-input': 'sig1=("@method";keyid="x"', signature: 'sig1=:AAAA:' } };
  return { kind: 'oversized token', want: 401, path: '/at/x', headers: { access_token: 't'.repeat(5000) } };
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : null);
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// ---------------------------------------------------------------------------------------------
// Soak

async function soak(ports) {
  const gw = await startGateway(ports);
  console.log(`\n## Soak: ${SOAK_SECONDS} s, ${CONNECTIONS} connections, mixed traffic, cache.max_entries ${CACHE_MAX} (load average before: ${loadavg()})`);
  const s0 = await stats(gw.url);
  const samples = [{ t: 0, memory: s0.memory, rss: rssMb(gw.pid), requests: 0 }];
  const byKind = {};
  let total = 0;
  let wrong = 0;
  let errors = 0;
  let lat = [];
  const start = performance.now();
  const end = start + SOAK_SECONDS * 1000;
  let i = 0;
  let nextSample = 5;
  const sampler = setInterval(async () => {
    const t = Math.round((performance.now() - start) / 1000);
    if (t < nextSample) return;
    nextSample += 5;
    const s = await stats(gw.url);
    const sorted = lat.sort((a, b) => a - b);
    samples.push({ t, memory: s.memory, instances: s.instances, rss: rssMb(gw.pid), requests: total, p50: pct(sorted, 50), p99: pct(sorted, 99) });
    lat = [];
  }, 500);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const r = mixed(gw.url, i++);
        const res = await request(gw.url, { ...r, fresh: FRESH });
        total += 1;
        lat.push(res.ms);
        const k = (byKind[r.kind] ??= { requests: 0, statuses: {} });
        k.requests += 1;
        const st = res.status ?? res.error;
        k.statuses[st] = (k.statuses[st] ?? 0) + 1;
        if (res.error) errors += 1;
        else if (res.status !== r.want) wrong += 1;
      }
    }),
  );
  clearInterval(sampler);
  const secs = (performance.now() - start) / 1000;
  const s1 = await stats(gw.url);
  samples.push({ t: Math.round(secs), memory: s1.memory, instances: s1.instances, rss: rssMb(gw.pid), requests: total });
  console.log(`requests ${total} in ${secs.toFixed(1)} s (${(total / secs).toFixed(0)}/s); unexpected status ${wrong}; errors ${errors}; wasm instances ${s1.instances} (1 = never re-instantiated)`);
  console.log('| traffic | requests | statuses |\n|---|---|---|');
  for (const [kind, k] of Object.entries(byKind)) console.log(`| ${kind} | ${k.requests} | ${JSON.stringify(k.statuses)} |`);
  console.log('\n| t (s) | requests so far | wasm memory (bytes) | workerd RSS (MB) | p50 / p99 latency (ms) |\n|---|---|---|---|---|');
  for (const s of samples) console.log(`| ${s.t} | ${s.requests} | ${s.memory} | ${s.rss ?? '–'} | ${s.p50 != null ? `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}` : '–'} |`);
  console.log(`load average after: ${loadavg()}`);
  await gw.mf.dispose();
  return { total, secs, wrong, errors, byKind, samples, instances: s1.instances };
}

// ---------------------------------------------------------------------------------------------
// Floods of unknown tokens: KV reads per request.

async function flood(ports) {
  const gw = await startGateway(ports);
  console.log(`\n## Floods: ${FLOOD_REQUESTS} requests each, ${FLOOD_CONNECTIONS} connections (load average before: ${loadavg()})`);
  console.log('| flood | requests | time | KV reads | KV reads per request | statuses |\n|---|---|---|---|---|---|');
  const out = {};
  for (const [name, tokenOf] of [
    ['distinct unknown tokens', (i) => `flood-distinct-${i}-${randomBytes(4).toString('hex')}`],
    ['one repeated unknown token', () => 'flood-the-same-unknown-token'],
  ]) {
    await setMode(gw.url, 'kv=ok');
    let i = 0;
    const statuses = {};
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: FLOOD_CONNECTIONS }, async () => {
        while (i < FLOOD_REQUESTS) {
          const n = i++;
          const res = await request(gw.url, { path: '/at/x', headers: { access_token: tokenOf(n) } });
          const st = res.status ?? res.error;
          statuses[st] = (statuses[st] ?? 0) + 1;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    const s = await stats(gw.url);
    out[name] = { requests: FLOOD_REQUESTS, seconds: secs, kvReads: s.kvReads, perRequest: s.kvReads / FLOOD_REQUESTS, statuses };
    console.log(`| ${name} | ${FLOOD_REQUESTS} | ${secs.toFixed(1)} s | ${s.kvReads} | ${(s.kvReads / FLOOD_REQUESTS).toFixed(3)} | ${JSON.stringify(statuses)} |`);
  }
  console.log(`load average after: ${loadavg()}`);
  await gw.mf.dispose();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Faults

async function faults(ports) {
  console.log(`\n## Faults (each: 3 requests one after another; no answer within ${FAULT_WAIT_S} s counts as none) (load average: ${loadavg()})`);
  const rows = [];
  const wait = FAULT_WAIT_S * 1000;
  const hangUrl = encodeURIComponent(`http://127.0.0.1:${ports.origin}/hang/stand-in`);
  const row = async (fault, gw, make, mode = null) => {
    const seen = gw.output().length;
    if (mode) await setMode(gw.url, `${mode}&hangUrl=${hangUrl}`);
    const results = [];
    for (let k = 0; k < 3; k++) results.push(await request(gw.url, { ...make(k), timeoutMs: wait, fresh: true }));
    if (mode) await setMode(gw.url, 'kv=ok&nonce=ok');
    const answers = results.map((r) => (r.error ? r.error : `${r.status} ${JSON.stringify(r.text.slice(0, 40))}`));
    const ms = results.map((r) => Math.round(r.ms));
    const fresh = gw.output().slice(seen);
    const cause = [...new Set([...fresh.matchAll(/"outcome":"fault"[^\n]*?"cause":"([a-z_]+)"|"cause":"([a-z_]+)"[^\n]*?"outcome":"fault"/g)].map((m) => m[1] ?? m[2]))].join(', ');
    rows.push({ fault, answers, ms, cause });
    console.log(`| ${fault} | ${[...new Set(answers)].join('; ')} | ${ms.join(', ')} | ${cause || '–'} |`);
  };
  console.log('| fault | clients got | time to answer (ms) | trace cause |\n|---|---|---|---|');
  const gw = await startGateway(ports);
  let n = 0;
  const unknown = () => ({ path: '/at/x', headers: { access_token: `fault-${n++}-${randomBytes(4).toString('hex')}` } });
  await row('none (control: unknown token)', gw, unknown);
  await row('origin down (connection refused)', gw, () => ({ path: '/down/x', headers: { client_id: APP } }));
  await row('origin hanging (accepts, never answers)', gw, () => ({ path: '/hang/x', headers: { client_id: APP } }));
  await row('KV failing (every read rejects)', gw, unknown, 'kv=fail');
  await row('KV hanging (reads never settle)', gw, unknown, 'kv=hang');
  await row('nonce store failing (claims reject)', gw, () => signedHms(gw.url), 'nonce=fail');
  await row('nonce store hanging (claims never settle)', gw, () => signedHms(gw.url), 'nonce=hang');
  await gw.mf.dispose();
  for (const [fault, endpoint] of [
    ['log sink down (connection refused)', `http://127.0.0.1:${ports.closed}/logs`],
    ['log sink hanging (accepts, never answers)', `http://127.0.0.1:${ports.sink}/hang`],
  ]) {
    const g = await startGateway(ports, { logging: { endpoint, batch_size: 1, flush_ms: 100, timeout_ms: 2000, retries: 0 } });
    await row(fault, g, () => ({ path: '/orders/x', headers: { client_id: APP, access_token: TOKEN } }));
    await new Promise((r) => setTimeout(r, 4000));
    const reports = g.output().match(/"edge_trace_undelivered"/g) ?? [];
    const dropped = [...g.output().matchAll(/"dropped_total":(\d+)/g)].map((m) => Number(m[1])).pop() ?? 0;
    if (process.env.SOAK_VERBOSE) console.log(g.output());
    Object.assign(rows[rows.length - 1], { undeliveredReports: reports.length, droppedTotal: dropped });
    console.log(`  (4 s later: ${reports.length} undelivered batches written to the console, dropped_total ${dropped})`);
    await g.mf.dispose();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

const what = process.argv[2] ?? 'all';
if (!['soak', 'flood', 'faults', 'all'].includes(what)) {
  console.error('usage: node bench/soak.mjs soak|flood|faults|all');
  process.exit(2);
}
prepareBuild();
const servers = await startServers();
const ports = { ...servers, closed: await closedPort() };
console.log(`# bench/soak.mjs ${what} — ${new Date().toISOString()}, ${os.cpus().length} cores, load average ${loadavg()}`);
const results = { when: new Date().toISOString(), load: os.loadavg() };
try {
  if (what === 'soak' || what === 'all') results.soak = await soak(ports);
  if (what === 'flood' || what === 'all') {
    results.flood = await flood(ports);
  }
  if (what === 'faults' || what === 'all') results.faults = await faults(ports);
} finally {
  servers.stop();
  agent.destroy();
}
if (process.env.SOAK_JSON) fs.writeFileSync(process.env.SOAK_JSON, JSON.stringify(results, null, 2));
process.exit(0);
