#!/usr/bin/env python3
"""A standard OAuth 2.0 client no one here wrote (Authlib 1.9.10 over requests) against the
gateway's authorization server; run by tests/e2e/authz_clients.test.mjs.

    python3 tests/e2e/authz_python_client.py '<config JSON>'

The configuration (JSON, first argument) names the gateway, the RFC-mode server (its RFC 8414
metadata is read, and the endpoints come from there), the Sensedia-mode server, the apps and the
APIs to call. Every step checks what it got and prints one line `ok <step>`; the first failed
check prints `FAIL <step>: <why>` and exits 1. Tokens, codes and secrets are never printed: only
their SHA-256 fingerprints (as the gateway's trace does).
"""

import base64
import hashlib
import json
import sys
import urllib.parse

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

CFG = json.loads(sys.argv[1])
GW = CFG["gateway"].rstrip("/")
TIMEOUT = 10
STEP = "start"
PASSED = 0


def fp(secret):
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def check(cond, why):
    if not cond:
        print(f"FAIL {STEP}: {why}", flush=True)
        sys.exit(1)


def step(name):
    global STEP
    STEP = name


def done():
    global PASSED
    PASSED += 1
    print(f"ok {STEP}", flush=True)


def session(app, **kw):
    """An Authlib session for `app` (client_secret_basic unless the app is public)."""
    if app.get("client_secret"):
        kw.setdefault("token_endpoint_auth_method", "client_secret_basic")
        kw.setdefault("revocation_endpoint_auth_method", "client_secret_basic")
        return OAuth2Session(app["client_id"], app["client_secret"], default_timeout=TIMEOUT, **kw)
    kw.setdefault("token_endpoint_auth_method", "none")
    kw.setdefault("revocation_endpoint_auth_method", "none")
    return OAuth2Session(app["client_id"], default_timeout=TIMEOUT, **kw)


def expect_oauth_error(fn, code):
    try:
        fn()
    except OAuthError as e:
        check(e.error == code, f"expected error {code!r}, got {e.error!r} ({e.description!r})")
        return
    check(False, f"expected error {code!r}, the call succeeded")


def call_bearer(access_token, expect):
    """Calls the API guarded by Access Token Validation in Bearer mode (RFC 6750)."""
    r = requests.get(GW + CFG["bearer_api"], headers={"Authorization": f"Bearer {access_token}"},
                     timeout=TIMEOUT)
    check(r.status_code == expect,
          f"GET {CFG['bearer_api']} with Bearer {fp(access_token)}: {r.status_code} {r.text[:200]!r}")
    return r


def grant_code(app, redirect_uri, state, challenge, extra_info=None):
    """The customer's login backend asks for a code (Sensedia's grant-code), vouching with the
    provision key; returns the redirect URI the browser would be sent to."""
    body = {"client_id": app["client_id"], "redirect_uri": redirect_uri, "state": state,
            "code_challenge": challenge, "code_challenge_method": "S256"}
    if extra_info is not None:
        body["extra_info"] = extra_info
    headers = {CFG["provision"]["header"]: CFG["provision"]["key"]}
    r = requests.post(GW + CFG["rfc_base"] + "/grant-code", json=body, headers=headers, timeout=TIMEOUT)
    check(r.status_code in (200, 201), f"grant-code: {r.status_code} {r.text[:200]!r}")
    check(r.headers.get("content-type", "").startswith("application/json"),
          f"grant-code content-type {r.headers.get('content-type')!r}")
    out = r.json()
    check(set(out) == {"redirect_uri"}, f"grant-code answer keys {sorted(out)}")
    return out["redirect_uri"]


# ---------------------------------------------------------------------------------------------
step("metadata (RFC 8414)")
r = requests.get(GW + CFG["metadata_path"], timeout=TIMEOUT)
check(r.status_code == 200, f"{CFG['metadata_path']}: {r.status_code} {r.text[:200]!r}")
META = r.json()
check(META.get("issuer") == GW + CFG["rfc_base"], f"issuer {META.get('issuer')!r}")
for k in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
    check(isinstance(META.get(k), str) and META[k].startswith(GW + CFG["rfc_base"]), f"{k} {META.get(k)!r}")
check("S256" in META.get("code_challenge_methods_supported", []), "S256 not advertised")
check("plain" not in META.get("code_challenge_methods_supported", []), "plain advertised")
for g in ("client_credentials", "authorization_code", "refresh_token"):
    check(g in META.get("grant_types_supported", []), f"grant {g} not advertised")
for m in ("client_secret_basic", "client_secret_post", "none"):
    check(m in META.get("token_endpoint_auth_methods_supported", []), f"auth method {m} not advertised")
TOKEN_URL = META["token_endpoint"]
REVOKE_URL = META["revocation_endpoint"]
INTROSPECT_URL = META["introspection_endpoint"]
done()

