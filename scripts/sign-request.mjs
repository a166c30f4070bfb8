#!/usr/bin/env node
// Client-side signing examples for the Digital Signature interceptor (Node >= 20, node:crypto
// only). An ES module and a CLI:
//
//   Sensedia body signature (base64 of the signature over the raw body bytes):
//     node scripts/sign-request.mjs body --alg SHA256withRSA --key key.pem --body-file f
//       [--header Signature] [--curl | --send --url URL [--method M] [-H 'Name: value']...]
//     (HmacSHA256: --key is a file holding the secret, or --secret TEXT)
//
//   RFC 9421 HTTP Message Signature (+ RFC 9530 Content-Digest when the body is covered):
//     node scripts/sign-request.mjs rfc9421 --alg ed25519 --keyid k1 --key key.pem \
//       --method POST --url https://api.example.com/orders?x=1 [--body-file f] \
//       [-H 'Content-Type: application/json']... [--components @method,@authority,@path,...] \
//       [--label sig1] [--nonce N] [--created S] [--expires S] [--tag T] [--no-alg-param] \
//       [--digest sha-256|sha-512] [--no-nonce] [--curl | --send]
//     (a random nonce is added unless --nonce N or --no-nonce is given)
//     (hmac-sha256: --key is a file holding the base64 secret, or --secret-base64 B64)
//
// It prints the headers to add (or curl arguments with --curl); with --send it sends the
// request itself (Node's fetch) with those headers and the -H ones, and prints the answer. The key formats are whatever
// node:crypto reads: PEM (PKCS#8, SEC1, PKCS#1) or a JWK JSON file.

import { createHash, createHmac, createPrivateKey, constants, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Java names of the Sensedia body-signature algorithms this example signs with. */
export const BODY_ALGORITHMS = {
  SHA1withRSA: 'sha1',
  SHA224withRSA: 'sha224',
  SHA256withRSA: 'sha256',
  SHA384withRSA: 'sha384',
  SHA512withRSA: 'sha512',
  HmacSHA256: 'hmac-sha256',
};

/** RFC 9421 algorithm names. */
export const RFC9421_ALGORITHMS = [
  'rsa-pss-sha512',
  'rsa-v1_5-sha256',
  'hmac-sha256',
  'ecdsa-p256-sha256',
  'ed25519',
];

const bytes = (v) => (v === undefined || v === null ? Buffer.alloc(0) : Buffer.isBuffer(v) ? v : Buffer.from(v));

function privateKey(key) {
  if (key && typeof key === 'object' && key.type === 'private') return key; // a KeyObject
  if (key && typeof key === 'object' && !Buffer.isBuffer(key)) return createPrivateKey({ key, format: 'jwk' });
  const text = bytes(key).toString('utf8');
  if (text.trimStart().startsWith('{')) return createPrivateKey({ key: JSON.parse(text), format: 'jwk' });
  return createPrivateKey(text);
}

/**
 * Sensedia body signature: base64 (standard alphabet, padded) of the signature over the raw
 * body bytes. `key`: a private key (PEM, JWK or KeyObject) for the RSA algorithms, the secret
 * (string or Buffer) for HmacSHA256.
 */
export function signBody({ algorithm, key, body }) {
  const hash = BODY_ALGORITHMS[algorithm];
  if (!hash) {
    if (algorithm === 'MD2withRSA' || algorithm === 'MD5withRSA') {
      throw new Error(`${algorithm} is refused by the interceptor (broken hash); use SHA256withRSA or stronger`);
    }
    throw new Error(`unknown algorithm ${algorithm}; expected one of ${Object.keys(BODY_ALGORITHMS).join(', ')}`);
  }
  if (hash === 'hmac-sha256') return createHmac('sha256', bytes(key)).update(bytes(body)).digest('base64');
  return sign(hash, bytes(body), privateKey(key)).toString('base64'); // RSASSA-PKCS1-v1_5
}

/** RFC 9530 Content-Digest field value for `body` (`sha-256` or `sha-512`). */
export function contentDigest(body, alg = 'sha-256') {
  const h = { 'sha-256': 'sha256', 'sha-512': 'sha512' }[alg];
  if (!h) throw new Error(`unsupported digest ${alg}`);
  return `${alg}=:${createHash(h).update(bytes(body)).digest('base64')}:`;
}

function sfString(s) {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new Error(`not a structured-field string: ${JSON.stringify(s)}`);
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// A component given as `@query-param;name="Pet"` or `content-type`: its name and the
// (canonical) parameter text that follows it.
function splitComponent(c) {
  const i = c.indexOf(';');
  const name = i < 0 ? c : c.slice(0, i);
  const params = i < 0 ? '' : c.slice(i);
  if (name !== name.toLowerCase()) throw new Error(`component names are lowercase: ${name}`);
  return { name, params, id: sfString(name) + params };
}

function header(headers, name) {
  const values = [];
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() !== name) continue;
    for (const one of Array.isArray(v) ? v : [v]) values.push(String(one).trim());
  }
  return values.length ? values.join(', ') : undefined;
}

