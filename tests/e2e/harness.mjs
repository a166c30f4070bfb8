// End-to-end harness: a recording origin on 127.0.0.1, the built Worker in Miniflare with its
// own local KV, and helpers to seed records, send raw HTTP requests and check the 401 contract.
//
// The Worker under test is read from $E2E_BUILD_DIR (default: <repo>/build, scripts/build.sh's
// output); its entry is $E2E_ENTRY (a path relative to that folder) or the first of
// index.js, worker/shim.mjs, shim.mjs, index.mjs that exists. `startGateway({ buildDir })` runs
// another build (the test build of scripts/build-test.sh, see `testBuild`).
//
// Stand-ins (`startGateway({ standins: { kv: true, nonces: true } })`): the RECORDS and NONCES
// bindings replaced by Miniflare wrapped bindings that this process controls — every KV read
// counted per key and answered, failed, delayed or left hanging as the test says
// (`gw.kv.mode = (key) => 'pass' | 'fail' | 'hang' | { delayMs }`, or a promise of one: the read
// waits for it; writes go straight through), every nonce claim answered
// fresh, replayed, failed or left hanging (`gw.nonces.mode`). The KV stand-in reads through to a
// real local KV namespace, which `gw.seed` writes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
process.env.WRANGLER_SEND_METRICS ??= 'false';

const { Miniflare, Response: MfResponse } = await import('miniflare');

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD_DIR = path.resolve(process.env.E2E_BUILD_DIR ?? path.join(REPO, 'build'));
/** The test-only build (cargo features such as trap-trigger), made by scripts/build-test.sh. */
export const TEST_BUILD_DIR = path.join(REPO, 'build-test');

/**
 * Builds the test-only variant (scripts/build-test.sh, features `trap-trigger`) and returns its
 * folder. Incremental after the first time (its own cargo target folder); the first build takes
 * minutes on a small machine, so give the calling hook a long timeout (BUILD_TIMEOUT).
 */
