#!/usr/bin/env python3
"""Writes the starting inputs of each fuzz target into <out>/<target>/ (default fuzz/seeds).

The campaigns (scripts/fuzz.sh) start from these plus the committed corpus; what they find is
minimized back into fuzz/corpus/. Inputs follow the field layouts of fuzz/src/lib.rs.
"""
import base64
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "seeds")


def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


seeds = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, []).append(data)


# locate: name \n header value \n URL \n Cookie header
for name, header, url, cookie in [
    ("access_token", "abc", "/orders/1", ""),
    ("access_token", " abc ", "/orders?access_token=x&b=1", "access_token=c; b=2"),
    ("client_id", "", "/?client_id=a%2Bb+c&client_id=d", "client_id=1; client_id=2"),
    ("t", "", "?x", "t=; a=1"),
    ("tok", "", "/p?tok=%zz&tok", "a=1;  tok=xyz; tok"),
    ("tok", "", ":8080#frag?tok=1", "=; ;tok=a=b"),
    ("a b", "", "/x?a+b=1&a%20b=2", "a b=3"),
    ("\u00e9", "\u00e9", "/x?%C3%A9=1", "\u00e9=2"),
]:
    add("locate", f"{name}\n{header}\n{url}\n{cookie}")

# basic: an Authorization value (and a body signature value)
for v in [
    "Basic " + base64.b64encode(b"client:secret").decode(),
    "basic " + base64.b64encode(b"client:s:e:c").decode().rstrip("="),
    "Basic  Z29vZDpzM2NyZXQ=",
    "Basic !!!",
    "Basic",
    "Basic " + base64.b64encode(b":secret").decode(),
    "Basic " + base64.b64encode("\u00e9:\u00e8".encode()).decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    base64.b64encode(b"\x00" * 256).decode(),
    "Bearer abc",
]:
    add("basic", v)

# jwt, mode 0 (even): a token; mode 1 (odd): built from chosen numbers
def hs(header, claims, key=b"secret"):
    import hmac

    h = b64u(json.dumps(header, separators=(",", ":")))
    p = b64u(json.dumps(claims, separators=(",", ":")))
    sig = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64u(sig)}"


for header, claims in [
    ({"alg": "HS256", "typ": "JWT"}, {"iss": "i", "sub": "s", "exp": 1800000600, "iat": 1800000000}),
    ({"alg": "HS256", "kid": "k1"}, {"iss": "i", "exp": 1800000600, "nbf": -8334601228800}),
    ({"alg": "EdDSA", "kid": "k"}, {"iss": "i", "aud": ["api", "x"], "scope": "a b"}),
    ({"alg": "RS256", "crit": ["b64"], "b64": False}, {"iss": "i", "exp": 1e300}),
    ({"alg": "ES256", "cty": "JWT"}, {"iss": "i", "nbf": None, "exp": "soon"}),
    ({"alg": "none"}, {"aud": 3}),
    ({"kid": 5}, {}),
]:
    add("jwt", b"\x00" + hs(header, claims).encode())
for t in ["a.b.c", "..", "e30.e30.", "e30.e30.e30.e30", "eyJhbGciOiJIUzI1NiJ9.W10.AAAA"]:
    add("jwt", b"\x00" + t.encode())


def structured(sel, raws, now, leeway, life, iss=b"iss"):
    d = bytes([1]) + bytes(sel)
    for r in raws:
        d += struct.pack("<q", r)
    d += struct.pack("<Q", now) + struct.pack("<Q", leeway) + struct.pack("<Q", life)
    return d + iss


add("jwt", structured([8, 1, 0], [0, 0, 0], 0, 60, 0))
add("jwt", structured([40, 50, 60], [1800000600, -1, 1 << 62], 0, 86400, 3))
add("jwt", structured([13, 13, 13], [0, 0, 0], 0x100 | 5, 60, 7))  # nbf at chrono's minimum
add("jwt", structured([19, 20, 21], [0, 0, 0], 3, 10**9, 11))
add("jwt", structured([60, 61, 70], [0x7FF0000000000000, -0x10, 5], 4, 1, 1))

# sfv: a field value
for v in [
    'sig1=("@method" "@authority" "content-digest");created=1618884473;keyid="test-key-rsa"',
    'sig1=:YmFzZTY0:, sig2=:AAAA:',
    "a=1, b;x=?0, c=(1 2 3);p=4.5, d=\"q\\\"s\", e=tok/en:x, f=-999999999999999",
    "1.001, -0.5;a, ?1, *tok, (\"a\";b=:AA==:)",
    "a=1, a=2;x;x=3, b",
    "(  1   2  )  ,  3",
    "9999999999999999",
    "1.0000",
    "a=(),b=()",
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    "\"\\\\\"",
]:
    add("sfv", v)

# httpsig: Signature-Input \n Signature \n method \n URL \n header lines
vectors = json.load(open(os.path.join(REPO, "tests/fixtures/rfc9421/vectors.json")))
for c in vectors["cases"]:
    r = c.get("request")
    if not r:
        continue
    hl = "\n".join(f"{k}: {v}" for k, v in r["headers"])
    add("httpsig", f'{c["signature_input"]}\n{c["signature"]}\n{r["method"]}\n{r["url"]}\n{hl}')