CONF = CFG["confidential"]
PUB = CFG["public"]

# ---------------------------------------------------------------------------------------------
step("client credentials (client_secret_basic)")
s = session(CONF)
tok = s.fetch_token(TOKEN_URL, grant_type="client_credentials")
check(tok.get("token_type", "").lower() == "bearer", f"token_type {tok.get('token_type')!r}")
check(tok.get("expires_in") == CFG["lifetime"], f"expires_in {tok.get('expires_in')!r}")
check("refresh_token" not in tok, "a refresh token for client credentials")
check(len(tok["access_token"]) == 36, "not a UUID-shaped token")
# Authlib attaches the token itself (Authorization: Bearer) when it calls an API.
r = s.get(GW + CFG["bearer_api"], timeout=TIMEOUT)
check(r.status_code == 200, f"API call with the session: {r.status_code} {r.text[:200]!r}")
check(r.json().get("ok") is True, f"origin answer {r.text[:200]!r}")
CC_TOKEN = tok["access_token"]
done()

step("client credentials (client_secret_post)")
s2 = session(CONF, token_endpoint_auth_method="client_secret_post")
tok2 = s2.fetch_token(TOKEN_URL, grant_type="client_credentials")
check(tok2["access_token"] != CC_TOKEN, "the same token twice")
call_bearer(tok2["access_token"], 200)
done()

step("client credentials with a wrong secret: invalid_client")
bad = session({"client_id": CONF["client_id"], "client_secret": CONF["client_secret"] + "x"})
expect_oauth_error(lambda: bad.fetch_token(TOKEN_URL, grant_type="client_credentials"), "invalid_client")
done()

# ---------------------------------------------------------------------------------------------
step("authorization code with PKCE (confidential client)")
s = session(CONF, redirect_uri=CONF["redirect_uri"], code_challenge_method="S256")
verifier = generate_token(64)
# Authlib builds the authorization request; the customer's login page would receive it. Here the
# login backend takes its parameters to grant-code, as a Sensedia login backend does.
auth_url, state = s.create_authorization_url(GW + "/login", code_verifier=verifier)
q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
check(q["code_challenge"] == create_s256_code_challenge(verifier), "Authlib's challenge")
redirect = grant_code(CONF, q["redirect_uri"], q["state"], q["code_challenge"],
                      extra_info={"user": "py-alice"})
check(redirect.startswith(CONF["redirect_uri"] + "?"), "redirect to another URI")
# Authlib checks the state it sent came back, then exchanges the code with the verifier.
tok = s.fetch_token(TOKEN_URL, authorization_response=redirect, code_verifier=verifier, state=state)
check(tok.get("token_type", "").lower() == "bearer", f"token_type {tok.get('token_type')!r}")
check(isinstance(tok.get("refresh_token"), str) and tok["refresh_token"], "no refresh token")
r = call_bearer(tok["access_token"], 200)
CODE_TOKEN = tok
done()

step("a code presented again: invalid_grant, and what it gave is revoked (RFC 6749 §4.1.2)")
s = session(CONF, redirect_uri=CONF["redirect_uri"], code_challenge_method="S256")
v1 = generate_token(64)
auth_url, st1 = s.create_authorization_url(GW + "/login", code_verifier=v1)
q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
redirect1 = grant_code(CONF, q["redirect_uri"], q["state"], q["code_challenge"])
once = s.fetch_token(TOKEN_URL, authorization_response=redirect1, code_verifier=v1, state=st1)
call_bearer(once["access_token"], 200)
code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect1).query))["code"]
expect_oauth_error(lambda: session(CONF, redirect_uri=CONF["redirect_uri"]).fetch_token(
    TOKEN_URL, grant_type="authorization_code", code=code, code_verifier=v1), "invalid_grant")
call_bearer(once["access_token"], 401)
done()

step("a code with the wrong verifier: invalid_grant")
s = session(CONF, redirect_uri=CONF["redirect_uri"], code_challenge_method="S256")
v2 = generate_token(64)
auth_url, _ = s.create_authorization_url(GW + "/login", code_verifier=v2)
q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
redirect2 = grant_code(CONF, q["redirect_uri"], q["state"], q["code_challenge"])
expect_oauth_error(lambda: s.fetch_token(TOKEN_URL, authorization_response=redirect2,
                                         code_verifier=generate_token(64)), "invalid_grant")
done()

step("authorization code with PKCE (public client, no secret)")
p = session(PUB, redirect_uri=PUB["redirect_uri"], code_challenge_method="S256")
pv = generate_token(64)
auth_url, pstate = p.create_authorization_url(GW + "/login", code_verifier=pv)
q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
redirect = grant_code(PUB, q["redirect_uri"], q["state"], q["code_challenge"])
ptok = p.fetch_token(TOKEN_URL, authorization_response=redirect, code_verifier=pv, state=pstate)
call_bearer(ptok["access_token"], 200)
done()

