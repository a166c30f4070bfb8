//! The endpoints over a small world: KV as a map, the grant store over rows in memory, a check
//! endpoint that answers what the test says, a fixed clock. [`World::run`] drives a request
//! the way the adapter does (needs, then again), and applies the KV writes.

use super::*;
use crate::authz::config::Mode;
use crate::authz::store::{handle, MemRows};
use crate::base::request::TestRequest;
use crate::interceptors::testing;
use base64::Engine;
use serde_json::{json, Value};

const NOW_MS: u64 = 1_800_000_000_000;
const SECRET: &str = "app-secret-0001";
const PROVISION: &str = "provision-key-0123456789";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CB: &str = "https://app.example/cb";

struct World {
    server: Server,
    kv: HashMap<String, String>,
    rows: MemRows,
    check: Option<Result<Checked, String>>,
    check_bodies: Vec<String>,
    secrets: HashMap<String, String>,
    now_ms: u64,
    draws: u8,
    /// What the last request's rounds needed, in order (to check lookups and store calls).
    needs: Vec<Need>,
    store_down: bool,
}

fn app(extra: Value) -> Value {
    let mut a = json!({"name": "Demo", "status": "APPROVED",
        "access": [{"api": "orders"}, {"api": "catalog", "resources": ["list"]}],
        "client_secret_sha256": client::secret_hash(SECRET),
        "redirect_uris": [CB]});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

impl World {
    fn new(mode: Mode) -> World {
        let mut server = Server::with_defaults("s", "/oauth", mode);
        let mut errs = Vec::new();
        let v = json!([{"name": "s", "base_path": "/oauth",
            "mode": if mode == Mode::Rfc { "rfc" } else { "sensedia" },
            "grants": ["client_credentials", "authorization_code", "refresh_token", "password"],
            "resource_owner_check": {"url": "https://login.example/check"}}]);
        if let Some(s) = crate::authz::config::compile_all(v.as_array().unwrap(), &mut errs).pop() {
            assert!(errs.is_empty(), "{errs:?}");
            server = s;
        }
        let mut w = World {
            server,
            kv: HashMap::new(),
            rows: MemRows::default(),
            check: None,
            check_bodies: Vec::new(),
            secrets: HashMap::new(),
            now_ms: NOW_MS,
            draws: 0,
            needs: Vec::new(),
            store_down: false,
        };
        w.secrets
            .insert("AUTHZ_PROVISION_KEY".into(), PROVISION.into());
        w.secrets
            .insert("AUTHZ_CHECK_TOKEN".into(), "check-token".into());
        w.app("app", json!({}));
        w.app(
            "public",
            json!({"client_type": "public", "client_secret_sha256": null}),
        );
        w.app(
            "narrow",
            json!({"grant_types": ["authorization_code"], "access_token_lifetime_seconds": 600}),
        );
        w.app("pending", json!({"status": "PENDING"}));
        w.app(
            "other",
            json!({"client_secret_sha256": client::secret_hash("other-secret")}),
        );
        w.app("origin", json!({"client_secret_sha256": client::secret_hash("origin-secret"), "introspect_any": true}));
        w
    }

    fn app(&mut self, id: &str, extra: Value) {
        self.kv.insert(format!("app:{id}"), app(extra).to_string());
    }

    fn run(&mut self, ep: Endpoint, req: &TestRequest) -> Done {
        let d = self.decide(ep, req);
        self.land(ep, d)
    }

    /// Writes a decision's records, then confirms its family with the store (as the adapter).
    fn land(&mut self, ep: Endpoint, d: Done) -> Done {
        for p in &d.puts {
            assert!(p.expiration == 0 || p.expiration > (self.now_ms / 1000) as i64 + 60);
            self.kv.insert(p.key.clone(), p.value.clone());
        }
        let Some(Need::Store { op, .. }) = d.confirm.clone() else {
            return d;
        };
        let op: Op = serde_json::from_str(&op).unwrap();
        let answer = handle(&mut self.rows, &op, self.now_ms);
        let d = confirmed(d, &self.server, ep, answer);
        for p in &d.puts {
            self.kv.insert(p.key.clone(), p.value.clone());
        }
        d
    }

    /// A decision, before its writes.
    fn decide(&mut self, ep: Endpoint, req: &TestRequest) -> Done {
        self.draws = self.draws.wrapping_add(1);
        let mut bytes = [0u8; tokens::RANDOM_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8)
                .wrapping_mul(31)
                .wrapping_add(self.draws.wrapping_mul(97));
        }
        let random = Random(bytes);
        let secrets = self.secrets.clone();
        let secret = move |name: &str| secrets.get(name).cloned();
        let input = Input {
            req,
            now_ms: self.now_ms,
            random: &random,
            secret: &secret,
        };
        let mut records: HashMap<String, Slot> = HashMap::new();
        let mut raw = HashMap::new();
        let mut body = None;
        let mut store_answer = None;
        let mut check = None;
        let mut throttled = false;
        self.needs.clear();
        for _ in 0..8 {
            let known = Known {
                body: body.as_ref(),
                records: &records,
                raw: &raw,
                store: store_answer.as_ref(),
                check: check.as_ref(),
                throttled,
            };
            match serve(&self.server, ep, &input, &known) {
                Step::Done(d) => return d,
                Step::Need(needs) => {
                    for n in needs {
                        self.needs.push(n.clone());
                        match n {
                            Need::Body(max) => {
                                let b = req.body.clone().unwrap_or_default();
                                body = Some(if b.len() as u64 > max {
                                    Body::TooLarge
                                } else {
                                    Body::Bytes(b)
                                });
                            }
                            Need::Kv(k) => {
                                records.insert(
                                    k.clone(),
                                    Slot::from_store(&k, self.kv.get(&k).map(String::as_str)),
                                );
                            }
                            Need::Raw(k) => {
                                raw.insert(k.clone(), Ok(self.kv.get(&k).cloned()));
                            }
                            Need::Throttle(_) => throttled = true,
                            Need::Store { op, instance, .. } => {
                                assert!(instance.starts_with("client:"));
                                store_answer = Some(if self.store_down {
                                    Err("timed out".to_string())
                                } else {
                                    let op: Op = serde_json::from_str(&op).unwrap();
                                    handle(&mut self.rows, &op, self.now_ms)
                                });
                            }
                            Need::Check { body, bearer, .. } => {
                                assert_eq!(bearer, "check-token");
                                self.check_bodies.push(body);
                                check =
                                    Some(self.check.clone().expect("the test set a check answer"));
                            }
                        }
                    }
                }
            }
        }
        panic!("too many rounds");
    }

    fn token(&mut self, form: &str, auth: Option<(&str, &str)>) -> Done {
        let mut r = TestRequest::new("POST", "https://gw.example/oauth/access-token")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(form.as_bytes());
        if let Some((id, secret)) = auth {
            r = r.with_header("authorization", &basic(id, secret));
        }
        self.run(Endpoint::AccessToken, &r)
    }

    fn grant_code(&mut self, body: Value, key: Option<&str>) -> Done {
        let mut r = TestRequest::new("POST", "https://gw.example/oauth/grant-code")
            .with_header("content-type", "application/json")
            .with_body(body.to_string().as_bytes());
        if let Some(k) = key {
            r = r.with_header("x-provision-key", k);
        }
        self.run(Endpoint::GrantCode, &r)
    }

    fn form(&mut self, ep: Endpoint, form: &str, auth: Option<(&str, &str)>) -> Done {
        let mut r = TestRequest::new("POST", &format!("https://gw.example{}", ep.path("/oauth")))
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(form.as_bytes());
        if let Some((id, secret)) = auth {
            r = r.with_header("authorization", &basic(id, secret));
        }
        self.run(ep, &r)
    }

    fn record(&self, token: &str) -> records::Token {
        let key = records::token_key(token).unwrap();
        match records::parse(&key, self.kv.get(&key).expect("stored")).unwrap() {
            Record::Token(t) => t,
            _ => panic!(),
        }
    }

    /// Whether `token` passes Access Token Validation (header and Bearer) and OAuth with
    /// the records in this world's KV.
    fn passes(&self, client: &str, token: &str) -> bool {
        let mut w = testing::World::new();
        for (k, v) in &self.kv {
            w = w.put_raw(k, v);
        }
        let key = records::token_key(token).unwrap();
        if !self.kv.contains_key(&key) {
            w = w.absent(&key);
        }
        let header = testing::compile(json!({"type": "access_token"}));
        let bearer = testing::compile(json!({"type": "access_token", "bearer": true}));
        let oauth = testing::compile(json!({"type": "oauth"}));
        let r1 = TestRequest::new("GET", "https://gw/orders").with_header("access_token", token);
        let r2 = TestRequest::new("GET", "https://gw/orders")
            .with_header("Authorization", &format!("Bearer {token}"));
        let r3 = TestRequest::new("GET", "https://gw/orders")
            .with_header("client_id", client)
            .with_header("access_token", token);
        let results = [
            w.check(&header, &r1, None),
            w.check(&bearer, &r2, None),
            w.check(&oauth, &r3, None),
        ];
        let passed: Vec<bool> = results
            .iter()
            .map(|c| matches!(c, crate::interceptors::Check::Pass(_)))
            .collect();
        assert!(
            passed.iter().all(|p| *p == passed[0]),
            "interceptors disagree: {results:?}"
        );
        passed[0]
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn body(d: &Done) -> Value {
    serde_json::from_str(&d.reply.body).unwrap_or(Value::Null)
}

fn error_of(d: &Done) -> (u16, String) {
    (
        d.reply.status,
        body(d)["error"].as_str().unwrap_or("").to_string(),
    )
}

fn cause(d: &Done) -> Option<Cause> {
    d.entries[0].cause
}

/// Nothing secret in the trace.
fn assert_clean(d: &Done, secrets: &[&str]) {
    let text = serde_json::to_string(&d.entries).unwrap();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!text.contains(s), "the trace contains {s:?}: {text}");
    }
}

