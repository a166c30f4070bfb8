// scripts/sign-request.mjs against RFC 9421 Appendix B and RFC 9530, without the Worker:
// the signature bases are reproduced byte for byte, the deterministic signatures (Ed25519,
// HMAC) exactly, and the randomized ones (RSA-PSS, ECDSA) verify with node:crypto under the
// RFC public keys. (tests/sign_request_script.rs checks the script's output with the Rust
// verifier.)
import assert from 'node:assert/strict';
import { createPublicKey, constants, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { contentDigest, signatureBase, signBody, signRequest } from '../../scripts/sign-request.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.join(root, 'tests/fixtures/rfc9421');
const { keys } = JSON.parse(readFileSync(path.join(fixtures, 'keys.json'), 'utf8'));
const { cases } = JSON.parse(readFileSync(path.join(fixtures, 'vectors.json'), 'utf8'));

const headersOf = (req) => {
  const h = {};
  for (const [n, v] of req.headers) (h[n.toLowerCase()] ??= []).push(v);
  return h;
};

// Components and parameters of a Signature-Input value, in order (enough for the RFC cases).
function parseInput(input) {
  const m = /^([a-z0-9*_.-]+)=\((.*)\)(.*)$/.exec(input);
  const components = [...m[2].matchAll(/"([^"]+)"((?:;[a-z]+="[^"]*")*)/g)].map((x) => x[1] + x[2]);
  const params = [...m[3].matchAll(/;([a-z]+)=(?:"([^"]*)"|(\d+))/g)].map((x) => [x[1], x[2] ?? Number(x[3])]);
  return { label: m[1], components, params };
}

const secret = () => Buffer.from(keys['test-shared-secret'].secret_base64, 'base64');
const privatePem = (kid) => readFileSync(path.join(fixtures, `${kid}.pem`));

describe('sign-request.mjs reproduces RFC 9421 Appendix B', () => {
  for (const c of cases.filter((c) => c.request && c.valid && c.base)) {
    test(`${c.section} ${c.label}: signature base`, () => {
      const { components, params } = parseInput(c.signature_input);
      const { base } = signatureBase({ method: c.request.method, url: c.request.url, headers: headersOf(c.request), components, params });
      assert.equal(base, c.base);
    });
  }

  for (const section of ['B.2.5', 'B.2.6']) {
    test(`${section}: the deterministic signature, exactly`, () => {
      const c = cases.find((x) => x.section === section);
      const { label, components, params } = parseInput(c.signature_input);
      const key = c.alg === 'hmac-sha256' ? secret() : privatePem(c.key);
      const out = signRequest({
        method: c.request.method, url: c.request.url, headers: headersOf(c.request), alg: c.alg, key,
        components, label, algParam: false,
        created: params.find(([k]) => k === 'created')[1],
        keyid: params.find(([k]) => k === 'keyid')[1],
      });
      assert.equal(out['Signature-Input'], c.signature_input);
      assert.equal(out.Signature, c.signature);
      assert.equal(out['Content-Digest'], undefined);
    });
  }

  for (const section of ['B.2.1', 'B.2.2', 'B.2.3', 'B.3']) {
    test(`${section}: a fresh randomized signature verifies under the RFC public key`, () => {
      const c = cases.find((x) => x.section === section);
      const { label, components, params } = parseInput(c.signature_input);
      const get = (k) => params.find(([n]) => n === k)?.[1];
      const out = signRequest({
        method: c.request.method, url: c.request.url, headers: headersOf(c.request), alg: c.alg,
        key: privatePem(c.key), components, label, algParam: false,
        created: get('created'), keyid: get('keyid'), nonce: get('nonce'), tag: get('tag'),
      });
      assert.equal(out['Signature-Input'], c.signature_input);
      assert.notEqual(out.Signature, c.signature); // randomized
      const sig = Buffer.from(out.Signature.slice(label.length + 2, -1), 'base64');
      const pub = createPublicKey(keys[c.key].public_spki_pem);
      const data = Buffer.from(c.base);
      const ok = c.alg === 'rsa-pss-sha512'
        ? verify('sha512', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, sig)
        : verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
      assert.ok(ok);
    });
  }

  test('RFC 9530 sample digests', () => {
    assert.equal(contentDigest('{"hello": "world"}', 'sha-256'), 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
    assert.equal(
      contentDigest('{"hello": "world"}', 'sha-512'),
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    );
  });

  test('a covered body gets its Content-Digest', () => {
    const out = signRequest({
      method: 'POST', url: 'https://api.example.com/orders', headers: { 'content-type': 'application/json' },
      body: '{"hello": "world"}', alg: 'ed25519', keyid: 'k1', key: privatePem('test-key-ed25519'), created: 1700000000,
    });
    assert.equal(out['Content-Digest'], 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
    assert.match(out['Signature-Input'], /^sig1=\("@method" "@target-uri" "content-digest"\);created=1700000000;keyid="k1";alg="ed25519"$/);
  });

  test('body signatures: MD5 refused, HMAC known answer', () => {
    assert.throws(() => signBody({ algorithm: 'MD5withRSA', key: 'x', body: 'b' }), /refused/);
    // HMAC-SHA256 of "" with an empty key (a well-known value).
    assert.equal(signBody({ algorithm: 'HmacSHA256', key: '', body: '' }), 'thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0=');
  });
});