# ---------------------------------------------------------------------------------------------
step("refresh (rotated)")
s = session(CONF)
old_refresh = CODE_TOKEN["refresh_token"]
new = s.refresh_token(TOKEN_URL, refresh_token=old_refresh)
check(new["access_token"] != CODE_TOKEN["access_token"], "the same access token")
check(isinstance(new.get("refresh_token"), str) and new["refresh_token"] != old_refresh,
      "refresh token not rotated")
call_bearer(new["access_token"], 200)
done()

step("a reused refresh token: invalid_grant, and its family's refresh token is gone too")
expect_oauth_error(lambda: session(CONF).refresh_token(TOKEN_URL, refresh_token=old_refresh),
                   "invalid_grant")
expect_oauth_error(lambda: session(CONF).refresh_token(TOKEN_URL, refresh_token=new["refresh_token"]),
                   "invalid_grant")
done()

# ---------------------------------------------------------------------------------------------
step("introspection (RFC 7662)")
s = session(CONF)
r = s.introspect_token(INTROSPECT_URL, token=tok2["access_token"], token_type_hint="access_token")
check(r.status_code == 200, f"introspect: {r.status_code} {r.text[:200]!r}")
info = r.json()
check(info.get("active") is True, f"active {info.get('active')!r}")
check(info.get("client_id") == CONF["client_id"], f"client_id {info.get('client_id')!r}")
check(isinstance(info.get("exp"), int), f"exp {info.get('exp')!r}")
r = s.introspect_token(INTROSPECT_URL, token="not-a-token-" + generate_token(20))
check(r.status_code == 200 and r.json() == {"active": False}, f"unknown token: {r.status_code} {r.text!r}")
done()

step("introspection needs client authentication")
r = requests.post(INTROSPECT_URL, data={"token": tok2["access_token"]}, timeout=TIMEOUT)
check(r.status_code == 401, f"anonymous introspection: {r.status_code} {r.text[:200]!r}")
check(r.json().get("error") == "invalid_client", f"error {r.text[:200]!r}")
done()

step("revocation (RFC 7009) of an access token")
r = s.revoke_token(REVOKE_URL, token=tok2["access_token"], token_type_hint="access_token")
check(r.status_code == 200, f"revoke: {r.status_code} {r.text[:200]!r}")
info = s.introspect_token(INTROSPECT_URL, token=tok2["access_token"]).json()
check(info == {"active": False}, f"introspection after revocation {info!r}")
call_bearer(tok2["access_token"], 401)
done()

step("revocation of an unknown token: 200 (RFC 7009 §2.2)")
r = s.revoke_token(REVOKE_URL, token="not-a-token-" + generate_token(20))
check(r.status_code == 200, f"revoke unknown: {r.status_code} {r.text[:200]!r}")
done()

step("revocation of a refresh token")
s = session(CONF, redirect_uri=CONF["redirect_uri"], code_challenge_method="S256")
v3 = generate_token(64)
auth_url, _ = s.create_authorization_url(GW + "/login", code_verifier=v3)
q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
t3 = s.fetch_token(TOKEN_URL, authorization_response=grant_code(CONF, q["redirect_uri"], q["state"],
                                                                q["code_challenge"]), code_verifier=v3)
r = s.revoke_token(REVOKE_URL, token=t3["refresh_token"], token_type_hint="refresh_token")
check(r.status_code == 200, f"revoke refresh: {r.status_code} {r.text[:200]!r}")
expect_oauth_error(lambda: session(CONF).refresh_token(TOKEN_URL, refresh_token=t3["refresh_token"]),
                   "invalid_grant")
done()

# ---------------------------------------------------------------------------------------------
# The same library against the Sensedia-mode server of the same deployment: it parses the answer
# (201, token_type "access_token"); the token then goes in Sensedia's two headers.
step("client credentials against the Sensedia-mode server")
SEN = CFG["sensedia_base"]
s = session(CONF)
tok = s.fetch_token(GW + SEN + "/access-token", grant_type="client_credentials")
check(tok.get("token_type") == "access_token", f"token_type {tok.get('token_type')!r}")
check(set(k for k in tok if k != "expires_at") == {"access_token", "token_type", "expires_in"},
      f"answer keys {sorted(tok)}")
r = requests.get(GW + CFG["oauth_api"], headers={"client_id": CONF["client_id"],
                                                  "access_token": tok["access_token"]}, timeout=TIMEOUT)
check(r.status_code == 200, f"OAuth interceptor: {r.status_code} {r.text[:200]!r}")
done()

print(json.dumps({"ok": True, "library": "authlib", "steps": PASSED}), flush=True)