fn code_of(d: &Done) -> String {
    let url = body(d)["redirect_uri"].as_str().unwrap().to_string();
    let q = url.split_once('?').unwrap().1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

#[test]
fn client_credentials_in_sensedia_mode() {
    let mut w = World::new(Mode::Sensedia);
    let d = w.token("grant_type=client_credentials", Some(("app", SECRET)));
    assert_eq!(d.reply.status, 201, "{}", d.reply.body);
    let v = body(&d);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3);
    assert!(d.reply.body.starts_with(r#"{"access_token":""#));
    assert!(d
        .reply
        .body
        .ends_with(r#","token_type":"access_token","expires_in":3600}"#));
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 36);
    assert_eq!(&token[14..15], "4", "UUIDv4-shaped");
    assert_eq!(d.puts.len(), 1);
    assert_eq!(d.puts[0].client_id, "app");
    let t = w.record(token);
    assert_eq!(t.client_id, "app");
    assert_eq!(t.kind, TokenKind::AccessToken);
    assert_eq!(t.expires_at, Some((NOW_MS / 1000) as i64 + 3600));
    assert_eq!(t.grant_type.as_deref(), Some("client_credentials"));
    assert!(w.passes("app", token));
    assert_eq!(d.outcome, Outcome::Pass);
    assert_eq!(d.entries[0].interceptor, "access-token");
    assert_eq!(d.entries[1].status, Some(201));
    assert_clean(&d, &[SECRET, token]);
    // The same with client_secret_post and a JSON body.
    let r = TestRequest::new("POST", "https://gw.example/oauth/access-token")
        .with_header("content-type", "application/json")
        .with_body(format!(r#"{{"grant_type":"client_credentials","client_id":"app","client_secret":"{SECRET}"}}"#).as_bytes());
    assert_eq!(w.run(Endpoint::AccessToken, &r).reply.status, 201);
}

#[test]
fn client_credentials_in_rfc_mode_with_scope() {
    let mut w = World::new(Mode::Rfc);
    let d = w.token(
        "grant_type=client_credentials&scope=catalog%3Alist",
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 200);
    let v = body(&d);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "catalog:list");
    let t = w.record(v["access_token"].as_str().unwrap());
    assert_eq!(
        t.scope.unwrap()[0].resources,
        Some(vec!["list".to_string()])
    );
    // The token now calls catalog:list only: not orders.
    assert!(!w.passes("app", v["access_token"].as_str().unwrap()));
    let d = w.token(
        "grant_type=client_credentials&scope=billing",
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "invalid_scope".into()));
    let d = w.token(
        "grant_type=client_credentials&scope=catalog%3Aedit",
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "invalid_scope".into()));
    assert!(d.puts.is_empty());
}

#[test]
fn client_authentication_failures_are_invalid_client_and_write_nothing() {
    let mut w = World::new(Mode::Sensedia);
    for (auth, form, want) in [
        (
            Some(("app", "wrong-secret")),
            "grant_type=client_credentials",
            Cause::BadSecret,
        ),
        (
            Some(("nobody", SECRET)),
            "grant_type=client_credentials",
            Cause::NotFound,
        ),
        (
            Some(("pending", SECRET)),
            "grant_type=client_credentials",
            Cause::AppNotApproved,
        ),
        (None, "grant_type=client_credentials", Cause::Missing),
        (
            None,
            "grant_type=client_credentials&client_id=app",
            Cause::BadSecret,
        ),
        (
            None,
            "grant_type=client_credentials&client_secret=x",
            Cause::Missing,
        ),
    ] {
        let before = w.kv.len();
        let d = w.token(form, auth);
        assert_eq!(
            error_of(&d),
            (401, "invalid_client".into()),
            "{auth:?} {form}"
        );
        assert_eq!(cause(&d), Some(want), "{auth:?} {form}");
        assert!(d
            .reply
            .headers
            .contains(&("www-authenticate", "Basic realm=\"s\"".into())));
        assert!(d.puts.is_empty());
        assert_eq!(w.kv.len(), before);
        assert_clean(&d, &[SECRET, "wrong-secret"]);
    }
    // An unknown client id is traced by fingerprint, a known one by name; both are counted.
    let d = w.token("grant_type=client_credentials", Some(("nobody", SECRET)));
    assert_eq!(d.entries[0].client_id, None);
    assert_eq!(
        d.entries[0].fingerprint,
        Some(records::fingerprint("nobody"))
    );
    assert_eq!(d.failed.as_deref(), Some("nobody"));
    let d = w.token("grant_type=client_credentials", Some(("app", "wrong")));
    assert_eq!(d.entries[0].client_id.as_deref(), Some("app"));
    assert_eq!(d.failed.as_deref(), Some("app"));
    // Both an unknown client and a wrong secret were looked up and throttled before the
    // comparison (same work).
    assert!(w.needs.contains(&Need::Throttle("app".into())));
    // Two methods at once.
    let d = w.token(
        &format!("grant_type=client_credentials&client_secret={SECRET}"),
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
}

#[test]
fn grant_rules() {
    let mut w = World::new(Mode::Sensedia);
    let d = w.token("grant_type=implicit", Some(("app", SECRET)));
    assert_eq!(error_of(&d), (400, "unsupported_grant_type".into()));
    let d = w.token("", Some(("app", SECRET)));
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
    // The app narrows the server's grants.
    let d = w.token("grant_type=client_credentials", Some(("narrow", SECRET)));
    assert_eq!(error_of(&d), (400, "unauthorized_client".into()));
    // Public apps: no client credentials, no password.
    let d = w.token("grant_type=client_credentials&client_id=public", None);
    assert_eq!(error_of(&d), (400, "unauthorized_client".into()));
    // A server without the grant.
    let mut w2 = World::new(Mode::Sensedia);
    w2.server = Server::with_defaults("s", "/oauth", Mode::Sensedia);
    let d = w2.token(
        "grant_type=password&username=u&password=p",
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "unsupported_grant_type".into()));
}

#[test]
fn bodies_are_capped_and_parsed_strictly() {
    let mut w = World::new(Mode::Rfc);
    let big = format!("grant_type=client_credentials&x={}", "y".repeat(20_000));
    let d = w.token(&big, Some(("app", SECRET)));
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
    assert_eq!(cause(&d), Some(Cause::BodyTooLarge));
    assert_eq!(w.needs[0], Need::Body(16_384));
    let d = w.token(
        "grant_type=client_credentials&grant_type=client_credentials",
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
    let r = TestRequest::new("POST", "https://gw.example/oauth/access-token")
        .with_header("content-type", "application/json")
        .with_header("authorization", &basic("app", SECRET))
        .with_body(b"{\"grant_type\":");
    assert_eq!(
        error_of(&w.run(Endpoint::AccessToken, &r)),
        (400, "invalid_request".into())
    );
    let r = TestRequest::new("GET", "https://gw.example/oauth/access-token");
    let d = w.run(Endpoint::AccessToken, &r);
    assert_eq!(d.reply.status, 405);
    assert!(d.reply.headers.contains(&("allow", "POST".into())));
}

#[test]
fn the_code_flow_with_pkce_and_a_reused_code() {
    let mut w = World::new(Mode::Rfc);
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB, "state": "st&1",
               "extra_info": {"user": "alice"}, "code_challenge": CHALLENGE,
               "code_challenge_method": "S256"}),
        Some(PROVISION),
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    let url = body(&d)["redirect_uri"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{CB}?code=")) && url.ends_with("&state=st%261"),
        "{url}"
    );
    let code = code_of(&d);
    assert_eq!(code.len(), 36);
    assert_clean(&d, &[&code, PROVISION]);
    assert!(
        w.kv.keys().all(|k| !k.contains(&code)),
        "codes never go to KV"
    );

    // Wrong verifier: invalid_grant, and the code is spent.
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
    );
    let d = w.token(&form, Some(("app", SECRET)));
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    let v = body(&d);
    let (access, refresh) = (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_eq!(w.record(&access).extra_info, Some(json!({"user": "alice"})));
    assert_eq!(w.record(&refresh).kind, TokenKind::RefreshToken);
    assert!(w.passes("app", &access));
    assert!(
        !w.passes("app", &refresh),
        "a refresh token never passes an interceptor"
    );
    assert_clean(&d, &[&code, &access, &refresh, VERIFIER, SECRET]);

    // Again: refused, and what it gave is revoked.
    let d = w.token(&form, Some(("app", SECRET)));
    assert_eq!(error_of(&d), (400, "invalid_grant".into()));
    assert_eq!(cause(&d), Some(Cause::ReusedCode));
    assert_eq!(d.puts.len(), 2);
    assert!(!w.passes("app", &access));
    assert!(w.record(&refresh).revoked);
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        Some(("app", SECRET)),
    );
    assert_eq!(cause(&d), Some(Cause::FamilyRevoked));
}