export function testBuild() {
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(REPO, 'scripts', 'build-test.sh')], { cwd: REPO, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/build-test.sh failed: ${err.message}\n${String(stderr).slice(-3000)}`));
      else resolve(TEST_BUILD_DIR);
    });
  });
}
export const BUILD_TIMEOUT = 900_000;

/** Timeouts (ms) for node:test: every test and hook passes one of these. */
export const TEST_TIMEOUT = 20_000;
export const HOOK_TIMEOUT = 90_000;

export const DEFAULT_DOCS = 'docs.sensedia.com';

export function findEntry(buildDir = BUILD_DIR) {
  const candidates = process.env.E2E_ENTRY
    ? [process.env.E2E_ENTRY]
    : ['index.js', 'worker/shim.mjs', 'shim.mjs', 'index.mjs'];
  for (const c of candidates) {
    const p = path.join(buildDir, c);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `no built Worker in ${buildDir} (looked for ${candidates.join(', ')}); ` +
      'build it first (bash scripts/build.sh) or set E2E_BUILD_DIR / E2E_ENTRY',
  );
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export const sha256hex = (data) => createHash('sha256').update(data).digest('hex');

let uniqCounter = 0;
/**
 * A fresh W3C traceparent for one request: the gateway keeps its trace id, so the trace entries
 * of that very request can be found (`gw.traceOf(traceId)`), whatever else ran at the time.
 */
export function traceparent() {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, header: ['traceparent', `00-${traceId}-${randomBytes(8).toString('hex')}-01`] };
}

/** Every trace entry in console output (each trace is one line holding a JSON array). */
export function traceEntries(output) {
  const entries = [];
  for (const line of output.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('[{')) continue;
    try {
      entries.push(...JSON.parse(t));
    } catch {
      // not a trace line
    }
  }
  return entries;
}

/** A unique, URL/header/cookie-safe id. */
export function uniq(prefix = 'id') {
  uniqCounter += 1;
  return `${prefix}-${uniqCounter}-${randomBytes(6).toString('hex')}`;
}

const nowSec = () => Math.floor(Date.now() / 1000);
/** Expiry values: epoch seconds and RFC 3339, one hour in the past or future. */
export const EXPIRY = {
  pastEpoch: () => nowSec() - 3600,
  futureEpoch: () => nowSec() + 3600,
  pastRfc3339: () => new Date(Date.now() - 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  futureRfc3339: () => {
    // +02:00 offset, with fractional seconds: still RFC 3339.
    const d = new Date(Date.now() + 3600_000 + 2 * 3600_000);
    return d.toISOString().replace('Z', '+02:00');
  },
};

/** An app record (`app:<client_id>`). */
export function appRecord(fields = {}) {
  return {
    name: 'Demo App',
    status: 'APPROVED',
    revoked: false,
    access: [],
    client_secret_sha256: sha256hex('not-used'),
    extra_info: {},
    ...fields,
  };
}

/** A token record (`token:<sha256(token)>`). */
export function tokenRecord(fields = {}) {
  return {
    client_id: 'nobody',
    revoked: false,
    grant_type: 'client_credentials',
    extra_info: {},
    ...fields,
  };
}

export const appKey = (clientId) => `app:${clientId}`;
export const tokenKey = (token) => `token:${sha256hex(Buffer.from(token, 'utf8'))}`;

/** The documented 401 messages. */
export const MSG = {
  accessToken: (loc, name, docs = DEFAULT_DOCS) =>
    `Access Token in the request, identified by ${loc} ${name}, is invalid. Check ${docs}`,
  clientId: (loc, name, docs = DEFAULT_DOCS) =>
    `Client Id in the request, identified by ${loc} ${name}, is invalid. Check ${docs}`,
};

/** Location keyword used in messages for each configured location (when found there). */
export const LOC_WORD = { header: 'HEADER', query: 'QUERY_PARAM', cookie: 'COOKIE' };

// ---------------------------------------------------------------------------------------------
// Requests

/**
 * Pieces of a request: headers as [name, value] pairs (one line each, sent verbatim), query
 * pairs (encoded with encodeURIComponent unless given in rawQuery) and cookie pairs (sent
 * verbatim in one Cookie header, `a=1; b=2`, unless rawCookie is given).
 */
export function parts(init = {}) {
  return {
    headers: [...(init.headers ?? [])],
    query: [...(init.query ?? [])],
    rawQuery: init.rawQuery ?? null,
    cookies: [...(init.cookies ?? [])],
    rawCookie: init.rawCookie ?? null,
  };
}

/** Merge several parts() objects. */
export function mergeParts(...ps) {
  const out = parts();
  for (const p of ps) {
    if (!p) continue;
    out.headers.push(...(p.headers ?? []));
    out.query.push(...(p.query ?? []));
    out.cookies.push(...(p.cookies ?? []));
    if (p.rawQuery != null) out.rawQuery = out.rawQuery == null ? p.rawQuery : `${out.rawQuery}&${p.rawQuery}`;
    if (p.rawCookie != null) out.rawCookie = out.rawCookie == null ? p.rawCookie : `${out.rawCookie}; ${p.rawCookie}`;
  }
  return out;
}

/** A credential placed at a location ('header' | 'query' | 'cookie') under `name`. */
export function credential(location, name, value) {
  switch (location) {
    case 'header':
      return parts({ headers: [[name, value]] });
    case 'query':
      return parts({ query: [[name, value]] });
    case 'cookie':
      return parts({ cookies: [[name, value]] });
    default:
      throw new Error(`unknown location ${location}`);
  }
}

/** Build path?query and the header list from a base path and parts. */
export function buildRequest(basePath, p = parts()) {
  const q = p.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (p.rawQuery != null) q.push(p.rawQuery);
  const sep = basePath.includes('?') ? '&' : '?';
  const fullPath = q.length ? `${basePath}${sep}${q.join('&')}` : basePath;
  const headers = [...p.headers];
  let cookie = p.cookies.map(([k, v]) => `${k}=${v}`).join('; ');
  if (p.rawCookie != null) cookie = cookie ? `${cookie}; ${p.rawCookie}` : p.rawCookie;
  if (cookie) headers.push(['Cookie', cookie]);
  return { path: fullPath, headers };
}

/**
 * Send one raw HTTP/1.1 request with node:http (each header line verbatim, no header merging
 * by a fetch implementation). Returns {status, headers, rawHeaders, body (Buffer), text}.
 */
export function rawRequest(baseUrl, reqPath, { method = 'GET', headers = [], body } = {}) {
  const url = new URL(reqPath, baseUrl);
  const flat = ['Host', url.host];
  for (const [k, v] of headers) flat.push(k, v);
  if (body != null) flat.push('Content-Length', String(Buffer.byteLength(body)));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers: flat, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: buf,
            text: buf.toString('utf8'),
          });
        });
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error(`request timed out: ${method} ${reqPath}`)));
    req.on('error', reject);
    if (body != null) req.write(body);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Origin

/**
 * A recording origin. Every request is kept as {method, url, headers, rawHeaders, body}.
 * Answers:
 *   .../status/<code>  -> <code>, text body `origin says <code>`, headers x-origin-header, x-custom-resp
 *   .../redirect       -> 302 Location: /elsewhere
 *   .../resp-headers   -> 201 with two Set-Cookie, Cache-Control, x-multi
 *   request with a body (any method) -> 200 echoing the body and its content-type,
 *                         x-origin-len / x-origin-sha256 headers
 *   .../hold/...       -> held (no answer) until origin.release(), then 200 JSON {"ok":true,"held":true,...}
 *   .../hang/...       -> never answered
 *   .../delay/<ms>/... -> 200 JSON {"ok":true,"delayed":<ms>} after <ms> milliseconds
 *   .../slowbody/<ms>/... -> 200 headers at once, then `first` and, <ms> later, `second`
 *   anything else      -> 200 JSON {"ok":true,"path":<path+query>}
 * Use the x-e2e-id request header (forwarded by the gateway) to find a test's requests.
 */
export async function startOrigin() {
  const requests = [];
  const held = [];
  const hanging = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      };
      requests.push(rec);
      const p = req.url.split('?')[0];
      let m;
      if (/\/hold(\/|$)/.test(p)) {
        held.push({ res, path: req.url });
        return;
      }
      if (/\/hang(\/|$)/.test(p)) {
        hanging.push(res);
        return;
      }
      if ((m = /\/delay\/(\d+)(\/|$)/.exec(p))) {
        const ms = Number(m[1]);
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true, delayed: ms }));
        }, ms);
        return;
      }
      if ((m = /\/slowbody\/(\d+)(\/|$)/.exec(p))) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        setTimeout(() => res.end('second'), Number(m[1]));
        return;
      }
      if ((m = /\/status\/(\d{3})$/.exec(p))) {
        const code = Number(m[1]);
        res.writeHead(code, {
          'content-type': 'text/plain',
          'x-origin-header': 'yes',
          'x-custom-resp': 'abc',
        });
        res.end(`origin says ${code}`);
      } else if (p.endsWith('/redirect')) {
        res.writeHead(302, { location: '/elsewhere', 'content-type': 'text/plain' });
        res.end('moved');
      } else if (p.endsWith('/resp-headers')) {
        res.writeHead(201, [
          ['content-type', 'application/json'],
          ['set-cookie', 'a=1; Path=/'],
          ['set-cookie', 'b=2; Path=/; HttpOnly'],
          ['cache-control', 'max-age=17'],
          ['x-multi', 'one'],
        ].flat());
        res.end('{"created":true}');
      } else if (body.length > 0 || req.headers['content-length'] !== undefined && req.method !== 'GET') {
        const h = {
          'x-origin-len': String(body.length),
          'x-origin-sha256': sha256hex(body),
          'x-origin-method': req.method,
        };
        if (req.headers['content-type']) h['content-type'] = req.headers['content-type'];
        res.writeHead(200, h);
        res.end(body);
      } else {
        const out = JSON.stringify({ ok: true, path: req.url });
        res.writeHead(200, { 'content-type': 'application/json', 'x-origin-method': req.method });
        res.end(req.method === 'HEAD' ? undefined : out);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    /** Requests that carried `x-e2e-id: <id>`. */
    find: (id) => requests.filter((r) => r.headers['x-e2e-id'] === id),
    /** How many requests to .../hold/... wait for `release`. */
    heldCount: () => held.length,
    /** Answers every held request: 200 JSON {"ok":true,"held":true,"path":...}. */
    release() {
      for (const h of held.splice(0)) {
        h.res.writeHead(200, { 'content-type': 'application/json', 'x-origin-held': 'yes' });
        h.res.end(JSON.stringify({ ok: true, held: true, path: h.path }));
      }
    },
    /** Waits until `n` requests are held (or fails after `ms`). */
    async waitHeld(n, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (held.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${held.length} of ${n} requests reached the origin`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const r of [...hanging, ...held.map((h) => h.res)]) r.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 with nothing listening (bound once, then closed). */