// "percent-encode after encoding" with the application/x-www-form-urlencoded set, space as %20.
const formEncode = (s) =>
  Array.from(Buffer.from(s, 'utf8'), (b) =>
    /[A-Za-z0-9*\-._]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');

function componentValue({ method, url, headers }, { name, params, id }) {
  const u = new URL(url);
  const query = u.search; // '' or '?...'
  if (name.startsWith('@')) {
    const nameParam = /^;name=("(?:[^"\\]|\\.)*")$/.exec(params);
    if (params && !(name === '@query-param' && nameParam)) throw new Error(`unsupported parameters on ${id}`);
    switch (name) {
      case '@method': return method;
      case '@target-uri': return u.href.split('#')[0];
      case '@authority': return u.host; // WHATWG URL: lowercase host, default port dropped
      case '@scheme': return u.protocol.slice(0, -1);
      case '@request-target': return u.pathname + query;
      case '@path': return u.pathname;
      case '@query': return query === '' ? '?' : query;
      case '@query-param': {
        const wanted = JSON.parse(nameParam[1]);
        const hits = [...new URLSearchParams(query)].filter(([k]) => formEncode(k) === wanted);
        if (hits.length !== 1) throw new Error(`${id}: ${hits.length ? 'repeated' : 'absent'} query parameter`);
        return formEncode(hits[0][1]);
      }
      default: throw new Error(`unsupported derived component ${name}`);
    }
  }
  if (params) throw new Error(`field parameters are not supported by this example: ${id}`);
  const v = header(headers, name);
  if (v === undefined) throw new Error(`covered field ${name} is not in the request`);
  return v;
}

/**
 * The RFC 9421 signature base and the `@signature-params` value.
 * `params` is an ordered list of [name, value] (numbers are Integers, strings are Strings).
 */
export function signatureBase({ method, url, headers, components, params }) {
  const comps = components.map(splitComponent);
  const lines = comps.map((c) => `${c.id}: ${componentValue({ method, url, headers }, c)}`);
  const sigParams =
    `(${comps.map((c) => c.id).join(' ')})` +
    params.map(([k, v]) => `;${k}=${typeof v === 'number' ? String(Math.trunc(v)) : sfString(v)}`).join('');
  lines.push(`"@signature-params": ${sigParams}`);
  return { base: lines.join('\n'), signatureParams: sigParams };
}

function signBase(alg, key, base) {
  const data = Buffer.from(base, 'ascii');
  switch (alg) {
    case 'hmac-sha256': return createHmac('sha256', bytes(key)).update(data).digest();
    case 'ed25519': return sign(null, data, privateKey(key));
    case 'ecdsa-p256-sha256': return sign('sha256', data, { key: privateKey(key), dsaEncoding: 'ieee-p1363' });
    case 'rsa-pss-sha512':
      return sign('sha512', data, { key: privateKey(key), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 });
    case 'rsa-v1_5-sha256': return sign('sha256', data, privateKey(key));
    default: throw new Error(`unknown algorithm ${alg}; expected one of ${RFC9421_ALGORITHMS.join(', ')}`);
  }
}

/**
 * Signs a request (RFC 9421). Returns the headers to add: `Signature-Input`, `Signature`, and
 * `Content-Digest` when `content-digest` is covered, a body is given and `headers` has none.
 *
 * components: default `@method @target-uri` (what the interceptor requires by default), plus
 * `content-digest` with a body.
 * created: Unix seconds (default now; `null` leaves it out). `alg` is put in the parameters
 * unless `algParam: false`. Parameter order: created, expires, keyid, nonce, alg, tag.
 * key: private key (PEM, JWK or KeyObject); for hmac-sha256 the secret bytes (Buffer/string).
 */