#[test]
fn a_family_revoked_while_its_records_are_written_stays_revoked() {
    let mut w = World::new(Mode::Sensedia);
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let form = format!("grant_type=authorization_code&code={code}");
    let req = TestRequest::new("POST", "https://gw.example/oauth/access-token")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_header("authorization", &basic("app", SECRET))
        .with_body(form.as_bytes());
    // A wins the code in the store, but its writes are slow...
    let a = w.decide(Endpoint::AccessToken, &req);
    assert_eq!(a.reply.status, 200);
    assert!(a.confirm.is_some());
    let access = body(&a)["access_token"].as_str().unwrap().to_string();
    // ...B presents the code again: the family is revoked, B's writes land first...
    let b = w.run(Endpoint::AccessToken, &req);
    assert_eq!(cause(&b), Some(Cause::ReusedCode));
    // ...then A's, unrevoked. The confirmation finds the family revoked and writes it again;
    // A keeps its answer (it won the claim), its tokens end revoked.
    let a = w.land(Endpoint::AccessToken, a);
    assert_eq!(a.reply.status, 200);
    assert_eq!(a.entries[1].cause, Some(Cause::FamilyRevoked));
    assert_eq!(a.puts.len(), 2);
    assert!(!w.passes("app", &access));
    // Client credentials issue no family: nothing to confirm.
    let d = w.token("grant_type=client_credentials", Some(("app", SECRET)));
    assert!(d.confirm.is_none());
    // No answer from the store at confirmation: a 503, nothing more written.
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let req = TestRequest::new("POST", "https://gw.example/oauth/access-token")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_header("authorization", &basic("app", SECRET))
        .with_body(format!("grant_type=authorization_code&code={code}").as_bytes());
    let d = w.decide(Endpoint::AccessToken, &req);
    let d = confirmed(d, &w.server, Endpoint::AccessToken, Err("timed out".into()));
    assert_eq!(d.reply.status, 503);
    assert!(d.puts.is_empty());
    assert_eq!(d.entries.last().unwrap().status, Some(503));
}