export async function closedPort() {
  const s = http.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Gateway (the built Worker in Miniflare)

// The stand-in bindings: wrapped bindings (modules evaluated inside the gateway's isolate)
// whose every call asks this process what to do through the CTL service binding.
const KV_STANDIN = `
export default function (env) {
  async function ask(key) {
    const r = await env.CTL.fetch('http://ctl/kv', { method: 'POST', body: key });
    return r.json();
  }
  return {
    async get(key, options) {
      const a = await ask(key);
      if (a.mode === 'hang') return new Promise(() => {});
      if (a.mode === 'fail') throw new Error('KV stand-in: failing as the test asked');
      if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
      return env.INNER.get(key, options);
    },
    // Writes (the authorization server's token records) go straight through.
    put(key, value, options) {
      return env.INNER.put(key, value, options);
    },
  };
}`;
const NONCE_STANDIN = `
export default function (env) {
  return {
    idFromName: (name) => ({ name, toString: () => name }),
    get: (id) => ({
      async fetch(url, init) {
        const r = await env.CTL.fetch('http://ctl/nonce', { method: 'POST', body: String(id.name) + ' ' + url });
        const a = await r.json();
        if (a.mode === 'hang') return new Promise(() => {});
        if (a.mode === 'fail') throw new Error('nonce store stand-in: failing as the test asked');
        return new Response(null, { status: a.status });
      },
    }),
  };
}`;

/** The state a stand-in consults: counts and the answer the test chose. */
function makeStandins() {
  const kv = {
    /** Reads per key. */
    reads: new Map(),
    total: 0,
    /** (key) => 'pass' | 'fail' | 'hang' | { delayMs }, or a promise of one (the read waits for it) */
    mode: () => 'pass',
    count: (key) => kv.reads.get(key) ?? 0,
    reset() {
      kv.reads.clear();
      kv.total = 0;
    },
  };
  const nonces = {
    claims: [],
    /** 'fresh' (204) | 'replayed' (409) | 'late' (410) | 'fail' | 'hang' */
    mode: 'fresh',
  };
  const json = (v) => new MfResponse(JSON.stringify(v), { headers: { 'content-type': 'application/json' } });
  async function ctl(request) {
    const url = new URL(request.url);
    const body = await request.text();
    if (url.pathname === '/kv') {
      kv.reads.set(body, kv.count(body) + 1);
      kv.total += 1;
      const m = await kv.mode(body);
      return json(typeof m === 'object' ? { mode: 'pass', delayMs: m.delayMs } : { mode: m });
    }
    nonces.claims.push(body);
    const status = { fresh: 204, replayed: 409, late: 410 }[nonces.mode];
    return json(status ? { mode: 'answer', status } : { mode: nonces.mode });
  }
  return { kv, nonces, ctl };
}

function miniflareOptions({ policy, hasPolicy, brokenKv, brokenNonces, extraBindings, buildDir, standins, ctl, onStdout, onStderr }) {
  const dir = buildDir ?? BUILD_DIR;
  const entry = findEntry(dir);
  const bindings = { ...extraBindings };
  if (hasPolicy) bindings.POLICY = policy;
  // A RECORDS binding that is not a KV namespace: every read fails, as when KV is down.
  if (brokenKv) bindings.RECORDS = 'not-a-kv-namespace';
  const gateway = {
    name: 'gateway',
    modules: true,
    modulesRoot: dir,
    scriptPath: entry,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-01-01',
    kvNamespaces: brokenKv || standins?.kv ? [] : ['RECORDS'],
    // The nonce store (RFC 9421 replay protection), SQLite-backed as in wrangler.toml.
    // brokenNonces: a store without SQLite storage, whose every claim fails.
    durableObjects: {
      ...(standins?.nonces ? {} : { NONCES: { className: 'NonceStore', useSQLite: !brokenNonces } }),
      // The authorization servers' grant store (codes, refresh-token families), as in wrangler.toml.
      GRANTS: { className: 'GrantStore', useSQLite: true },
    },
    bindings,
  };
  const shared = {
    cf: false,
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', onStdout);
      stderr.on('data', onStderr);
    },
  };
  if (!standins?.kv && !standins?.nonces) return { ...shared, ...gateway };
  const workers = [gateway];
  gateway.wrappedBindings = {};
  if (standins.kv) {
    gateway.wrappedBindings.RECORDS = { scriptName: 'records-standin' };
    workers.push({ name: 'records-standin', modules: true, script: KV_STANDIN, kvNamespaces: { INNER: 'records' }, serviceBindings: { CTL: ctl } });
  }
  if (standins.nonces) {
    gateway.wrappedBindings.NONCES = { scriptName: 'nonces-standin' };
    workers.push({ name: 'nonces-standin', modules: true, script: NONCE_STANDIN, serviceBindings: { CTL: ctl } });
  }
  return { ...shared, workers };
}