export function signRequest({
  method, url, headers = {}, body, alg, keyid, key, components, nonce, created, expires, tag,
  label = 'sig1', algParam = true, digest = 'sha-256',
}) {
  const hasBody = body !== undefined && body !== null && bytes(body).length > 0;
  // The interceptor's default requirement (@method, @target-uri), plus the body's digest.
  components ??= ['@method', '@target-uri', ...(hasBody ? ['content-digest'] : [])];
  const added = {};
  let all = { ...headers };
  if (components.includes('content-digest') && header(headers, 'content-digest') === undefined) {
    if (body === undefined || body === null) throw new Error('content-digest is covered but there is no body');
    added['Content-Digest'] = contentDigest(body, digest);
    all = { ...all, 'content-digest': added['Content-Digest'] };
  }
  if (created === undefined) created = Math.floor(Date.now() / 1000);
  const params = [];
  if (created !== null && created !== false) params.push(['created', created]);
  if (expires !== undefined && expires !== null) params.push(['expires', expires]);
  if (keyid !== undefined && keyid !== null) params.push(['keyid', keyid]);
  if (nonce !== undefined && nonce !== null) params.push(['nonce', nonce]);
  if (algParam) params.push(['alg', alg]);
  if (tag !== undefined && tag !== null) params.push(['tag', tag]);
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(label)) throw new Error(`bad label ${label}`);
  const { base, signatureParams } = signatureBase({ method, url, headers: all, components, params });
  const sig = signBase(alg, key, base).toString('base64');
  return { ...added, 'Signature-Input': `${label}=${signatureParams}`, Signature: `${label}=:${sig}:` };
}

// ---- CLI ----

function parseArgs(argv) {
  const opts = { H: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-H' || a === '--header-line') opts.H.push(argv[++i]);
    else if (a === '--curl' || a === '--no-alg-param' || a === '--send' || a === '--no-nonce') opts[a.slice(2)] = true;
    else if (a.startsWith('--')) {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      opts[a.slice(2)] = argv[++i];
    } else throw new Error(`unexpected argument ${a}`);
  }
  return opts;
}

function print(headers, curl) {
  for (const [k, v] of Object.entries(headers)) {
    console.log(curl ? `-H ${JSON.stringify(`${k}: ${v}`)}` : `${k}: ${v}`);
  }
}

/** --send: sends the request with the signature headers (and the -H headers) and prints the
 * answer's status line and body. */
async function send(o, body, signed, headerLines) {
  const headers = new Headers();
  for (const line of headerLines) {
    const i = line.indexOf(':');
    headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  for (const [k, v] of Object.entries(signed)) headers.set(k, v);
  const method = o.method ?? (body ? 'POST' : 'GET');
  const res = await fetch(need(o, 'url'), { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body });
  console.log(`HTTP ${res.status} ${res.statusText}`);
  console.log(await res.text());
}

async function cli(argv) {
  const [mode, ...rest] = argv;
  const o = parseArgs(rest);
  const body = o['body-file'] !== undefined ? readFileSync(o['body-file']) : o.body !== undefined ? Buffer.from(o.body) : undefined;
  if (mode === 'body') {
    const isHmac = o.alg === 'HmacSHA256';
    const key = isHmac && o.secret !== undefined ? o.secret : readFileSync(need(o, 'key'));
    const sig = signBody({ algorithm: need(o, 'alg'), key, body: body ?? Buffer.alloc(0) });
    const out = { [o.header ?? 'Signature']: sig };
    if (o.send) await send(o, body, out, o.H);
    else print(out, o.curl);
  } else if (mode === 'rfc9421') {
    const alg = need(o, 'alg');
    let key;
    if (alg === 'hmac-sha256') {
      const b64 = o['secret-base64'] ?? readFileSync(need(o, 'key'), 'utf8').trim();
      key = Buffer.from(b64, 'base64');
    } else key = readFileSync(need(o, 'key'));
    const headers = {};
    for (const line of o.H) {
      const i = line.indexOf(':');
      if (i < 1) throw new Error(`bad header ${line}`);
      const name = line.slice(0, i).trim().toLowerCase();
      headers[name] = [...(headers[name] ?? []), line.slice(i + 1).trim()];
    }
    const num = (v) => (v === undefined ? undefined : Number.parseInt(v, 10));
    const out = signRequest({
      method: o.method ?? 'GET', url: need(o, 'url'), headers, body, alg, keyid: o.keyid, key,
      components: o.components?.split(',').map((s) => s.trim()).filter(Boolean),
      // A fresh random nonce unless one is given (or --no-nonce).
      nonce: o['no-nonce'] ? undefined : (o.nonce ?? randomBytes(16).toString('base64url')),
      created: num(o.created), expires: num(o.expires), tag: o.tag,
      label: o.label ?? 'sig1', algParam: !o['no-alg-param'], digest: o.digest ?? 'sha-256',
    });
    if (o.send) await send(o, body, out, o.H);
    else print(out, o.curl);
  } else {
    throw new Error('usage: sign-request.mjs body|rfc9421 --alg ALG --key FILE ... (see the header of this file)');
  }
}

function need(o, k) {
  if (o[k] === undefined) throw new Error(`--${k} is required`);
  return o[k];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).catch((e) => {
    console.error(`sign-request: ${e.message}`);
    process.exit(2);
  });
}