#[test]
fn code_exchange_mismatches() {
    let mut w = World::new(Mode::Rfc);
    let mut code = || {
        let d = w.grant_code(
            json!({"client_id": "app", "redirect_uri": CB, "code_challenge": CHALLENGE,
                   "code_challenge_method": "S256"}),
            Some(PROVISION),
        );
        code_of(&d)
    };
    let (c1, c2, c3) = (code(), code(), code());
    let cb = form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>();
    let bad_verifier = "a".repeat(43);
    for (form, want) in [
        (format!("grant_type=authorization_code&code={c1}&redirect_uri={cb}&code_verifier={bad_verifier}"), Cause::PkceMismatch),
        (format!("grant_type=authorization_code&code={c2}&code_verifier={VERIFIER}"), Cause::RedirectUriMismatch),
        (format!("grant_type=authorization_code&code={c3}&redirect_uri={cb}"), Cause::PkceMismatch),
        (format!("grant_type=authorization_code&code=nope&redirect_uri={cb}&code_verifier={VERIFIER}"), Cause::NotFound),
    ] {
        let d = w.token(&form, Some(("app", SECRET)));
        assert_eq!(error_of(&d), (400, "invalid_grant".into()), "{form}");
        assert_eq!(cause(&d), Some(want), "{form}");
    }
    // In sensedia mode the exchange may leave the redirect URI out (SPEC §7).
    let mut w = World::new(Mode::Sensedia);
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let d = w.token(
        &format!("grant_type=authorization_code&code={code}"),
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    // Another client cannot redeem a code.
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let d = w.token(
        &format!("grant_type=authorization_code&code={code}"),
        Some(("other", "other-secret")),
    );
    assert_eq!(cause(&d), Some(Cause::WrongApp));
}

#[test]
fn grant_code_rules() {
    let mut w = World::new(Mode::Sensedia);
    let ok = json!({"client_id": "app", "redirect_uri": CB});
    for (key, want) in [
        (None, Cause::Missing),
        (Some("wrong-key-9"), Cause::BadSecret),
    ] {
        let d = w.grant_code(ok.clone(), key);
        assert_eq!(error_of(&d), (401, "invalid_client".into()));
        assert_eq!(cause(&d), Some(want));
        assert_clean(&d, &[PROVISION, "wrong-key-9"]);
    }
    for (b, err, want) in [
        (
            json!({"client_id": "app", "redirect_uri": "https://evil.example/cb"}),
            "invalid_request",
            Cause::RedirectUriMismatch,
        ),
        (
            json!({"client_id": "app", "redirect_uri": format!("{CB}/")}),
            "invalid_request",
            Cause::RedirectUriMismatch,
        ),
        (
            json!({"client_id": "app"}),
            "invalid_request",
            Cause::Missing,
        ),
        (
            json!({"redirect_uri": CB}),
            "invalid_request",
            Cause::Missing,
        ),
        (
            json!({"client_id": "app", "redirect_uri": CB, "code_challenge": CHALLENGE, "code_challenge_method": "plain"}),
            "invalid_request",
            Cause::PkceMismatch,
        ),
        (
            json!({"client_id": "app", "redirect_uri": CB, "code_challenge": CHALLENGE}),
            "invalid_request",
            Cause::PkceMismatch,
        ),
        (
            json!({"client_id": "app", "redirect_uri": CB, "code_challenge_method": "S256"}),
            "invalid_request",
            Cause::PkceMismatch,
        ),
        (
            json!({"client_id": "public", "redirect_uri": CB}),
            "invalid_request",
            Cause::PkceMismatch,
        ),
        (
            json!({"client_id": "app", "redirect_uri": CB, "extra_info": "x"}),
            "invalid_request",
            Cause::Malformed,
        ),
        (
            json!({"client_id": "nobody", "redirect_uri": CB}),
            "invalid_client",
            Cause::NotFound,
        ),
        (
            json!({"client_id": "pending", "redirect_uri": CB}),
            "invalid_client",
            Cause::AppNotApproved,
        ),
    ] {
        let d = w.grant_code(b.clone(), Some(PROVISION));
        assert_eq!(error_of(&d).1, err, "{b}");
        assert_eq!(cause(&d), Some(want), "{b}");
        assert!(
            !d.reply.body.contains("evil"),
            "never a redirect to an unregistered URI"
        );
    }
    // The provision key secret not set: a 500, traced.
    w.secrets.remove("AUTHZ_PROVISION_KEY");
    let d = w.grant_code(ok.clone(), Some(PROVISION));
    assert_eq!(d.reply.status, 500);
    assert_eq!(cause(&d), Some(Cause::BadPolicy));
    // With grant_code_auth = client_credentials, the app's own Basic credentials.
    let mut w = World::new(Mode::Sensedia);
    let v = json!([{"name": "s", "base_path": "/oauth", "grant_code_auth": "client_credentials",
                    "client_id_header": "client_id"}]);
    let mut errs = Vec::new();
    w.server = crate::authz::config::compile_all(v.as_array().unwrap(), &mut errs).remove(0);
    let req = |auth: &str, header: Option<&str>| {
        let mut r = TestRequest::new("POST", "https://gw.example/oauth/grant-code")
            .with_header("content-type", "application/json")
            .with_header("authorization", auth)
            .with_body(ok.to_string().as_bytes());
        if let Some(h) = header {
            r = r.with_header("client_id", h);
        }
        r
    };
    let d = w.run(
        Endpoint::GrantCode,
        &req(&basic("app", SECRET), Some("app")),
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    let d = w.run(
        Endpoint::GrantCode,
        &req(&basic("app", "nope"), Some("app")),
    );
    assert_eq!(error_of(&d), (401, "invalid_client".into()));
    let d = w.run(Endpoint::GrantCode, &req(&basic("app", SECRET), None));
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
    let d = w.run(
        Endpoint::GrantCode,
        &req(&basic("app", SECRET), Some("other")),
    );
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
}

#[test]
fn public_clients_use_pkce() {
    let mut w = World::new(Mode::Rfc);
    let d = w.grant_code(
        json!({"client_id": "public", "redirect_uri": CB, "code_challenge": CHALLENGE,
               "code_challenge_method": "S256"}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let cb = form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>();
    let d = w.token(
        &format!("grant_type=authorization_code&client_id=public&code={code}&redirect_uri={cb}"),
        None,
    );
    assert_eq!(error_of(&d), (400, "invalid_request".into()), "no verifier");
    let d = w.token(
        &format!("grant_type=authorization_code&client_id=public&code={code}&redirect_uri={cb}&code_verifier={VERIFIER}"),
        None,
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    let refresh = body(&d)["refresh_token"].as_str().unwrap().to_string();
    let d = w.token(
        &format!("grant_type=refresh_token&client_id=public&refresh_token={refresh}"),
        None,
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
}

#[test]
fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let mut w = World::new(Mode::Sensedia);
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB, "extra_info": {"u": 1}}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let d = w.token(
        &format!("grant_type=authorization_code&code={code}"),
        Some(("app", SECRET)),
    );
    let v = body(&d);
    let (a1, r1) = (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    );
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={r1}"),
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    let v = body(&d);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4);
    let (a2, r2) = (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(r1, r2);
    assert_eq!(w.record(&a2).extra_info, Some(json!({"u": 1})));
    assert!(
        w.record(&r1).revoked,
        "the spent refresh token shows revoked"
    );
    assert!(w.passes("app", &a1) && w.passes("app", &a2));
    // r1 again: the family goes, access tokens included.
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={r1}"),
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "invalid_grant".into()));
    assert_eq!(cause(&d), Some(Cause::ReusedRefreshToken));
    assert_eq!(d.failed.as_deref(), Some("app"));
    assert!(!w.passes("app", &a1) && !w.passes("app", &a2));
    assert!(w.record(&r2).revoked);
    assert_clean(&d, &[&r1, &r2, &a1, &a2, SECRET]);
    // Another client's refresh token, an access token as refresh token, unknown ones.
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={r2}"),
        Some(("other", "other-secret")),
    );
    assert_eq!(error_of(&d), (400, "invalid_grant".into()));
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={a2}"),
        Some(("app", SECRET)),
    );
    assert_eq!(error_of(&d), (400, "invalid_grant".into()));
    let d = w.token(
        "grant_type=refresh_token&refresh_token=nope",
        Some(("app", SECRET)),
    );
    assert_eq!(cause(&d), Some(Cause::NotFound));
    let d = w.token("grant_type=refresh_token", Some(("app", SECRET)));
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
}