/**
 * Start the Worker. `policy` is an object or a string (given as is to the POLICY binding);
 * pass `policy: undefined` with `omitPolicy: true` to leave the binding out. `records` maps
 * KV keys to values (objects are JSON-encoded, strings stored verbatim). `buildDir` runs another
 * build (e.g. `await testBuild()`); `standins` replaces RECORDS and/or NONCES by stand-ins this
 * process controls (`gw.kv`, `gw.nonces`; see the top of this file).
 */
export async function startGateway({ policy, records = {}, omitPolicy = false, brokenKv = false, brokenNonces = false, bindings: extraBindings = {}, buildDir, standins } = {}) {
  let output = '';
  const onStdout = (d) => {
    output += String(d);
    if (process.env.E2E_VERBOSE) process.stdout.write(`[workerd] ${d}`);
  };
  const onStderr = (d) => {
    output += String(d);
    if (process.env.E2E_VERBOSE) process.stderr.write(`[workerd] ${d}`);
  };
  const stand = makeStandins();
  const opts = { policy, hasPolicy: !omitPolicy, brokenKv, brokenNonces, extraBindings, buildDir, standins, ctl: stand.ctl, onStdout, onStderr };
  let mf = new Miniflare(miniflareOptions(opts));
  let url = await mf.ready;
  const kvNamespace = () => (standins?.kv ? mf.getKVNamespace('INNER', 'records-standin') : mf.getKVNamespace('RECORDS'));
  const gw = {
    get url() {
      return url;
    },
    get mf() {
      return mf;
    },
    /** The KV stand-in's counts and answers (with `standins.kv`). */
    kv: stand.kv,
    /** The nonce-store stand-in's claims and answers (with `standins.nonces`). */
    nonces: stand.nonces,
    /** Everything workerd printed (console.log / console.error of the Worker) so far. */
    output: () => output,
    clearOutput: () => {
      output = '';
    },
    /** Wait until the Worker's output matches every pattern (or time out, then return false). */
    async waitForOutput(patterns, ms = 3000) {
      const deadline = Date.now() + ms;
      for (;;) {
        if (patterns.every((p) => (p instanceof RegExp ? p.test(output) : output.includes(p)))) return true;
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /**
     * The trace entries (from the console) of the one request sent with trace id `traceId`
     * (see `traceparent()`; `gw.request` returns it as `res.traceId`), once its summary entry
     * (`interceptor: "request"`) is there.
     */
    async traceOf(traceId, ms = 3000) {
      const mine = () => traceEntries(output).filter((e) => e.trace_id === traceId);
      const deadline = Date.now() + ms;
      while (!mine().some((e) => e.interceptor === 'request')) {
        if (Date.now() > deadline) assert.fail(`no trace with trace_id ${traceId}; output: ${output.slice(-800)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return mine();
    },
    /** The entry of `interceptor` in the trace of `traceId` (see `traceOf`). */
    async entryOf(traceId, interceptor) {
      const entries = await gw.traceOf(traceId);
      const e = entries.find((x) => x.interceptor === interceptor);
      assert.ok(e, `no ${interceptor} entry in trace ${traceId}: ${JSON.stringify(entries)}`);
      return e;
    },
    async seed(recs) {
      const kv = await kvNamespace();
      await Promise.all(
        Object.entries(recs).map(([k, v]) => kv.put(k, typeof v === 'string' ? v : JSON.stringify(v))),
      );
    },
    async del(key) {
      const kv = await kvNamespace();
      await kv.delete(key);
    },
    /** Replace the policy (restarts the Worker; KV data in memory may be reset, seed again). */
    async setPolicy(newPolicy, { omit = false } = {}) {
      await mf.setOptions(miniflareOptions({ ...opts, policy: newPolicy, hasPolicy: !omit, brokenKv: false, brokenNonces: false }));
      url = await mf.ready;
    },
    /**
     * Send a request: `p` is a parts() object (or omitted). Unless `traced: false` or a
     * traceparent header is given, a fresh traceparent goes along: `res.traceId` finds this
     * request's own trace entries (`gw.traceOf`).
     */
    async request(basePath, { method = 'GET', p, headers = [], body, id, traced = true } = {}) {
      const built = buildRequest(basePath, p ?? parts());
      const hs = [...built.headers, ...headers];
      if (id) hs.push(['x-e2e-id', id]);
      let traceId;
      if (traced && !hs.some(([k]) => k.toLowerCase() === 'traceparent')) {
        const tp = traceparent();
        traceId = tp.traceId;
        hs.push(tp.header);
      }
      const res = await rawRequest(url, built.path, { method, headers: hs, body });
      res.traceId = traceId;
      return res;
    },
    async dispose() {
      await mf.dispose();
    },
  };
  if (Object.keys(records).length) await gw.seed(records);
  return gw;
}

// ---------------------------------------------------------------------------------------------
// Assertions

function describeRes(res) {
  return `status ${res.status}, content-type ${JSON.stringify(res.headers['content-type'])}, body ${JSON.stringify(
    res.text.slice(0, 300),
  )}`;
}

/** Assert a 401 with exactly `message` in the given format ('text' | 'json'). */
export function assertDenied(res, message, format = 'text') {
  assert.equal(res.status, 401, `expected 401 ${JSON.stringify(message)}; got ${describeRes(res)}`);
  if (format === 'json') {
    assert.match(String(res.headers['content-type']), /^application\/json\b/, `content-type; got ${describeRes(res)}`);
    let parsed;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      assert.fail(`body is not JSON: ${describeRes(res)}`);
    }
    assert.deepEqual(parsed, { status: 401, message });
    assert.equal(res.text, JSON.stringify({ status: 401, message }), 'JSON body bytes');
  } else {
    assert.equal(
      String(res.headers['content-type']).toLowerCase().replace(/\s+/g, ''),
      'text/plain;charset=utf-8',
      `content-type; got ${describeRes(res)}`,
    );
    assert.equal(res.text, message);
  }
}

/** Assert the request reached the origin (status 200 from it) and return the origin's record. */
export function assertPassed(res, origin, id) {
  assert.equal(res.status, 200, `expected the origin's 200; got ${describeRes(res)}`);
  const seen = origin.find(id);
  assert.equal(seen.length, 1, `origin should have received exactly one request with x-e2e-id ${id}, got ${seen.length}`);
  return seen[0];
}

/** The exact body of each answer the gateway writes itself (text/plain; charset=utf-8). */
export const FAULT_BODY = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * Assert a gateway fault: the status, its exact documented body as text/plain (never a detail),
 * and nothing from `secrets` anywhere in it.
 */
export function assertFault(res, status, secrets = []) {
  assert.equal(res.status, status, `expected ${status}; got ${describeRes(res)}`);
  assert.ok(FAULT_BODY[status], `${status} is not a status the gateway writes`);
  assert.equal(res.text, FAULT_BODY[status], `the ${status} body; got ${describeRes(res)}`);
  assert.equal(
    String(res.headers['content-type']).toLowerCase().replace(/\s+/g, ''),
    'text/plain;charset=utf-8',
    `content-type of the ${status}; got ${describeRes(res)}`,
  );
  for (const s of [...secrets, 'panicked', 'RuntimeError', 'serde', 'unreachable', '\n    at ']) {
    if (s === '' || s == null) continue;
    assert.ok(!res.text.includes(String(s)), `${status} body leaks ${JSON.stringify(String(s))}: ${describeRes(res)}`);
  }
}

/** Assert the origin never saw a request with this id (denials must not be forwarded). */
export function assertNotForwarded(origin, id) {
  assert.equal(origin.find(id).length, 0, `a denied request (x-e2e-id ${id}) reached the origin`);
}

/** Dispatch an expectation: 200 | 500 | {message, format}. */
export function checkOutcome(res, origin, id, expected) {
  if (expected === 200) return assertPassed(res, origin, id);
  if (typeof expected === 'number') {
    assertFault(res, expected);
    assertNotForwarded(origin, id);
    return null;
  }
  assertDenied(res, expected.message, expected.format ?? 'text');
  assertNotForwarded(origin, id);
  return null;
}

export { assert };
