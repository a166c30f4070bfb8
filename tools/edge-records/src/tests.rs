//! Host tests of every subcommand, over an in-memory store.

use super::cli::Cli;
use super::error::{Exit, OpsError};
use super::policy_info::PolicyInfo;
use super::store::MemStore;
use super::Ctx;
use clap::Parser;
use edge_interceptors::records::{self, Record};
use serde_json::{json, Value};
use std::path::Path;

/// 2026-01-01T00:00:00Z
const NOW: i64 = 1_767_225_600;

struct T {
    store: MemStore,
    policy: PolicyInfo,
    now: i64,
    /// Answer to confirmations (`None`: no terminal).
    answer: Option<bool>,
    asked: Vec<String>,
}

struct Out {
    res: Result<(), OpsError>,
    out: String,
    err: String,
}

impl Out {
    fn ok(self) -> Self {
        if let Err(e) = &self.res {
            panic!("failed: {e}\nstdout: {}\nstderr: {}", self.out, self.err);
        }
        self
    }
    fn exit(&self) -> Exit {
        self.res.as_ref().err().map_or(Exit::Ok, |e| e.exit)
    }
    fn fails(self, exit: Exit) -> Self {
        assert_eq!(
            self.exit(),
            exit,
            "{:?}\nstdout: {}\nstderr: {}",
            self.res,
            self.out,
            self.err
        );
        self
    }
    /// Everything printed, and the error.
    fn all(&self) -> String {
        format!("{}{}{}", self.out, self.err, self.msg())
    }
    fn msg(&self) -> String {
        self.res
            .as_ref()
            .err()
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }
}

fn repo_policy() -> PolicyInfo {
    PolicyInfo::load(
        &Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("wrangler.toml"),
        None,
    )
}

impl T {
    fn new() -> T {
        T {
            store: MemStore::new(),
            policy: repo_policy(),
            now: NOW,
            answer: None,
            asked: Vec::new(),
        }
    }

    fn run(&mut self, args: &[&str], stdin: &str) -> Out {
        let cli = Cli::try_parse_from(std::iter::once("edge-records").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let mut input = stdin.as_bytes();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let answer = self.answer;
        let asked = &mut self.asked;
        let mut confirm = |q: &str| {
            asked.push(q.to_string());
            answer.ok_or_else(|| OpsError::new(Exit::NotConfirmed, "no terminal; pass --yes"))
        };
        let mut ctx = Ctx {
            store: &mut self.store,
            policy: self.policy.clone(),
            now: self.now,
            stdin: &mut input,
            stdin_is_tty: false,
            out: &mut out,
            err: &mut err,
            confirm: &mut confirm,
            clock: None,
        };
        let res = super::cli::run(&mut ctx, cli.cmd);
        Out {
            res,
            out: String::from_utf8(out).unwrap(),
            err: String::from_utf8(err).unwrap(),
        }
    }

    fn app(&self, id: &str) -> Value {
        self.store.value(&format!("app:{id}")).expect("app stored")
    }

    fn token(&self, token: &str) -> Value {
        self.store
            .value(&records::token_key(token).unwrap())
            .expect("token stored")
    }

    fn parses(&self) {
        for (k, (v, _, _)) in &self.store.data {
            if k.starts_with("app:") || k.starts_with("token:") {
                records::parse(k, v).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

fn kv_line(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {out:?}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// app

#[test]
fn app_create_generates_id_and_secret_and_stores_only_the_hash() {
    let mut t = T::new();
    let o = t
        .run(
            &[
                "app",
                "create",
                "--name",
                "Shop",
                "--grant",
                "orders:list-orders",
                "--grant",
                "catalog",
            ],
            "",
        )
        .ok();
    let id = kv_line(&o.out, "client_id");
    let secret = kv_line(&o.out, "client_secret");
    assert_eq!(id.len(), 36);
    assert_eq!(secret.len(), 43);
    let app = t.app(&id);
    assert_eq!(
        app["client_secret_sha256"],
        super::app::secret_hash(&secret)
    );
    assert_eq!(app["status"], "APPROVED");
    assert_eq!(
        app["access"],
        json!([{"api": "orders", "resources": ["list-orders"]}, {"api": "catalog"}])
    );
    assert!(!t.store.data.values().any(|(v, _, _)| v.contains(&secret)));
    assert!(!o.err.contains(&secret));
    t.parses();
}

#[test]
fn app_create_with_a_secret_from_stdin_refuses_duplicates_and_replaces_on_demand() {
    let mut t = T::new();
    let o = t
        .run(
            &[
                "app",
                "create",
                "--client-id",
                "demo-app",
                "--name",
                "Demo App",
                "--secret-stdin",
                "--extra-info",
                r#"{"plan":"gold"}"#,
                "--expires-at",
                "2027-12-31T23:59:59Z",
            ],
            "demo-secret\n",
        )
        .ok();
    assert_eq!(o.out, "client_id=demo-app\n");
    let app = t.app("demo-app");
    assert_eq!(
        app["client_secret_sha256"],
        "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"
    );
    assert_eq!(app["extra_info"], json!({"plan": "gold"}));
    assert_eq!(app["expires_at"], "2027-12-31T23:59:59Z");
    let o = t
        .run(
            &[
                "app",
                "create",
                "--client-id",
                "demo-app",
                "--name",
                "Other",
                "--no-secret",
            ],
            "",
        )
        .fails(Exit::Conflict);
    assert!(o.msg().contains("already exists"));
    assert_eq!(t.app("demo-app")["name"], "Demo App");
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "demo-app",
            "--name",
            "Other",
            "--no-secret",
            "--replace",
        ],
        "",
    )
    .ok();
    assert_eq!(t.app("demo-app")["name"], "Other");
    assert!(t.app("demo-app").get("client_secret_sha256").is_none());
}

#[test]
fn app_create_refuses_bad_input_and_writes_nothing() {
    let mut t = T::new();
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--grant",
            "ordres",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--grant",
            "orders:nope",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--status",
            "ACTIVE",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--extra-info",
            "{",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--expires-at",
            "tomorrow",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--secret-stdin",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--secret-stdin",
        ],
        " padded\n",
    )
    .fails(Exit::BadInput);
    assert!(t.store.data.is_empty());
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--grant",
            "ordres",
            "--allow-unknown",
        ],
        "",
    )
    .ok();
}

#[test]
fn dry_runs_write_nothing() {
    let mut t = T::new();
    let o = t
        .run(
            &[
                "app",
                "create",
                "--client-id",
                "a",
                "--name",
                "A",
                "--dry-run",
            ],
            "",
        )
        .ok();
    assert!(o.err.contains("dry run"), "{}", o.err);
    assert!(!o.out.contains("client_secret="));
    assert!(t.store.data.is_empty());
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--no-secret",
        ],
        "",
    )
    .ok();
    let before = t.store.data.clone();
    for args in [
        vec!["app", "revoke", "a", "--dry-run"],
        vec!["app", "set-status", "a", "PENDING", "--dry-run"],
        vec!["app", "grant", "a", "orders", "--dry-run"],
        vec!["app", "set-expiry", "a", "1900000000", "--dry-run"],
        vec!["app", "set-extra-info", "a", "{}", "--dry-run"],
        vec![
            "app",
            "key",
            "add",
            "a",
            "--kid",
            "k",
            "--hmac",
            "--generate",
            "--dry-run",
        ],
        vec!["token", "issue", "--app", "a", "--dry-run"],
        vec!["jti", "revoke", "--issuer", "i", "--jti", "j", "--dry-run"],
    ] {
        let o = t.run(&args, "").ok();
        assert!(o.err.contains("dry run"), "{args:?}: {}", o.err);
    }
    t.run(&["token", "import", "--app", "a", "--dry-run"], "tok\n")
        .ok();
    assert_eq!(t.store.data, before);
}