#[test]
fn a_refresh_token_revoked_with_the_tool_is_refused() {
    let mut w = World::new(Mode::Sensedia);
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let d = w.token(
        &format!("grant_type=authorization_code&code={code}"),
        Some(("app", SECRET)),
    );
    let r = body(&d)["refresh_token"].as_str().unwrap().to_string();
    let key = records::token_key(&r).unwrap();
    let revoked = tokens::revoked(&w.kv[&key]).unwrap();
    w.kv.insert(key, revoked);
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={r}"),
        Some(("app", SECRET)),
    );
    assert_eq!(cause(&d), Some(Cause::Revoked));
}

#[test]
fn the_password_grant_asks_the_check_endpoint() {
    let mut w = World::new(Mode::Rfc);
    w.check = Some(Ok(Checked {
        status: 200,
        body: r#"{"extra_info": {"user_id": 42}}"#.into(),
    }));
    let d = w.token(
        "grant_type=password&username=alice&password=hunter2",
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 200, "{}", d.reply.body);
    let v = body(&d);
    let sent: Value = serde_json::from_str(&w.check_bodies[0]).unwrap();
    assert_eq!(
        sent,
        json!({"username": "alice", "password": "hunter2", "client_id": "app"})
    );
    let access = v["access_token"].as_str().unwrap();
    assert_eq!(w.record(access).extra_info, Some(json!({"user_id": 42})));
    assert!(v["refresh_token"].is_string());
    assert!(w.passes("app", access));
    assert_clean(&d, &["hunter2", "alice", access, SECRET]);
    for (status, b, want) in [
        (401, "", (400, "invalid_grant")),
        (403, "", (400, "invalid_grant")),
        (500, "", (503, "")),
        (200, "not json", (503, "")),
    ] {
        w.check = Some(Ok(Checked {
            status,
            body: b.into(),
        }));
        let d = w.token(
            "grant_type=password&username=alice&password=wrong-pw-7",
            Some(("app", SECRET)),
        );
        assert_eq!((d.reply.status, error_of(&d).1.as_str()), want, "{status}");
        assert!(d.puts.is_empty());
        assert_clean(&d, &["wrong-pw-7", "alice"]);
    }
    w.check = Some(Err("timed out after 3000 ms".into()));
    let d = w.token(
        "grant_type=password&username=alice&password=p",
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 503);
    assert_eq!(cause(&d), Some(Cause::OwnerCheckUnavailable));
    let d = w.token("grant_type=password&username=alice", Some(("app", SECRET)));
    assert_eq!(error_of(&d), (400, "invalid_request".into()));
    w.secrets.remove("AUTHZ_CHECK_TOKEN");
    let n = w.check_bodies.len();
    let d = w.token(
        "grant_type=password&username=alice&password=p",
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 500);
    assert_eq!(w.check_bodies.len(), n, "never called without its secret");
}

