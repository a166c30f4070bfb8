// The CSRF / Time Token format (docs/interceptors/csrf-and-time-token.md, "Token format and the secret"), written again in JavaScript from the
// documentation: the tests check that the gateway's tokens are exactly these bytes, and forge
// tokens (expired, made under another secret, for another element) that the gateway must judge.
import { createHmac } from 'node:crypto';

export const SECRET = 'e2e-token-secret-0123456789abcdef-current';
export const PREVIOUS = 'e2e-token-secret-0123456789abcdef-previous';
export const OTHER = 'e2e-token-secret-0123456789abcdef-unrelated';

function lp(v) {
  const b = Buffer.from(v);
  const l = Buffer.alloc(4);
  l.writeUInt32BE(b.length);
  return Buffer.concat([l, b]);
}

/**
 * A token: kind 'csrf' | 'time', api name, place 'HEADER' | 'COOKIE', element name, time in ms
 * (CSRF: expiry; Time Token: issue time), bound values (null = absent), in the interceptor's
 * order (CSRF: [client id, session]; Time Token: [bound value]).
 */
export function makeToken(secret, { kind, api, place, name, time, bound }) {
  const t = createHmac('sha256', secret);
  t.update('edge-interceptors/v1/bind\0');
  t.update(lp(kind));
  for (const v of bound) {
    if (v == null) t.update(Buffer.from([0]));
    else {
      t.update(Buffer.from([1]));
      t.update(lp(v));
    }
  }
  const tag = t.digest().subarray(0, 8);
  const m = createHmac('sha256', secret);
  m.update('edge-interceptors/v1/mac\0');
  for (const f of [kind, api, place, name]) m.update(lp(f));
  const tb = Buffer.alloc(8);
  tb.writeBigUInt64BE(BigInt(time));
  m.update(tb);
  m.update(lp(tag));
  return `v1.${time}.${tag.toString('base64url')}.${m.digest().toString('base64url')}`;
}

/** A session or bind value as the gateway binds it: `<length of source>:<source><value>`. */
export const bound = (source, value) => `${Buffer.byteLength(source)}:${source}${value}`;

/** The time field of a token. */
export const tokenTime = (token) => Number(token.split('.')[1]);

/** Every trace entry the Worker wrote so far (each console line is a JSON array). */
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

/** The trace entry of `interceptor` for the request to `path` (waits for the console). */
export async function entryFor(gw, path, interceptor) {
  const ok = await gw.waitForOutput([`"path":"${path}"`], 3000);
  if (!ok) throw new Error(`no trace for ${path}; output: ${gw.output().slice(-800)}`);
  const e = traceEntries(gw.output()).find((x) => x.path === path && x.interceptor === interceptor);
  if (!e) throw new Error(`no ${interceptor} entry for ${path}: ${JSON.stringify(traceEntries(gw.output()).filter((x) => x.path === path))}`);
  return e;
}

/** All Set-Cookie lines of a response (node:http keeps them as an array). */
export const setCookies = (res) => res.headers['set-cookie'] ?? [];

/** The value of cookie `name` among a response's Set-Cookie lines. */
export function cookieFrom(res, name) {
  for (const line of setCookies(res)) {
    const first = line.split(';')[0];
    const i = first.indexOf('=');
    if (first.slice(0, i) === name) return first.slice(i + 1);
  }
  return undefined;
}