#[test]
fn app_lifecycle_commands() {
    let mut t = T::new();
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--no-secret",
        ],
        "",
    )
    .ok();
    t.run(&["app", "set-status", "a", "pending"], "").ok();
    assert_eq!(t.app("a")["status"], "PENDING");
    let o = t.run(&["app", "set-status", "a", "PENDING"], "").ok();
    assert!(o.err.contains("nothing written"));
    let writes = t.store.batches.len();
    let o = t.run(&["app", "revoke", "a"], "").ok();
    assert_eq!(t.app("a")["revoked"], true);
    assert!(
        o.err
            .contains("takes effect everywhere by 2026-01-01T00:00:30Z"),
        "{}",
        o.err
    );
    t.run(&["app", "reinstate", "a"], "").ok();
    assert_eq!(t.app("a")["revoked"], false);
    assert_eq!(t.store.batches.len(), writes + 2);
    t.run(&["app", "set-expiry", "a", "2027-01-31T20:59:59-03:00"], "")
        .ok();
    assert_eq!(t.app("a")["expires_at"], "2027-01-31T23:59:59Z");
    t.run(&["app", "set-expiry", "a", "never"], "").ok();
    assert!(t.app("a").get("expires_at").is_none());
    t.run(&["app", "grant", "a", "orders:list-orders", "catalog"], "")
        .ok();
    t.run(&["app", "grant", "a", "orders:one-order"], "").ok();
    assert_eq!(
        t.app("a")["access"],
        json!([{"api": "orders", "resources": ["list-orders", "one-order"]}, {"api": "catalog"}])
    );
    t.run(&["app", "withdraw", "a", "orders:list-orders"], "")
        .ok();
    t.run(&["app", "withdraw", "a", "catalog"], "").ok();
    assert_eq!(
        t.app("a")["access"],
        json!([{"api": "orders", "resources": ["one-order"]}])
    );
    t.run(&["app", "grant", "a", "status"], "").ok();
    t.run(&["app", "withdraw", "a", "status:x"], "")
        .fails(Exit::BadInput);
    t.run(&["app", "set-extra-info", "a", r#"{"plan":"silver"}"#], "")
        .ok();
    assert_eq!(t.app("a")["extra_info"], json!({"plan": "silver"}));
    t.run(&["app", "set-extra-info", "a", "--clear"], "").ok();
    assert!(t.app("a").get("extra_info").is_none());
    for args in [
        vec!["app", "revoke", "nobody"],
        vec!["app", "show", "nobody"],
        vec!["app", "grant", "nobody", "orders"],
        vec!["app", "key", "list", "nobody"],
    ] {
        t.run(&args, "").fails(Exit::NotFound);
    }
    t.parses();
}

#[test]
fn tool_fields_and_unknown_fields_survive_edits() {
    let mut t = T::new();
    t.store.insert(
        "app:x",
        r#"{"name":"X","status":"APPROVED","access":[],"crm_id":42}"#,
    );
    t.run(&["app", "revoke", "x"], "").ok();
    assert_eq!(t.app("x")["crm_id"], 42);
    t.store.insert("app:bad", "[1]");
    t.run(&["app", "revoke", "bad"], "").fails(Exit::Malformed);
}

#[test]
fn app_show_and_list() {
    let mut t = T::new();
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "Alpha",
            "--no-secret",
        ],
        "",
    )
    .ok();
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "b",
            "--name",
            "Beta",
            "--status",
            "PENDING",
            "--no-secret",
        ],
        "",
    )
    .ok();
    t.run(
        &["app", "key", "add", "a", "--kid", "h1", "--hmac"],
        &"s".repeat(40),
    )
    .ok();
    let o = t.run(&["app", "show", "a"], "").ok();
    let v: Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(v["state"], "usable");
    assert_eq!(v["record"]["hmac_secrets"][0]["secret_b64"], "<redacted>");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode("s".repeat(40));
    assert!(!o.out.contains(&b64));
    let o = t.run(&["app", "list"], "").ok();
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("CLIENT_ID"));
    assert!(lines[2].contains("not usable: status PENDING") && lines[2].contains("Beta"));
    let o = t.run(&["app", "list", "--status", "pending"], "").ok();
    assert_eq!(o.out.lines().count(), 2);
}

// ---------------------------------------------------------------------------------------------
// app key

const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEH6thZ0VFYD9UdZuNl2j2sA1C31lb
osY8KkHTH9KQmoxsNOB++r9zP3NA1dSO1SJryY3ILOIXE/zdXJ+KKWPSnw==
-----END PUBLIC KEY-----
";

#[test]
fn app_keys_pem_jwk_hmac() {
    let mut t = T::new();
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            "a",
            "--name",
            "A",
            "--no-secret",
        ],
        "",
    )
    .ok();
    let d = tempfile::tempdir().unwrap();
    let pem = d.path().join("k.pem");
    std::fs::write(&pem, EC_PEM).unwrap();
    t.run(
        &[
            "app",
            "key",
            "add",
            "a",
            "--kid",
            "ec-1",
            "--pem",
            pem.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    let jwk = r#"{"kty":"OKP","crv":"Ed25519","x":"2bkpgj-wEor0E9btBnz3uhzZgG6ZtFlb3dSfj9TPkX8"}"#;
    t.run(
        &["app", "key", "add", "a", "--kid", "ed-1", "--jwk", "-"],
        jwk,
    )
    .ok();
    let secret = "a-shared-secret-of-at-least-32-bytes!!";
    let o = t
        .run(
            &["app", "key", "add", "a", "--kid", "h-1", "--hmac"],
            &format!("{secret}\n"),
        )
        .ok();
    assert!(!o.out.contains(secret) && !o.err.contains(secret));
    let o = t
        .run(
            &[
                "app",
                "key",
                "add",
                "a",
                "--kid",
                "h-2",
                "--hmac",
                "--generate",
            ],
            "",
        )
        .ok();
    let generated = kv_line(&o.out, "hmac_secret_b64");
    let app = t.app("a");
    assert_eq!(app["signature_keys"][0]["alg"], "ES256");
    assert_eq!(app["signature_keys"][0]["pem"], EC_PEM);
    assert_eq!(app["signature_keys"][1]["alg"], "EdDSA");
    assert_eq!(app["signature_keys"][1]["jwk"]["crv"], "Ed25519");
    use base64::Engine;
    assert_eq!(
        app["hmac_secrets"][0]["secret_b64"],
        base64::engine::general_purpose::STANDARD.encode(secret)
    );
    assert_eq!(app["hmac_secrets"][1]["secret_b64"], generated);
    let Record::App(parsed) = records::parse("app:a", &app.to_string()).unwrap() else {
        panic!()
    };
    assert_eq!(
        (parsed.signature_keys.len(), parsed.hmac_secrets.len()),
        (2, 2)
    );
    assert!(
        !format!("{parsed:?}").contains(&generated),
        "Debug must redact"
    );

    // Duplicate key ids, malformed input, short secrets: refused, nothing written.
    let before = t.store.data.clone();
    t.run(
        &["app", "key", "add", "a", "--kid", "h-1", "--jwk", "-"],
        jwk,
    )
    .fails(Exit::Conflict);
    t.run(
        &["app", "key", "add", "a", "--kid", "x", "--pem", "-"],
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .fails(Exit::BadInput);
    t.run(&["app", "key", "add", "a", "--kid", "x", "--jwk", "-"], "{")
        .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "key",
            "add",
            "a",
            "--kid",
            "x",
            "--pem",
            "/nonexistent/k.pem",
        ],
        "",
    )
    .fails(Exit::BadInput);
    t.run(
        &["app", "key", "add", "a", "--kid", "x", "--hmac"],
        "short\n",
    )
    .fails(Exit::BadInput);
    t.run(
        &["app", "key", "add", "a", "--kid", "x", "--hmac", "--base64"],
        "!!!\n",
    )
    .fails(Exit::BadInput);
    assert_eq!(t.store.data, before);
    t.run(
        &[
            "app",
            "key",
            "add",
            "a",
            "--kid",
            "x",
            "--hmac",
            "--allow-short-secret",
        ],
        "short\n",
    )
    .ok();
    t.run(
        &[
            "app",
            "key",
            "add",
            "a",
            "--kid",
            "h-1",
            "--jwk",
            "-",
            "--replace",
        ],
        jwk,
    )
    .ok();
    assert_eq!(t.app("a")["hmac_secrets"].as_array().unwrap().len(), 2);

    let o = t.run(&["app", "key", "list", "a"], "").ok();
    assert!(o.out.contains("ec-1") && o.out.contains("hmac") && !o.out.contains(&generated));
    t.run(&["app", "key", "remove", "a", "--kid", "ec-1"], "")
        .ok();
    t.run(&["app", "key", "remove", "a", "--kid", "ec-1"], "")
        .fails(Exit::NotFound);
    assert_eq!(t.app("a")["signature_keys"].as_array().unwrap().len(), 2);
    t.parses();
}

// ---------------------------------------------------------------------------------------------
// token

fn with_app(t: &mut T, id: &str) {
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            id,
            "--name",
            id,
            "--grant",
            "orders",
            "--no-secret",
        ],
        "",
    )
    .ok();
}

#[test]
fn token_issue_prints_once_and_stores_the_hash_with_owner_metadata() {
    let mut t = T::new();
    with_app(&mut t, "a");
    let o = t
        .run(
            &[
                "token",
                "issue",
                "--app",
                "a",
                "--expires-in",
                "1h",
                "--scope",
                "orders:list-orders",
                "--extra-info",
                r#"{"user":"alice"}"#,
            ],
            "",
        )
        .ok();
    let token = o.out.trim_end().to_string();
    assert_eq!(o.out, format!("{token}\n"));
    assert_eq!(token.len(), 43);
    let rec = t.token(&token);
    assert_eq!(rec["client_id"], "a");
    assert_eq!(rec["grant_type"], "client_credentials");
    assert_eq!(rec["expires_at"], "2026-01-01T01:00:00Z");
    assert_eq!(
        rec["scope"],
        json!([{"api": "orders", "resources": ["list-orders"]}])
    );
    assert_eq!(rec["extra_info"], json!({"user": "alice"}));
    let key = records::token_key(&token).unwrap();
    assert_eq!(t.store.metadata(&key), Some(json!({"client_id": "a"})));
    assert!(!o.err.contains(&token));
    assert!(!t
        .store
        .data
        .iter()
        .any(|(k, (v, _, _))| k.contains(&token) || v.contains(&token)));

    t.run(&["token", "issue", "--app", "nobody"], "")
        .fails(Exit::NotFound);
    t.run(&["token", "issue", "--app", "a", "--scope", "nope"], "")
        .fails(Exit::BadInput);
    let o = t
        .run(&["token", "issue", "--app", "a", "--scope", "catalog"], "")
        .ok();
    assert!(o.err.contains("not granted all of the scope"), "{}", o.err);
}