#[test]
fn revocation() {
    let mut w = World::new(Mode::Rfc);
    let d = w.token("grant_type=client_credentials", Some(("app", SECRET)));
    let cc = body(&d)["access_token"].as_str().unwrap().to_string();
    // Another client cannot revoke it (and is not told).
    let d = w.form(
        Endpoint::Revoke,
        &format!("token={cc}"),
        Some(("other", "other-secret")),
    );
    assert_eq!((d.reply.status, d.reply.body.as_str()), (200, ""));
    assert!(d.puts.is_empty());
    assert!(w.passes("app", &cc));
    let d = w.form(
        Endpoint::Revoke,
        &format!("token={cc}&token_type_hint=access_token"),
        Some(("app", SECRET)),
    );
    assert_eq!((d.reply.status, d.reply.body.as_str()), (200, ""));
    assert_eq!(d.puts.len(), 1);
    assert!(!w.passes("app", &cc));
    assert_clean(&d, &[&cc]);
    // Unknown token: still 200; a missing token or bad credentials are errors.
    assert_eq!(
        w.form(Endpoint::Revoke, "token=nope", Some(("app", SECRET)))
            .reply
            .status,
        200
    );
    assert_eq!(
        error_of(&w.form(Endpoint::Revoke, "", Some(("app", SECRET)))),
        (400, "invalid_request".into())
    );
    assert_eq!(
        error_of(&w.form(Endpoint::Revoke, "token=x", Some(("app", "bad")))),
        (401, "invalid_client".into())
    );
    // A refresh token: the family.
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let cb = form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>();
    let d = w.token(
        &format!("grant_type=authorization_code&code={code}&redirect_uri={cb}"),
        Some(("app", SECRET)),
    );
    let v = body(&d);
    let (a, r) = (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    );
    let d = w.form(
        Endpoint::Revoke,
        &format!("token={r}"),
        Some(("app", SECRET)),
    );
    assert_eq!(d.puts.len(), 2);
    assert!(!w.passes("app", &a));
    let d = w.token(
        &format!("grant_type=refresh_token&refresh_token={r}"),
        Some(("app", SECRET)),
    );
    assert_eq!(cause(&d), Some(Cause::FamilyRevoked));
    // An imported token keeps its other fields when revoked.
    let key = records::token_key("imported-1").unwrap();
    w.kv.insert(
        key.clone(),
        r#"{"client_id":"app","source":"sensedia","expires_at":1900000000}"#.into(),
    );
    w.form(Endpoint::Revoke, "token=imported-1", Some(("app", SECRET)));
    let v: Value = serde_json::from_str(&w.kv[&key]).unwrap();
    assert_eq!(v["revoked"], true);
    assert_eq!(v["source"], "sensedia");
}