add(
    "httpsig",
    'sig1=("@query-param";name="a" "x-dict";key="k" "x-dict";sf "@path" "@request-target" '
    '"@status" "x-h";bs "x-h";req);created=-9223372036854775808;expires=999999999999999;alg="ed25519"\n'
    "sig1=:AAAA:\nGET\nhttps://h/p/%2e%2e/q?a=%ff&a=1\nx-dict: k=1, j=(a b)\nx-h: v, w",
)

# digest: Content-Digest \n body
add("digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n{\"hello\": \"world\"}")
add("digest", "sha-512=:AAAA:, sha-256=:AAAA:, md5=:AAAA:\nbody")
add("digest", "sha-256=:AAAA:, sha-256=:AAAA:\n")
add("digest", "sha-256=?1, unixsum=3\n\x00\xff")
add("digest", "")

# gentoken: token \n bound value
for t in [
    "v1.1800000000000.AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nbound",
    "v1.18446744073709551615.AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    "v1.+1.AAAAAAAAAAA.AA\n",
    "v2.1.a.b\nx",
    "v1...\n",
    "v1.0000000000000000001.AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    "x" * 300 + "\n",
]:
    add("gentoken", t)

# traceparent
for t in [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-holds",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
    "  00-0af7651916cd43dd8448eb211c80319c-0000000000000000-00  ",
    "",
]:
    add("traceparent", t)

# records: byte 0 chooses app / token / jti / jwt-issuer / other
keys_json = json.load(open(os.path.join(REPO, "tests/fixtures/rfc9421/keys.json")))
pub_pem = open(os.path.join(REPO, "tests/fixtures/rfc9421/test-key-rsa.pub.pem")).read()
apps = [
    {"name": "A", "status": "APPROVED", "access": [{"api": "orders"}], "client_secret_sha256": "00" * 32},
    {"name": "A", "status": "PENDING", "expires_at": "2027-01-31T20:59:59-03:00", "access": [{"api": "orders", "resources": ["list"]}]},
    {"name": "A", "status": "APPROVED", "expires_at": 9223372036854775807, "signature_keys": [{"kid": "k", "alg": "rsa-v1_5-sha256", "pem": pub_pem}], "hmac_secrets": [{"kid": "h", "secret_b64": "c2VjcmV0"}]},
    {"name": "A", "status": "REVOKED"},
    {"name": "A", "status": "APPROVED", "signature_keys": [{"kid": "j", "alg": "ed25519", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}]},
]
for a in apps:
    add("records", b"\x00" + json.dumps(a).encode())
for t in [
    {"client_id": "c", "expires_at": "2030-01-01T00:00:00Z", "scope": [{"api": "orders"}]},
    {"client_id": "c", "expires_at": 1.5},
    {"client_id": 5},
]:
    add("records", b"\x01" + json.dumps(t).encode())
for j in ['{"revoked": true, "expires_at": 1800000000}', '{"revoked": 1}', '{"expires_at": "9999-12-31T23:59:59+23:59"}', "[]"]:
    add("records", b"\x02" + j.encode())
jwks = {"keys": [dict(k["public_jwk"], kid=name) for name, k in keys_json["keys"].items() if "public_jwk" in k]}
add("records", b"\x03" + json.dumps(jwks).encode())
add("records", b"\x03" + b'{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "x"}, {"kty": "EC", "crv": "P-256"}, 5]}')
add("records", b"\x04{}")
add("records", b"\x00" + pub_pem.encode())
add("records", b"\x00" + b"2027-01-31T23:59:59Z")

# rsa: 0 SPKI DER | 1 PKCS#1 DER | 2 n length (2 bytes) n e (8 bytes) signature
def pem_der(name):
    with open(os.path.join(REPO, "tests/fixtures/bodysig", name)) as f:
        return base64.b64decode("".join(l for l in f.read().splitlines() if not l.startswith("-----")))


for name in ["rsa-2048.pub.pem", "other-rsa-2048.pub.pem"]:
    spki = pem_der(name)
    add("rsa", b"\x00" + spki)
    add("rsa", b"\x00" + spki[:-1])
    add("rsa", b"\x00" + spki + b"\x00")
    # The PKCS#1 key inside the BIT STRING (0x03 0x82 <len> 0x00 <key>).
    at = spki.index(b"\x03\x82") + 5
    pkcs1 = spki[at:]
    add("rsa", b"\x01" + pkcs1)
    add("rsa", b"\x01" + pkcs1[:-3])
    n = pkcs1[8:8 + 257].lstrip(b"\x00")
    for e in [65537, 3, 2**33 - 1, 2**33 + 1, 65536]:
        for sig in [b"\x00" * 255 + b"\x02", b"\xff" * 256, n, b"\x01" * 16]:
            add("rsa", b"\x02" + struct.pack(">H", len(n)) + n + struct.pack(">Q", e) + sig)
add("rsa", b"\x01" + pem_der("rsa-2048.pkcs1.pub.pem"))
for n, e in [(b"\xc5", 3), (b"\x00\xc5", 5), (b"\x03", 3), (b"\xff" * 513, 3), (b"\xff" * 512, 65537)]:
    add("rsa", b"\x02" + struct.pack(">H", len(n)) + n + struct.pack(">Q", e) + b"\x42" * len(n))
add("rsa", b"\x00\x30\x81\x05\x02\x01\x05\x02\x01\x03")
add("rsa", b"\x01\x30\x06\x02\x01\x05\x02\x01\x03")

for target, items in seeds.items():
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for data in items:
        with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)
    print(f"{target}: {len(items)} seeds", file=sys.stderr)