#[test]
fn token_import_reads_stdin_and_refuses_known_tokens_unless_replace() {
    let mut t = T::new();
    with_app(&mut t, "a");
    t.run(
        &[
            "token",
            "import",
            "--app",
            "a",
            "--grant-type",
            "client_credentials",
        ],
        "tok-1\ntok-2\r\n",
    )
    .ok();
    assert_eq!(t.token("tok-1")["grant_type"], "client_credentials");
    assert_eq!(t.token("tok-2")["revoked"], false);
    let o = t
        .run(&["token", "import", "--app", "a"], "tok-2\n")
        .fails(Exit::Conflict);
    assert!(!o.msg().contains("tok-2"));
    t.run(
        &["token", "import", "--app", "a", "--revoked", "--replace"],
        "tok-2\n",
    )
    .ok();
    assert_eq!(t.token("tok-2")["revoked"], true);
    t.run(
        &[
            "token",
            "import",
            "--app",
            "a",
            "--expires-at",
            "2024-01-01T00:00:00Z",
        ],
        "tok-3\n",
    )
    .ok();
    assert_eq!(t.token("tok-3")["expires_at"], "2024-01-01T00:00:00Z");
    t.run(&["token", "import", "--app", "a"], "")
        .fails(Exit::BadInput);
    t.run(&["token", "import", "--app", "a"], "dup\ndup\n")
        .fails(Exit::BadInput);
    let o = t
        .run(&["token", "import", "--app", "a"], "has space \n")
        .fails(Exit::BadInput);
    assert!(!o.msg().contains("has space"));
    t.run(&["token", "import", "--app", "nobody"], "tok-9\n")
        .fails(Exit::NotFound);
    t.parses();
}

#[test]
fn token_revoke_by_stdin_hash_and_app() {
    let mut t = T::new();
    with_app(&mut t, "a");
    with_app(&mut t, "b");
    t.run(&["token", "import", "--app", "a"], "a-1\na-2\n").ok();
    t.run(&["token", "import", "--app", "b"], "b-1\n").ok();

    let o = t.run(&["token", "revoke"], "a-1\n").ok();
    assert_eq!(t.token("a-1")["revoked"], true);
    assert_eq!(t.token("a-2")["revoked"], false);
    assert!(
        o.err
            .contains("takes effect everywhere by 2026-01-01T00:00:30Z"),
        "{}",
        o.err
    );
    assert!(!o.err.contains("a-1\n"));
    let o = t.run(&["token", "revoke"], "a-1\n").ok();
    assert!(o.err.contains("1 already revoked"));

    // Unknown tokens: nothing revoked at all.
    let o = t
        .run(&["token", "revoke"], "a-2\nnope\n")
        .fails(Exit::NotFound);
    assert!(o.msg().contains("line 2") && !o.msg().contains("nope"));
    assert_eq!(t.token("a-2")["revoked"], false);

    let h = records::token_key("a-2").unwrap();
    t.run(&["token", "revoke", "--hash", &h[6..].to_uppercase()], "")
        .ok();
    assert_eq!(t.token("a-2")["revoked"], true);
    t.run(&["token", "revoke", "--hash", "xyz"], "")
        .fails(Exit::BadInput);

    // Several apps at once: confirmation, or --yes.
    t.run(&["token", "import", "--app", "a", "--replace"], "a-1\n")
        .ok();
    let o = t
        .run(&["token", "revoke", "--app", "a", "--app", "b"], "")
        .fails(Exit::NotConfirmed);
    assert!(o.msg().contains("--yes"));
    assert_eq!(t.asked.len(), 1);
    assert!(t.asked[0].contains("2 apps (a, b)"), "{}", t.asked[0]);
    assert_eq!(t.token("b-1")["revoked"], false);
    t.answer = Some(false);
    t.run(&["token", "revoke", "--app", "a", "--app", "b"], "")
        .fails(Exit::NotConfirmed);
    assert_eq!(t.token("b-1")["revoked"], false);
    t.answer = Some(true);
    t.run(&["token", "revoke", "--app", "a", "--app", "b"], "")
        .ok();
    assert_eq!(t.token("b-1")["revoked"], true);
    assert_eq!(t.token("a-1")["revoked"], true);

    t.answer = None;
    t.run(&["token", "import", "--app", "a", "--replace"], "a-1\n")
        .ok();
    t.run(&["token", "import", "--app", "b", "--replace"], "b-1\n")
        .ok();
    t.run(&["token", "revoke", "--yes"], "a-1\nb-1\n").ok();
    assert_eq!(t.token("b-1")["revoked"], true);
    // One app's tokens need no confirmation.
    t.run(&["token", "import", "--app", "a", "--replace"], "a-1\n")
        .ok();
    t.run(&["token", "revoke", "--app", "a"], "").ok();
    assert_eq!(t.token("a-1")["revoked"], true);
    t.run(&["token", "revoke", "--app", "nobody"], "")
        .fails(Exit::NotFound);
    t.parses();
}

#[test]
fn remote_revocations_state_the_readme_bound() {
    let mut t = T::new();
    t.store.remote = true;
    with_app(&mut t, "a");
    t.run(&["token", "import", "--app", "a"], "tok\n").ok();
    let o = t.run(&["token", "revoke"], "tok\n").ok();
    assert!(
        o.err.contains("by 2026-01-01T00:01:30Z (within 90 s: up to 60 s of KV propagation + 30 s cache.ttl_seconds)"),
        "{}",
        o.err
    );
    let o = t.run(&["app", "revoke", "a"], "").ok();
    assert!(o.err.contains("within 90 s"), "{}", o.err);
    t.policy.ttl_s = 5;
    let o = t.run(&["app", "reinstate", "a"], "").ok();
    assert!(!o.err.contains("takes effect"));
    let o = t.run(&["app", "revoke", "a"], "").ok();
    assert!(o.err.contains("within 65 s"), "{}", o.err);
}