#[test]
fn introspection() {
    let mut w = World::new(Mode::Rfc);
    let d = w.token(
        "grant_type=client_credentials&scope=orders",
        Some(("app", SECRET)),
    );
    let t = body(&d)["access_token"].as_str().unwrap().to_string();
    let d = w.form(
        Endpoint::Introspect,
        &format!("token={t}"),
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.status, 200);
    let v = body(&d);
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "app");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "orders");
    assert_eq!(v["exp"], (NOW_MS / 1000) as i64 + 3600);
    assert_eq!(v["iat"], (NOW_MS / 1000) as i64);
    // Another app sees nothing; an origin with introspect_any sees it.
    let d = w.form(
        Endpoint::Introspect,
        &format!("token={t}"),
        Some(("other", "other-secret")),
    );
    assert_eq!(d.reply.body, r#"{"active":false}"#);
    let d = w.form(
        Endpoint::Introspect,
        &format!("token={t}"),
        Some(("origin", "origin-secret")),
    );
    assert_eq!(body(&d)["active"], true);
    // Public apps cannot introspect; unknown tokens are inactive.
    let d = w.form(
        Endpoint::Introspect,
        &format!("token={t}&client_id=public"),
        None,
    );
    assert_eq!(error_of(&d), (401, "invalid_client".into()));
    let d = w.form(Endpoint::Introspect, "token=nope", Some(("app", SECRET)));
    assert_eq!(d.reply.body, r#"{"active":false}"#);
    // Revoked or expired: inactive.
    w.form(
        Endpoint::Revoke,
        &format!("token={t}"),
        Some(("app", SECRET)),
    );
    let d = w.form(
        Endpoint::Introspect,
        &format!("token={t}"),
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.body, r#"{"active":false}"#);
    let d = w.token("grant_type=client_credentials", Some(("app", SECRET)));
    let t2 = body(&d)["access_token"].as_str().unwrap().to_string();
    w.now_ms += 3_600_000;
    let d = w.form(
        Endpoint::Introspect,
        &format!("token={t2}"),
        Some(("app", SECRET)),
    );
    assert_eq!(d.reply.body, r#"{"active":false}"#);
}

#[test]
fn lifetimes_narrow_to_the_app() {
    let mut w = World::new(Mode::Sensedia);
    let d = w.grant_code(
        json!({"client_id": "narrow", "redirect_uri": CB}),
        Some(PROVISION),
    );
    let code = code_of(&d);
    let d = w.token(
        &format!("grant_type=authorization_code&code={code}"),
        Some(("narrow", SECRET)),
    );
    let v = body(&d);
    assert_eq!(v["expires_in"], 600);
    assert!(
        v.get("refresh_token").is_none(),
        "the app's grant_types leave refresh_token out"
    );
}

#[test]
fn store_failures_are_503() {
    let mut w = World::new(Mode::Sensedia);
    w.store_down = true;
    let d = w.grant_code(
        json!({"client_id": "app", "redirect_uri": CB}),
        Some(PROVISION),
    );
    assert_eq!(d.reply.status, 503);
    assert_eq!(cause(&d), Some(Cause::StoreUnavailable));
    // Failed KV writes turn a success into a 503.
    let d = w.token("grant_type=client_credentials", Some(("app", SECRET)));
    let d = writes_failed(d, Endpoint::AccessToken, "KV put timed out".into());
    assert_eq!(d.reply.status, 503);
    assert_eq!(d.entries.len(), 3);
    assert_eq!(d.entries[2].status, Some(503));
}

#[test]
fn metadata_and_routing() {
    let mut w = World::new(Mode::Rfc);
    let r = TestRequest::new(
        "GET",
        "https://gw.example/.well-known/oauth-authorization-server/oauth",
    );
    let d = w.run(Endpoint::Metadata, &r);
    assert_eq!(d.reply.status, 200);
    let v = body(&d);
    assert_eq!(v["issuer"], "https://gw.example/oauth");
    assert_eq!(
        v["grant_types_supported"],
        json!([
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "password"
        ])
    );
    let r = TestRequest::new(
        "POST",
        "https://gw.example/.well-known/oauth-authorization-server/oauth",
    );
    assert_eq!(w.run(Endpoint::Metadata, &r).reply.status, 405);
}