#[test]
fn token_show_and_list() {
    let mut t = T::new();
    with_app(&mut t, "a");
    with_app(&mut t, "b");
    t.run(
        &[
            "token",
            "import",
            "--app",
            "a",
            "--scope",
            "orders:one-order",
        ],
        "a-1\n",
    )
    .ok();
    t.run(
        &[
            "token",
            "import",
            "--app",
            "a",
            "--expires-at",
            "2025-01-01T00:00:00Z",
        ],
        "a-2\n",
    )
    .ok();
    t.run(&["token", "import", "--app", "b"], "b-1\n").ok();
    // A token written by hand (no KV metadata) is still found by reading it.
    let hand = records::token_key("hand").unwrap();
    t.store.insert(&hand, r#"{"client_id":"a"}"#);
    let o = t.run(&["token", "show"], "a-2\n").ok();
    let v: Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(v["state"], "expired");
    assert_eq!(v["app_state"], "usable");
    let o = t.run(&["token", "show", "--hash", &hand], "").ok();
    assert!(o.out.contains("\"valid\""));
    t.run(&["token", "show"], "nope\n").fails(Exit::NotFound);
    let o = t.run(&["token", "list", "--app", "a"], "").ok();
    assert_eq!(o.out.lines().count(), 4, "{}", o.out);
    assert!(o.out.contains("orders:one-order") && o.out.contains("expired"));
    assert!(o.out.contains(&hand[6..]));
    assert!(!o.out.contains(&records::token_key("b-1").unwrap()[6..]));
    t.run(&["token", "list", "--app", "nobody"], "")
        .fails(Exit::NotFound);
}

// ---------------------------------------------------------------------------------------------
// jti

#[test]
fn jti_revoke_writes_the_documented_record() {
    let mut t = T::new();
    let o = t
        .run(
            &[
                "jti",
                "revoke",
                "--issuer",
                "https://id.example.com/",
                "--jti",
                "abc-1",
                "--expires-at",
                "2026-01-02T00:00:00Z",
            ],
            "",
        )
        .ok();
    let key = "jti:https://id.example.com/:abc-1";
    assert_eq!(
        t.store.value(key).unwrap(),
        json!({"revoked": true, "expires_at": "2026-01-02T00:00:00Z"})
    );
    assert_eq!(t.store.data[key].2, Some(NOW + 2 * 86_400));
    assert!(o.err.contains("takes effect everywhere"));
    let Record::Jti(j) = records::parse(key, &t.store.data[key].0).unwrap() else {
        panic!("not a jti record")
    };
    assert!(j.revoked);
    assert_eq!(j.expires_at, Some(NOW + 86_400));
    t.run(&["jti", "revoke", "--issuer", "i", "--jti", "j"], "")
        .ok();
    assert_eq!(t.store.value("jti:i:j").unwrap(), json!({"revoked": true}));
    assert_eq!(t.store.data["jti:i:j"].2, None);
    t.run(&["jti", "revoke", "--issuer", "", "--jti", "j"], "")
        .fails(Exit::BadInput);
    let long = "x".repeat(600);
    t.run(&["jti", "revoke", "--issuer", "i", "--jti", &long], "")
        .fails(Exit::BadInput);
}

// ---------------------------------------------------------------------------------------------
// import sensedia

fn fixture(name: &str) -> String {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures/sensedia")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

const A1: &str = "3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e01";
const A2: &str = "3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e02";
const A3: &str = "3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e03";
const A4: &str = "3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e04";
const A5: &str = "3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e05";

fn import_sample(t: &mut T, extra: &[&str]) -> Out {
    let apps = fixture("apps.json");
    let tokens = fixture("tokens.json");
    let mut args = vec![
        "import",
        "sensedia",
        "--apps",
        &apps,
        "--tokens",
        &tokens,
        "--api-map",
        "Catalog API=catalog",
        "--scope-map",
        "read=orders:list-orders,one-order",
    ];
    args.extend_from_slice(extra);
    t.run(&args, "")
}

/// Whether the gateway would let `token` call `api`/`resource` (the Worker's own rules).
fn passes(t: &T, token: &str, api: &str, resource: Option<&str>) -> bool {
    let key = records::token_key(token).unwrap();
    let Some((text, _, _)) = t.store.data.get(&key) else {
        return false;
    };
    let Ok(Record::Token(tok)) = records::parse(&key, text) else {
        panic!("{key}")
    };
    let app_key = records::app_key(&tok.client_id).unwrap();
    let Some((atext, _, _)) = t.store.data.get(&app_key) else {
        return false;
    };
    let Ok(Record::App(app)) = records::parse(&app_key, atext) else {
        panic!()
    };
    app.status == records::AppStatus::Approved
        && !app.revoked
        && !records::is_expired(app.expires_at, t.now)
        && records::grants_access(&app.access, api, resource)
        && !tok.revoked
        && !records::is_expired(tok.expires_at, t.now)
        && tok
            .scope
            .as_ref()
            .is_none_or(|s| records::grants_access(s, api, resource))
}

#[test]
fn sensedia_sample_maps_every_status() {
    let mut t = T::new();
    let o = import_sample(&mut t, &["--expires-in-unit", "seconds"]).ok();
    assert!(
        o.out.contains("apps: 5 in the export: 5 created"),
        "{}",
        o.out
    );
    assert!(
        o.out.contains("tokens: 9 in the export: 9 created"),
        "{}",
        o.out
    );
    t.parses();

    // Apps: status, secret hash, grants (renamed with --api-map), extra info.
    let a1 = t.app(A1);
    assert_eq!(a1["status"], "APPROVED");
    assert_eq!(
        a1["client_secret_sha256"],
        super::app::secret_hash("7f3e9a51-approved-secret")
    );
    assert_eq!(a1["access"], json!([{"api": "orders"}, {"api": "catalog"}]));
    assert_eq!(
        a1["extra_info"],
        json!({"tier": "gold", "partnerId": "p-001"})
    );
    assert_eq!(a1["source"], "sensedia");
    assert_eq!(
        t.app(A2)["access"],
        json!([{"api": "orders", "resources": ["list-orders", "one-order"]}])
    );
    assert_eq!(t.app(A3)["status"], "PENDING");
    assert!(t.app(A3).get("extra_info").is_none());
    assert_eq!(t.app(A4)["status"], "REJECTED");
    assert!(t.app(A4).get("client_secret_sha256").is_none());
    assert_eq!(t.app(A5)["status"], "CANCELLED");

    // Tokens: valid there ⇔ valid here.
    let tok = |n: &str| format!("c0ffee00-000{n}");
    let code = |suffix: &str| -> String {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("tokens.json")).unwrap())
                .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["code"].as_str().unwrap().to_string())
            .find(|c| c.starts_with(&tok(suffix)))
            .unwrap()
    };
    let active = code("1");
    assert!(passes(&t, &active, "orders", Some("create-order")));
    assert_eq!(t.token(&active)["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(t.token(&active)["extra_info"], json!({"user": "alice"}));
    assert_eq!(t.token(&active)["grant_type"], "client_credentials");
    assert!(
        !t.token(&active).to_string().contains("r-0001"),
        "refresh tokens are not imported"
    );
    assert!(passes(&t, &code("2"), "catalog", None));
    assert!(t.token(&code("2")).get("expires_at").is_none());
    assert_eq!(t.token(&code("3"))["revoked"], true);
    assert!(!passes(&t, &code("3"), "orders", None));
    assert_eq!(
        t.token(&code("4"))["expires_at"],
        "2026-01-01T00:00:00Z",
        "expired by flag: now"
    );
    assert!(!passes(&t, &code("4"), "orders", None));
    assert_eq!(
        t.token(&code("5"))["expires_at"],
        "2024-01-01T00:00:00Z",
        "expiredDate wins over expiresIn"
    );
    assert!(!passes(&t, &code("5"), "orders", None));
    // scope "read" (mapped) ∩ apis [orders]: list-orders and one-order only.
    let scoped = code("6");
    assert_eq!(
        t.token(&scoped)["scope"],
        json!([{"api": "orders", "resources": ["list-orders", "one-order"]}])
    );
    assert_eq!(
        t.token(&scoped)["expires_at"],
        "2099-01-01T00:00:00Z",
        "epoch ms"
    );
    assert!(passes(&t, &scoped, "orders", Some("list-orders")));
    assert!(!passes(&t, &scoped, "orders", Some("create-order")));
    assert!(!passes(&t, &scoped, "catalog", None));
    // creationDate + expiresIn (seconds): 2025-06-01 + 10 years.
    assert_eq!(t.token(&code("7"))["expires_at"], "2035-05-30T00:00:00Z");
    assert!(passes(&t, &code("7"), "orders", Some("one-order")));
    assert!(!passes(&t, &code("8"), "orders", None), "app PENDING");
    assert!(!passes(&t, &code("9"), "orders", None), "app CANCELLED");
    assert_eq!(
        t.token(&code("9"))["scope"],
        json!([{"api": "orders"}, {"api": "catalog"}])
    );

    // The owner is in KV metadata, so `token list` finds imported tokens.
    let o = t.run(&["token", "list", "--app", A1], "").ok();
    assert!(o.err.contains("6 token(s)"), "{}", o.err);
}

#[test]
fn sensedia_expires_in_unit_is_explicit() {
    let mut t = T::new();
    let o = import_sample(&mut t, &[]).fails(Exit::BadInput);
    assert!(o.err.contains("--expires-in-unit"), "{}", o.err);
    assert!(o.msg().contains("nothing written"));
    assert!(t.store.data.is_empty());
    import_sample(&mut t, &["--expires-in-unit", "milliseconds"]).ok();
    // 315360000 ms = 3.65 days after 2025-06-01.
    assert_eq!(
        t.token("c0ffee00-0007-4a5b-8c9d-expiresin007")["expires_at"],
        "2025-06-04T15:36:00Z"
    );
}

#[test]
fn sensedia_reimport_is_idempotent_and_never_lifts_a_revocation() {
    let mut t = T::new();
    import_sample(&mut t, &["--expires-in-unit", "seconds"]).ok();
    let writes = t.store.batches.len();
    t.now += 3600;
    let o = import_sample(&mut t, &["--expires-in-unit", "seconds"]).ok();
    assert!(
        o.out.contains("5 unchanged") && o.out.contains("9 unchanged"),
        "{}",
        o.out
    );
    assert_eq!(t.store.batches.len(), writes, "nothing rewritten");

    let active = "c0ffee00-0001-4a5b-8c9d-active000001";
    t.run(&["token", "revoke"], &format!("{active}\n")).ok();
    t.run(
        &[
            "app",
            "key",
            "add",
            A1,
            "--kid",
            "h",
            "--hmac",
            "--generate",
        ],
        "",
    )
    .ok();
    t.run(&["app", "revoke", A2], "").ok();
    let o = import_sample(&mut t, &["--expires-in-unit", "seconds"]).ok();
    assert!(o.out.contains("1 kept revoked"), "{}", o.out);
    assert_eq!(t.token(active)["revoked"], true);
    assert_eq!(
        t.app(A1)["hmac_secrets"].as_array().unwrap().len(),
        1,
        "keys added here survive"
    );
    assert_eq!(t.app(A2)["revoked"], true, "app revocations survive");
}

#[test]
fn sensedia_conflicts_with_records_of_other_origin() {
    let mut t = T::new();
    t.run(
        &[
            "app",
            "create",
            "--client-id",
            A1,
            "--name",
            "Mine",
            "--no-secret",
        ],
        "",
    )
    .ok();
    let o = import_sample(&mut t, &["--expires-in-unit", "seconds"]).fails(Exit::BadInput);
    assert!(
        o.err.contains("was not imported from Sensedia"),
        "{}",
        o.err
    );
    assert!(
        o.err.contains("is not imported (see its error)"),
        "{}",
        o.err
    );
    assert_eq!(t.app(A1)["name"], "Mine");
    assert_eq!(t.store.data.len(), 1);
    // --skip-errors: the others are imported, A1 and its tokens are not.
    let o = import_sample(&mut t, &["--expires-in-unit", "seconds", "--skip-errors"]).ok();
    assert!(o.out.contains("skipped: 7 record(s)"), "{}", o.out);
    assert_eq!(t.app(A1)["name"], "Mine");
    assert_eq!(t.app(A2)["name"], "Reporting Job");
    // --overwrite merges.
    import_sample(&mut t, &["--expires-in-unit", "seconds", "--overwrite"]).ok();
    assert_eq!(t.app(A1)["name"], "Partner Portal");
}

#[test]
fn sensedia_bad_exports_are_reported_with_reasons_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let apps = d.path().join("apps.json");
    let tokens = d.path().join("tokens.json");
    std::fs::write(
        &apps,
        json!({"content": [
            {"clientId": "ok", "name": "OK", "status": "APPROVED", "apis": ["orders"], "future": 1},
            {"clientId": "bad-status", "name": "B", "status": "ACTIVE"},
            {"name": "no id", "status": "APPROVED"},
            {"clientId": "dup", "name": "D1", "status": "APPROVED"},
            {"clientId": "dup", "name": "D2", "status": "APPROVED"},
            "not an object"
        ]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        &tokens,
        json!([
            {"code": "t-ok", "app": {"clientId": "ok"}, "status": "ACTIVE"},
            {"code": "t-secret-code", "app": {"clientId": "ok"}, "status": "WEIRD"},
            {"code": "t-orphan", "app": {"clientId": "nowhere"}, "status": "ACTIVE"},
            {"code": "t-dupapp", "app": {"clientId": "dup"}, "status": "ACTIVE"},
            {"code": "t-ok", "app": {"clientId": "ok"}, "status": "ACTIVE"},
            {"code": "t-date", "app": {"clientId": "ok"}, "status": "ACTIVE", "expiredDate": "2030-01-01 00:00"},
            {"code": "t-scope", "app": {"clientId": "ok"}, "status": "ACTIVE", "scope": "write"},
            {"app": {"clientId": "ok"}, "status": "ACTIVE"}
        ])
        .to_string(),
    )
    .unwrap();
    let mut t = T::new();
    let (a, k) = (apps.to_str().unwrap(), tokens.to_str().unwrap());
    let o = t
        .run(&["import", "sensedia", "--apps", a, "--tokens", k], "")
        .fails(Exit::BadInput);
    for reason in [
        "#content[1] (client id \"bad-status\"): status: expected APPROVED, PENDING",
        "no clientId",
        "duplicate client id",
        "not a JSON object",
        "status: expected ACTIVE, REVOKED or EXPIRED",
        "unknown app \"nowhere\"",
        "its app \"dup\" is not imported",
        "the same code as",
        "time zone",
        "scope value \"write\"",
        "no code",
    ] {
        assert!(o.err.contains(reason), "missing {reason:?} in\n{}", o.err);
    }
    assert!(!o.err.contains("t-secret-code"), "codes are never printed");
    assert!(t.store.data.is_empty());
    let o = t
        .run(
            &[
                "import",
                "sensedia",
                "--apps",
                a,
                "--tokens",
                k,
                "--skip-errors",
                "--ignore-scope",
            ],
            "",
        )
        .ok();
    assert!(
        o.out.contains("apps: 6 in the export: 1 created"),
        "{}",
        o.out
    );
    assert!(
        o.out.contains("tokens: 8 in the export: 2 created"),
        "{}",
        o.out
    );
    assert!(t.store.value("app:ok").unwrap()["future"].is_null());

    t.run(&["import", "sensedia", "--apps", "/nonexistent.json"], "")
        .fails(Exit::BadInput);
    let notjson = d.path().join("x.json");
    std::fs::write(&notjson, "{").unwrap();
    t.run(
        &["import", "sensedia", "--apps", notjson.to_str().unwrap()],
        "",
    )
    .fails(Exit::BadInput);
}

#[test]
fn sensedia_tokens_may_belong_to_apps_already_in_kv() {
    let mut t = T::new();
    with_app(&mut t, "here");
    let d = tempfile::tempdir().unwrap();
    let tokens = d.path().join("t.json");
    std::fs::write(
        &tokens,
        json!([{"code": "x-1", "app": {"clientId": "here"}, "status": "ACTIVE"}]).to_string(),
    )
    .unwrap();
    t.run(
        &["import", "sensedia", "--tokens", tokens.to_str().unwrap()],
        "",
    )
    .ok();
    assert_eq!(t.token("x-1")["client_id"], "here");
    // The same code stored for another app is a conflict.
    with_app(&mut t, "other");
    std::fs::write(
        &tokens,
        json!([{"code": "x-1", "app": {"clientId": "other"}, "status": "ACTIVE"}]).to_string(),
    )
    .unwrap();
    t.run(
        &["import", "sensedia", "--tokens", tokens.to_str().unwrap()],
        "",
    )
    .fails(Exit::Conflict);
}

#[test]
fn large_imports_are_written_in_bulk_batches_of_10000() {
    let d = tempfile::tempdir().unwrap();
    let apps = d.path().join("apps.json");
    let tokens = d.path().join("tokens.json");
    std::fs::write(
        &apps,
        json!([{"clientId": "bulk", "name": "Bulk", "status": "APPROVED", "apis": ["orders"]}])
            .to_string(),
    )
    .unwrap();
    let list: Vec<Value> = (0..25_000)
        .map(|i| json!({"code": format!("bulk-token-{i:06}"), "app": {"clientId": "bulk"}, "status": "ACTIVE", "expiredDate": "2099-01-01T00:00:00Z"}))
        .collect();
    std::fs::write(&tokens, Value::Array(list).to_string()).unwrap();
    let mut t = T::new();
    let o = t
        .run(
            &[
                "import",
                "sensedia",
                "--apps",
                apps.to_str().unwrap(),
                "--tokens",
                tokens.to_str().unwrap(),
            ],
            "",
        )
        .ok();
    assert!(o.out.contains("25000 created"), "{}", o.out);
    assert_eq!(t.store.batches, vec![10_000, 10_000, 5_001]);
    assert!(o.err.contains("wrote 25001/25001"));
}

// ---------------------------------------------------------------------------------------------
// export, check

#[test]
fn export_writes_a_private_restorable_file() {
    let mut t = T::new();
    with_app(&mut t, "a");
    t.run(&["token", "import", "--app", "a"], "tok\n").ok();
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("backup.json");
    let fs = f.to_str().unwrap();
    t.run(&["export", "--out", fs], "").ok();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["key"], "app:a");
    assert!(items[0]["value"].is_string());
    assert_eq!(items[1]["metadata"], json!({"client_id": "a"}));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    t.run(&["export", "--out", fs], "").fails(Exit::Conflict);
    t.run(&["export", "--out", fs, "--force", "--prefix", "app:"], "")
        .ok();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let o = t.run(&["export", "--out", "-"], "").ok();
    assert!(o.out.contains("\"token:"));
}

#[test]
fn check_lists_malformed_records_by_key() {
    let mut t = T::new();
    with_app(&mut t, "a");
    t.run(&["token", "import", "--app", "a"], "tok\n").ok();
    t.run(&["jti", "revoke", "--issuer", "i", "--jti", "j"], "")
        .ok();
    let o = t.run(&["check"], "").ok();
    assert!(o.out.contains("0 malformed"), "{}", o.out);
    t.store
        .insert("app:broken", r#"{"name":"B","status":"ACTIVE"}"#);
    t.store.insert("token:zz", r#"{"client_id":"ghost"}"#);
    t.store.insert("jti:i:bad", r#"{"revoked":"yes"}"#);
    t.store.insert("misc:thing", "whatever");
    let o = t.run(&["check"], "").fails(Exit::Malformed);
    assert!(
        o.out.contains("malformed: app:broken: at status (line 1, column 29): unknown variant, expected one of `APPROVED`")
            && o.out.contains("malformed: jti:i:bad: revoked is not true or false"),
        "{}",
        o.out
    );
    assert!(
        o.err.contains("token:zz: not a lowercase SHA-256"),
        "{}",
        o.err
    );
    assert!(
        o.err.contains("its app \"ghost\" does not exist"),
        "{}",
        o.err
    );
    assert!(o.out.contains("1 key(s) of no known type"), "{}", o.out);
    t.run(&["check", "--prefix", "token:"], "").ok();
}

#[test]
fn kv_failures_are_exit_7_and_name_no_secret() {
    let mut t = T::new();
    t.store.fail_writes = true;
    let o = t
        .run(&["app", "create", "--client-id", "a", "--name", "A"], "")
        .fails(Exit::Kv);
    assert!(
        !o.out.contains("client_secret="),
        "a secret never stored is never shown"
    );
}

#[test]
fn every_subcommand_has_help() {
    use clap::CommandFactory;
    fn walk(c: &clap::Command, path: &str) {
        assert!(
            c.get_about().is_some() || path == "edge-records",
            "{path} has no help text"
        );
        for s in c.get_subcommands() {
            walk(s, &format!("{path} {}", s.get_name()));
        }
    }
    let cmd = Cli::command();
    cmd.clone().debug_assert();
    walk(&cmd, "edge-records");
    let help = cmd.clone().render_long_help().to_string();
    assert!(help.contains("Exit codes") && help.contains("8  confirmation"));
}

// ---------------------------------------------------------------------------------------------
// issuer

const ISS: &str = "https://idp.test/";

/// A policy whose JWT interceptor reads ISS's keys from KV.
fn jwt_policy() -> PolicyInfo {
    PolicyInfo::from_policy_value(&json!({
        "cache": {"ttl_seconds": 30, "negative_ttl_seconds": 5},
        "apis": [{
            "name": "orders", "base_path": "/orders", "origin": "http://127.0.0.1:1",
            "interceptors": [{"type": "jwt", "issuers": [
                {"issuer": ISS, "algorithms": ["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS512"]},
                {"issuer": "https://jwks.test/", "algorithms": ["RS256"], "jwks_url": "https://jwks.test/keys"}
            ]}]
        }]
    }))
}

/// A test key's public JWK (tests/fixtures/jwt-keys.json), as a file.
fn public_jwk(name: &str, extra: Value) -> String {
    let all: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/jwt-keys.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut k = all[name].as_object().unwrap().clone();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        k.remove(private);
    }
    k.extend(extra.as_object().unwrap().clone());
    Value::Object(k).to_string()
}

/// The issuer's record, parsed by the Worker.
fn issuer_set(t: &T) -> edge_interceptors::crypto::keys::KeySet {
    let text = &t.store.data[&format!("jwt-issuer:{ISS}")].0;
    let Ok(Record::Issuer(set)) = records::parse(&format!("jwt-issuer:{ISS}"), text) else {
        panic!("{text}")
    };
    (*set).clone()
}

#[test]
fn issuer_keys_are_written_as_the_worker_reads_them_and_rotated_in_two_steps() {
    use edge_interceptors::crypto::keys::{select, Alg, Selected};
    use std::sync::Arc;
    let mut t = T::new();
    t.policy = jwt_policy();
    // 1. One RSA key (JWK on standard input, alg given): a new issuer, negative TTL bound.
    let o = t
        .run(
            &[
                "issuer", "add", ISS, "--kid", "rsa-1", "--jwk", "-", "--alg", "RS256",
            ],
            &public_jwk("rsa", json!({})),
        )
        .ok();
    assert!(
        o.err.contains("key \"rsa-1\" added to jwt-issuer:https://idp.test/ (1 key(s) now)")
            && o.err.contains("is used everywhere by 2026-01-01T00:00:05Z (within 5 s: 5 s cache.negative_ttl_seconds"),
        "{}",
        o.err
    );
    let set = issuer_set(&t);
    assert_eq!(set.keys.len(), 1);
    assert!(set.skipped.is_empty());
    let stored = &t.store.value(&format!("jwt-issuer:{ISS}")).unwrap()["keys"][0];
    assert_eq!(
        (stored["kid"].as_str(), stored["alg"].as_str()),
        (Some("rsa-1"), Some("RS256"))
    );

    // 2. Rotation, step 1: a second key (PEM, alg inferred); the bound is now the record TTL
    // and the tool says how to finish.
    let d = tempfile::tempdir().unwrap();
    let pem = d.path().join("ec.pem");
    std::fs::write(&pem, EC_PEM).unwrap();
    let o = t
        .run(
            &[
                "issuer",
                "add",
                ISS,
                "--kid",
                "ec-2",
                "--pem",
                pem.to_str().unwrap(),
            ],
            "",
        )
        .ok();
    assert!(
        o.err.contains("(within 30 s: 30 s cache.ttl_seconds"),
        "{}",
        o.err
    );
    assert!(
        o.err
            .contains("edge-records issuer remove https://idp.test/ --kid rsa-1"),
        "{}",
        o.err
    );
    let sets = [Arc::new(issuer_set(&t))];
    let all = Alg::ALL;
    assert!(matches!(
        select(&sets, Alg::ES256, &all, Some("ec-2"), NOW),
        Selected::Key(_)
    ));
    assert!(matches!(
        select(&sets, Alg::RS256, &all, Some("rsa-1"), NOW),
        Selected::Key(_)
    ));

    // A key without kid on an issuer with keys: refused (a token without kid could not choose).
    let before = t.store.data.clone();
    let e = t
        .run(
            &["issuer", "add", ISS, "--jwk", "-"],
            &public_jwk("ed25519", json!({})),
        )
        .fails(Exit::BadInput);
    assert!(e.msg().contains("every key needs a kid"), "{}", e.msg());
    // Duplicate kid: conflict; keys the Worker cannot use: refused with the reason.
    t.run(
        &["issuer", "add", ISS, "--kid", "ec-2", "--jwk", "-"],
        &public_jwk("p256", json!({})),
    )
    .fails(Exit::Conflict);
    let x48 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (input, alg, why) in [
        (
            json!({"kty": "EC", "crv": "P-384", "x": x48, "y": x48}).to_string(),
            None,
            "P-256 only",
        ),
        (public_jwk("p256", json!({"alg": "ES512"})), None, "ES512"),
        (
            json!({"kty": "OKP", "crv": "Ed448", "x": x48}).to_string(),
            None,
            "Ed25519 only",
        ),
        (public_jwk("rsa", json!({})), Some("none"), "alg none"),
        (
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}).to_string(),
            Some("RS256"),
            "at least 2048",
        ),
        (
            json!({"kty": "oct", "k": "c2hvcnQ"}).to_string(),
            Some("HS256"),
            "at least 32 bytes",
        ),
    ] {
        let mut args = vec!["issuer", "add", ISS, "--kid", "x", "--jwk", "-"];
        if let Some(a) = alg {
            args.extend(["--alg", a]);
        }
        let o = t.run(&args, &input).fails(Exit::BadInput);
        assert!(o.msg().contains(why), "{why:?} not in {}", o.msg());
    }
    let p384 = d.path().join("p384.pem");
    std::fs::write(&p384, super::keys::tests::EC_P384_PEM).unwrap();
    let o = t
        .run(
            &[
                "issuer",
                "add",
                ISS,
                "--kid",
                "x",
                "--pem",
                p384.to_str().unwrap(),
            ],
            "",
        )
        .fails(Exit::BadInput);
    assert!(o.msg().contains("P-256 only"), "{}", o.msg());
    // The policy does not accept PS384 from this issuer; no policy issuer at all.
    t.run(
        &[
            "issuer", "add", ISS, "--kid", "x", "--jwk", "-", "--alg", "PS384",
        ],
        &public_jwk("rsa", json!({})),
    )
    .fails(Exit::BadInput);
    let o = t
        .run(
            &[
                "issuer",
                "add",
                "https://other.test/",
                "--kid",
                "x",
                "--jwk",
                "-",
                "--alg",
                "RS256",
            ],
            &public_jwk("rsa", json!({})),
        )
        .fails(Exit::BadInput);
    assert!(o.msg().contains("no JWT issuer") && o.msg().contains("--allow-unknown"));
    assert_eq!(t.store.data, before, "refusals write nothing");

    // An HMAC secret (generated, printed once) and a JWK Set with its own kids.
    let o = t
        .run(
            &[
                "issuer",
                "add",
                ISS,
                "--kid",
                "hs-1",
                "--hmac",
                "--generate",
                "--alg",
                "HS512",
            ],
            "",
        )
        .ok();
    let secret = kv_line(&o.out, "hmac_secret_b64url");
    let jwks = json!({"keys": [
        serde_json::from_str::<Value>(&public_jwk("ed25519", json!({"kid": "ed-3", "alg": "EdDSA"}))).unwrap(),
        serde_json::from_str::<Value>(&public_jwk("rsa_rotated", json!({"kid": "ps-3", "alg": "PS256"}))).unwrap(),
    ]});
    t.run(&["issuer", "add", ISS, "--jwks", "-"], &jwks.to_string())
        .ok();
    let set = issuer_set(&t);
    assert_eq!(set.keys.len(), 5, "{:?}", set.skipped);
    assert!(set.skipped.is_empty());
    let o = t.run(&["issuer", "show", ISS], "").ok();
    for want in [
        "rsa-1", "ec-2", "hs-1", "ed-3", "ps-3", "HS512", "hmac", "used",
    ] {
        assert!(o.out.contains(want), "{want} not in {}", o.out);
    }
    assert!(!o.out.contains(&secret) && !o.err.contains(&secret));
    let o = t.run(&["issuer", "list"], "").ok();
    assert!(
        o.out
            .contains(&format!("{ISS}  5     rsa-1 ec-2 hs-1 ed-3 ps-3")),
        "{}",
        o.out
    );

    // Rotation, step 2: the old key goes; the bound is printed as for revocations.
    let o = t.run(&["issuer", "remove", ISS, "--kid", "rsa-1"], "").ok();
    assert!(
        o.err
            .contains("key \"rsa-1\" removed from jwt-issuer:https://idp.test/ (4 key(s) left)")
            && o.err
                .contains("takes effect everywhere by 2026-01-01T00:00:30Z (within 30 s"),
        "{}",
        o.err
    );
    let sets = [Arc::new(issuer_set(&t))];
    assert!(matches!(
        select(&sets, Alg::RS256, &all, Some("rsa-1"), NOW),
        Selected::Unknown(_)
    ));
    t.run(&["issuer", "remove", ISS, "--kid", "rsa-1"], "")
        .fails(Exit::NotFound);
    t.run(&["issuer", "remove", "https://nobody/", "--kid", "a"], "")
        .fails(Exit::NotFound);
    // Deployed KV: the bound adds KV's propagation.
    t.store.remote = true;
    let o = t.run(&["issuer", "remove", ISS, "--kid", "ec-2"], "").ok();
    assert!(
        o.err
            .contains("within 90 s: up to 60 s of KV propagation + 30 s"),
        "{}",
        o.err
    );
    let o = t.run(&["issuer", "remove", ISS, "--all"], "").ok();
    assert!(o.err.contains("no keys left"), "{}", o.err);
    assert!(issuer_set(&t).keys.is_empty());
    t.run(&["check"], "").ok();
}

#[test]
fn app_keys_the_worker_cannot_use_are_refused_too() {
    let mut t = T::new();
    with_app(&mut t, "a");
    let d = tempfile::tempdir().unwrap();
    let before = t.store.data.clone();
    for (pem, alg, why) in [
        (super::keys::tests::EC_P384_PEM, None, "P-256 only (ES256)"),
        (super::keys::tests::ED448_PEM, None, "Ed25519 only"),
        (super::keys::tests::RSA_1024_PEM, Some("RS256"), "1024 bits"),
    ] {
        let f = d.path().join("k.pem");
        std::fs::write(&f, pem).unwrap();
        let mut args = vec![
            "app",
            "key",
            "add",
            "a",
            "--kid",
            "k",
            "--pem",
            f.to_str().unwrap(),
        ];
        if let Some(a) = alg {
            args.extend(["--alg", a]);
        }
        let o = t.run(&args, "").fails(Exit::BadInput);
        assert!(o.msg().contains(why), "{why} not in {}", o.msg());
    }
    let o = t
        .run(
            &["app", "key", "add", "a", "--kid", "k", "--jwk", "-"],
            &public_jwk("p256", json!({"alg": "ES384"})),
        )
        .fails(Exit::BadInput);
    assert!(o.msg().contains("ES384"), "{}", o.msg());
    assert_eq!(t.store.data, before);
    // A stored key the Worker skips is reported by check.
    let mut app = t.app("a");
    app["signature_keys"] =
        json!([{"kid": "old", "alg": "ES384", "pem": super::keys::tests::EC_P384_PEM}]);
    t.store.insert("app:a", &app.to_string());
    let o = t.run(&["check"], "").ok();
    assert!(
        o.err
            .contains("app:a: signature_keys[0] (kid \"old\"): the Worker skips it: ES384"),
        "{}",
        o.err
    );
    // An RSA key under 2048 bits written by hand (the Worker's PEM reader does not check the
    // size): reported too.
    app["signature_keys"] =
        json!([{"kid": "weak", "alg": "RS256", "pem": super::keys::tests::RSA_1024_PEM}]);
    t.store.insert("app:a", &app.to_string());
    let o = t.run(&["check"], "").ok();
    assert!(
        o.err.contains("signature_keys[0] (kid \"weak\"): edge-records refuses it: an RSA key of 1024 bits; at least 2048 are required"),
        "{}",
        o.err
    );
}

// ---------------------------------------------------------------------------------------------
// import sensedia --export

#[test]
fn sensedia_export_with_both_lists_imports_as_the_two_files_do() {
    let export = fixture("export.json");
    let mut one = T::new();
    let o = one
        .run(
            &[
                "import",
                "sensedia",
                "--export",
                &export,
                "--expires-in-unit",
                "seconds",
                "--api-map",
                "Catalog API=catalog",
                "--scope-map",
                "read=orders:list-orders,one-order",
            ],
            "",
        )
        .ok();
    assert!(
        o.out.contains("apps: 5 in the export: 5 created"),
        "{}",
        o.out
    );
    assert!(
        o.out.contains("tokens: 9 in the export: 9 created"),
        "{}",
        o.out
    );
    assert!(
        o.err.contains("export.json: 5 apps from \"apps\""),
        "{}",
        o.err
    );
    assert!(
        o.err
            .contains("export.json: 9 access tokens from \"accessTokens.content\""),
        "{}",
        o.err
    );
    let mut two = T::new();
    import_sample(&mut two, &["--expires-in-unit", "seconds"]).ok();
    let strip = |t: &T| -> Vec<(String, String)> {
        t.store
            .data
            .iter()
            .map(|(k, (v, _, _))| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(strip(&one), strip(&two), "the same records either way");

    // The export given to --tokens (or --apps): each list is picked by its own field name.
    let mut t = T::new();
    t.run(
        &[
            "import",
            "sensedia",
            "--apps",
            &export,
            "--tokens",
            &export,
            "--expires-in-unit",
            "seconds",
            "--api-map",
            "Catalog API=catalog",
            "--scope-map",
            "read=orders:list-orders,one-order",
        ],
        "",
    )
    .ok();
    assert_eq!(strip(&t), strip(&two));
}

#[test]
fn sensedia_files_that_do_not_fit_say_which_list_was_read() {
    let apps = fixture("apps.json");
    let tokens = fixture("tokens.json");
    let mut t = T::new();
    // The lists swapped.
    let o = t
        .run(&["import", "sensedia", "--tokens", &apps], "")
        .fails(Exit::BadInput);
    assert!(
        o.msg()
            .contains("apps.json as access tokens: none of its 5 entries has \"code\"")
            && o.msg().contains("it looks like apps: pass it with --apps"),
        "{}",
        o.msg()
    );
    let o = t
        .run(&["import", "sensedia", "--apps", &tokens], "")
        .fails(Exit::BadInput);
    assert!(
        o.msg()
            .contains("looks like access tokens: pass it with --tokens"),
        "{}",
        o.msg()
    );
    // An object with the other list only; a list given as --export; no list at all.
    let d = tempfile::tempdir().unwrap();
    let only_apps = d.path().join("only-apps.json");
    std::fs::write(
        &only_apps,
        json!({"apps": [{"clientId": "x", "name": "X", "status": "APPROVED"}]}).to_string(),
    )
    .unwrap();
    let o = t
        .run(
            &[
                "import",
                "sensedia",
                "--tokens",
                only_apps.to_str().unwrap(),
            ],
            "",
        )
        .fails(Exit::BadInput);
    assert!(
        o.msg()
            .contains("holds the apps list (\"apps\") and no access tokens list"),
        "{}",
        o.msg()
    );
    let o = t
        .run(
            &[
                "import",
                "sensedia",
                "--export",
                only_apps.to_str().unwrap(),
            ],
            "",
        )
        .ok();
    assert!(o.err.contains("no access tokens list"), "{}", o.err);
    t.run(&["import", "sensedia", "--export", &apps], "")
        .fails(Exit::BadInput);
    let empty = d.path().join("empty.json");
    std::fs::write(&empty, r#"{"totalElements": 0}"#).unwrap();
    let o = t
        .run(
            &["import", "sensedia", "--export", empty.to_str().unwrap()],
            "",
        )
        .fails(Exit::BadInput);
    assert!(o.msg().contains("neither an apps list"), "{}", o.msg());
    // A wrong-kind list inside --export: named with its field.
    let swapped = d.path().join("swapped.json");
    let apps_v: Value = serde_json::from_str(&std::fs::read_to_string(&apps).unwrap()).unwrap();
    std::fs::write(
        &swapped,
        json!({"apps": [], "accessTokens": apps_v}).to_string(),
    )
    .unwrap();
    let o = t
        .run(
            &["import", "sensedia", "--export", swapped.to_str().unwrap()],
            "",
        )
        .fails(Exit::BadInput);
    assert!(
        o.msg().contains("the list under \"accessTokens\""),
        "{}",
        o.msg()
    );
}

// ---------------------------------------------------------------------------------------------
// Nothing quoted

const CANARY: &str = "s3cr3t-CANARY";

/// Every field of a record or an export set to a value that does not fit, holding the canary:
/// the tool's errors and notes name fields and positions, never the value.
#[test]
fn errors_and_notes_never_quote_a_value() {
    let mut t = T::new();
    t.policy = jwt_policy();
    let c = CANARY;
    // Records of every type, malformed in every field.
    for (k, v) in [
        ("app:a1", json!({"name": "A", "status": c})),
        (
            "app:a2",
            json!({"name": "A", "status": "APPROVED", "revoked": c}),
        ),
        (
            "app:a3",
            json!({"name": "A", "status": "APPROVED", "expires_at": c}),
        ),
        (
            "app:a4",
            json!({"name": "A", "status": "APPROVED", "access": [{"api": 1, "resources": c}]}),
        ),
        (
            "app:a5",
            json!({"name": "A", "status": "APPROVED", "client_secret_sha256": [c]}),
        ),
        ("app:a6", json!({"name": [c], "status": "APPROVED"})),
        (
            "app:a7",
            json!({"name": "A", "status": "APPROVED", "signature_keys": [{"kid": "k", "alg": c, "pem": c}]}),
        ),
        (
            "app:a8",
            json!({"name": "A", "status": "APPROVED", "hmac_secrets": [{"kid": "k", "secret_b64": 5, "x": c}]}),
        ),
        (
            "token:0000000000000000000000000000000000000000000000000000000000000001",
            json!({"client_id": "a", "scope": c}),
        ),
        (
            "token:0000000000000000000000000000000000000000000000000000000000000002",
            json!({"client_id": "a", "expires_at": c}),
        ),
        (
            "token:0000000000000000000000000000000000000000000000000000000000000003",
            json!({"client_id": 7, "grant_type": [c]}),
        ),
        ("jti:i:1", json!({"revoked": c})),
        ("jti:i:2", json!({"revoked": true, "expires_at": c})),
        ("jwt-issuer:i1", json!({"keys": c})),
        (
            "jwt-issuer:i2",
            json!({"keys": [{"kid": "k", "alg": c, "kty": c}, {"kid": "k2", "alg": "RS256", "kty": "RSA", "n": c, "e": c, "use": c}, {"kid": "k3", "alg": "ES256", "kty": "EC", "crv": c, "x": c, "y": c, "not_after": c}]}),
        ),
    ] {
        t.store.insert(k, &v.to_string());
    }
    t.store.insert("app:a9", &format!("{{\"name\": \"{c}"));
    t.store.insert(
        "token:0000000000000000000000000000000000000000000000000000000000000004",
        &format!("{{}} {c}"),
    );
    let mut seen = String::new();
    let o = t.run(&["check"], "").fails(Exit::Malformed);
    assert!(o.out.contains("15 malformed"), "{}", o.out);
    seen += &o.all();
    for args in [
        vec!["app", "show", "a2"],
        vec!["app", "list"],
        vec!["token", "list", "--app", "a"],
        vec!["issuer", "show", "i2"],
        vec!["issuer", "list"],
    ] {
        let o = t.run(&args, "");
        // `app show` prints the record itself on standard output (that is what it is for).
        if args[1] != "show" || args[0] != "app" {
            seen += &o.out.clone();
        }
        seen += &(o.err.clone() + &o.msg());
    }
    for args in [
        vec!["app", "revoke", "a1"],
        vec![
            "issuer",
            "add",
            "i1",
            "--kid",
            "n",
            "--jwk",
            "-",
            "--alg",
            "RS256",
            "--allow-unknown",
        ],
        vec!["issuer", "remove", "i2", "--kid", "k"],
    ] {
        let o = t.run(&args, &public_jwk("rsa", json!({})));
        seen += &o.all();
    }
    // Key input with the canary in every member.
    for (args, input) in [
        (
            vec!["app", "key", "add", "a2", "--kid", "k", "--jwk", "-"],
            json!({"kty": c, "n": c}).to_string(),
        ),
        (
            vec!["app", "key", "add", "a2", "--kid", "k", "--jwk", "-"],
            json!({"kty": "EC", "crv": c, "x": c, "y": c}).to_string(),
        ),
        (
            vec!["app", "key", "add", "a2", "--kid", "k", "--jwk", "-"],
            json!({"kty": "OKP", "crv": c, "x": c, "use": c}).to_string(),
        ),
        (
            vec!["app", "key", "add", "a2", "--kid", "k", "--jwk", "-"],
            json!({"kty": "RSA", "n": c, "e": c, "alg": c, "kid": c}).to_string(),
        ),
        (
            vec!["app", "key", "add", "a2", "--kid", "k", "--jwk", "-"],
            format!("{{\"kty\": \"{c}"),
        ),
        (
            vec!["issuer", "add", ISS, "--jwks", "-"],
            json!({"keys": [{"kid": "a", "kty": "RSA", "n": c, "e": "AQAB", "alg": c}]})
                .to_string(),
        ),
        (
            vec!["issuer", "add", ISS, "--jwks", "-"],
            json!({"keys": c}).to_string(),
        ),
        (
            vec!["issuer", "add", ISS, "--kid", "z", "--pem", "-"],
            format!("-----BEGIN PUBLIC KEY-----\n{c}\n-----END PUBLIC KEY-----\n"),
        ),
        (
            vec![
                "issuer", "add", ISS, "--kid", "z", "--hmac", "--alg", "HS256",
            ],
            format!("{c}\n"),
        ),
        (
            vec![
                "issuer", "add", ISS, "--kid", "z", "--hmac", "--base64", "--alg", "HS256",
            ],
            format!("{c}!\n"),
        ),
    ] {
        let o = t.run(&args, &input);
        assert_ne!(o.exit(), Exit::Ok, "{args:?} accepted");
        seen += &o.all();
    }
    // A Sensedia export with the canary in every field.
    let d = tempfile::tempdir().unwrap();
    let export = d.path().join("export.json");
    std::fs::write(
        &export,
        json!({
            "apps": [
                {"clientId": "ok", "name": "OK", "status": "APPROVED", "apis": ["orders"]},
                {"clientId": "c1", "name": "N", "status": c, "secret": c},
                {"clientId": "c2", "name": [c], "status": "APPROVED", "apis": [{"name": 5, "x": c}]},
                {"clientId": format!(" {c}"), "name": "N", "status": "APPROVED"},
                {"clientId": "c3", "name": "N", "status": "APPROVED", "apis": c}
            ],
            "accessTokens": [
                {"code": c, "app": {"clientId": "ok"}, "status": c},
                {"code": format!("{c}-2"), "app": {"clientId": "ok"}, "status": "ACTIVE", "expiredDate": c},
                {"code": format!("{c}-3"), "app": {"clientId": "ok"}, "status": "ACTIVE", "expiresIn": c},
                {"code": format!("{c}-4"), "app": {"clientId": "ok"}, "status": "ACTIVE", "expiresIn": -5, "creationDate": c},
                {"code": format!("{c}-5"), "app": {"clientId": "ok"}, "status": "ACTIVE", "expiredDate": 1.5e300},
                {"code": format!("{c}-6"), "app": {"clientId": "ok"}, "status": "ACTIVE", "apis": [{"resources": [c]}]},
                {"code": format!(" {c}-7"), "app": {"clientId": "ok"}, "status": "ACTIVE"},
                {"code": format!("{c}-8"), "app": {"clientId": "ok"}, "status": "ACTIVE", "creationDate": c, "expiresIn": 10},
                {"code": format!("{c}-9"), "app": {"clientId": "ok"}, "status": "ACTIVE", "creationDate": "2025-01-01T00:00:00Z", "expiresIn": i64::MAX}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let o = t
        .run(
            &[
                "import",
                "sensedia",
                "--export",
                export.to_str().unwrap(),
                "--expires-in-unit",
                "seconds",
            ],
            "",
        )
        .fails(Exit::BadInput);
    assert!(o.err.matches("error: ").count() >= 13, "{}", o.err);
    assert!(o.err.contains("out of range"), "{}", o.err);
    seen += &o.all();
    let broken = d.path().join("broken.json");
    std::fs::write(&broken, format!("[{{\"code\": \"{c}")).unwrap();
    let o = t
        .run(
            &["import", "sensedia", "--tokens", broken.to_str().unwrap()],
            "",
        )
        .fails(Exit::BadInput);
    seen += &o.all();
    // The extra info given on the command line is not echoed either.
    let o = t.run(
        &["app", "set-extra-info", "a2", &format!("{{\"x\": {c}")],
        "",
    );
    seen += &o.all();

    assert!(!seen.contains("CANARY"), "a value was quoted:\n{seen}");
    assert!(seen.contains("at status (line 1"), "{seen}");
}
