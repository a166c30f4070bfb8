//! `edge-records app` and what the authorization server needs of an app
//! (docs/authorization-server.md, "Apps"): client type, redirect URIs, grant types, token
//! lifetimes, introspection of any token. Every record written must parse in the Worker.

use super::{kv_line, Exit, T};
use serde_json::json;

fn create(t: &mut T, extra: &[&str]) -> super::Out {
    let mut args = vec!["app", "create", "--client-id", "web", "--name", "Web"];
    args.extend_from_slice(extra);
    t.run(&args, "")
}

#[test]
fn create_with_the_authorization_server_fields() {
    let mut t = T::new();
    let o = create(
        &mut t,
        &[
            "--redirect-uri",
            "https://app.example.com/cb",
            "--redirect-uri",
            "com.example.app:/oauth2redirect",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--access-token-lifetime",
            "15m",
            "--refresh-token-lifetime",
            "1h",
            "--introspect-any",
        ],
    )
    .ok();
    kv_line(&o.out, "client_secret");
    let app = t.app("web");
    assert_eq!(
        app["redirect_uris"],
        json!([
            "https://app.example.com/cb",
            "com.example.app:/oauth2redirect"
        ])
    );
    assert_eq!(
        app["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(app["access_token_lifetime_seconds"], 900);
    assert_eq!(app["refresh_token_lifetime_seconds"], 3600);
    assert_eq!(app["introspect_any"], true);
    assert!(
        app.get("client_type").is_none(),
        "confidential is the default"
    );
    assert!(!o.err.contains("warning"), "{}", o.err);
    t.parses();
}

#[test]
fn a_public_app_has_no_secret_and_cannot_use_confidential_grants() {
    let mut t = T::new();
    let o = create(
        &mut t,
        &["--public", "--redirect-uri", "https://spa.example.com/cb"],
    )
    .ok();
    assert_eq!(o.out, "client_id=web\n", "no secret printed");
    assert!(
        o.err.contains("public: no client secret, PKCE required"),
        "{}",
        o.err
    );
    let app = t.app("web");
    assert_eq!(app["client_type"], "public");
    assert!(app.get("client_secret_sha256").is_none());
    t.parses();

    let mut t = T::new();
    let o =
        create(&mut t, &["--public", "--grant-type", "client_credentials"]).fails(Exit::BadInput);
    assert!(
        o.msg().contains("public app cannot use client_credentials"),
        "{}",
        o.msg()
    );
    assert!(t.store.data.is_empty(), "nothing written");
    let o = create(&mut t, &["--public", "--grant-type", "password"]).fails(Exit::BadInput);
    assert!(o.msg().contains("password"), "{}", o.msg());
}

#[test]
fn redirect_uris_are_checked_before_anything_is_written() {
    for (uri, why) in [
        ("/cb", "absolute URI"),
        ("app.example.com/cb", "absolute URI"),
        ("https://app.example.com/cb#frag", "fragment"),
        ("https://app.example.com/cb ", "space"),
        (" https://app.example.com/cb", "space"),
        ("https://app.example.com/c\nb", "line break"),
        ("", "empty"),
    ] {
        let mut t = T::new();
        let o = create(&mut t, &["--redirect-uri", uri]).fails(Exit::BadInput);
        assert!(o.msg().contains(why), "{uri:?}: {}", o.msg());
        assert!(t.store.data.is_empty(), "{uri:?}: nothing written");
    }
    let long = format!("https://app.example.com/{}", "a".repeat(2048));
    let mut t = T::new();
    create(&mut t, &["--redirect-uri", &long]).fails(Exit::BadInput);
}

#[test]
fn risky_redirect_uris_are_stored_with_a_warning() {
    for (uri, warning) in [
        ("http://app.example.com/cb", "clear text"),
        ("https://app.example.com/*", "not a wildcard"),
        (
            "HTTPS://App.Example.com/cb",
            "usually written \"https://app.example.com/cb\"",
        ),
        (
            "https://app.example.com",
            "usually written \"https://app.example.com/\"",
        ),
    ] {
        let mut t = T::new();
        let o = create(&mut t, &["--redirect-uri", uri]).ok();
        assert!(o.err.contains(warning), "{uri:?}: {}", o.err);
        assert_eq!(
            t.app("web")["redirect_uris"],
            json!([uri]),
            "stored exactly as given"
        );
    }
    // Loopback redirect URIs (native apps, RFC 8252 §7.3) need no https.
    for uri in [
        "http://127.0.0.1:8080/cb",
        "http://[::1]:8080/cb",
        "http://localhost:8080/cb",
    ] {
        let mut t = T::new();
        let o = create(&mut t, &["--redirect-uri", uri]).ok();
        assert!(!o.err.contains("warning"), "{uri:?}: {}", o.err);
    }
}

#[test]
fn redirect_uri_add_remove_list() {
    let mut t = T::new();
    create(&mut t, &[]).ok();
    let o = t
        .run(
            &[
                "app",
                "redirect-uri",
                "add",
                "web",
                "https://a.example/cb",
                "https://b.example/cb",
            ],
            "",
        )
        .ok();
    assert!(
        o.err.contains("2 redirect URI(s) added; 2 in all"),
        "{}",
        o.err
    );
    let o = t
        .run(
            &["app", "redirect-uri", "add", "web", "https://a.example/cb"],
            "",
        )
        .ok();
    assert!(o.err.contains("nothing written"), "{}", o.err);
    let o = t.run(&["app", "redirect-uri", "list", "web"], "").ok();
    assert_eq!(o.out, "https://a.example/cb\nhttps://b.example/cb\n");
    t.run(&["app", "redirect-uri", "add", "web", "nope"], "")
        .fails(Exit::BadInput);
    let o = t
        .run(
            &[
                "app",
                "redirect-uri",
                "remove",
                "web",
                "https://c.example/cb",
            ],
            "",
        )
        .fails(Exit::NotFound);
    assert!(o.msg().contains("not registered"), "{}", o.msg());
    t.run(
        &[
            "app",
            "redirect-uri",
            "remove",
            "web",
            "https://a.example/cb",
        ],
        "",
    )
    .ok();
    assert_eq!(
        t.app("web")["redirect_uris"],
        json!(["https://b.example/cb"])
    );
    let o = t
        .run(
            &[
                "app",
                "redirect-uri",
                "remove",
                "web",
                "https://b.example/cb",
            ],
            "",
        )
        .ok();
    assert!(o.err.contains("grant-code refuses the app"), "{}", o.err);
    assert!(t.app("web").get("redirect_uris").is_none());
    t.run(&["app", "redirect-uri", "list", "nobody"], "")
        .fails(Exit::NotFound);
    // --dry-run writes nothing.
    t.run(
        &[
            "app",
            "redirect-uri",
            "add",
            "web",
            "https://d.example/cb",
            "--dry-run",
        ],
        "",
    )
    .ok();
    assert!(t.app("web").get("redirect_uris").is_none());
    t.parses();
}

#[test]
fn set_client_type_public_drops_the_secret_and_confidential_gives_one() {
    let mut t = T::new();
    let o = create(&mut t, &[]).ok();
    let first = kv_line(&o.out, "client_secret");
    let o = t.run(&["app", "set-client-type", "web", "public"], "").ok();
    assert!(
        o.err.contains("its client secret hash removed"),
        "{}",
        o.err
    );
    let app = t.app("web");
    assert_eq!(app["client_type"], "public");
    assert!(app.get("client_secret_sha256").is_none());
    t.parses();

    // Back to confidential: a new secret, printed once, only its hash stored.
    let o = t
        .run(&["app", "set-client-type", "web", "confidential"], "")
        .ok();
    let second = kv_line(&o.out, "client_secret");
    assert_ne!(first, second);
    let app = t.app("web");
    assert!(app.get("client_type").is_none());
    assert_eq!(
        app["client_secret_sha256"],
        super::super::app::secret_hash(&second)
    );
    assert!(!o.err.contains(&second));
    // Already confidential with a secret: nothing to do, no new secret.
    let o = t
        .run(&["app", "set-client-type", "web", "confidential"], "")
        .ok();
    assert_eq!(o.out, "");
    assert!(o.err.contains("nothing written"), "{}", o.err);
    // A given secret replaces the stored one.
    let o = t
        .run(
            &[
                "app",
                "set-client-type",
                "web",
                "confidential",
                "--secret-stdin",
            ],
            "given-secret\n",
        )
        .ok();
    assert_eq!(o.out, "");
    assert_eq!(
        t.app("web")["client_secret_sha256"],
        super::super::app::secret_hash("given-secret")
    );
    t.run(
        &["app", "set-client-type", "web", "public", "--secret-stdin"],
        "x\n",
    )
    .fails(Exit::BadInput);
    t.run(&["app", "set-client-type", "web", "secret"], "")
        .fails(Exit::BadInput);
    t.parses();
}

#[test]
fn set_client_type_public_refuses_an_app_allowed_confidential_grants() {
    let mut t = T::new();
    create(&mut t, &["--grant-type", "client_credentials"]).ok();
    let o = t
        .run(&["app", "set-client-type", "web", "public"], "")
        .fails(Exit::BadInput);
    assert!(o.msg().contains("set-grant-types"), "{}", o.msg());
    assert!(
        t.app("web").get("client_secret_sha256").is_some(),
        "unchanged"
    );
}

#[test]
fn set_grant_types_narrows_and_server_default_widens() {
    let mut t = T::new();
    create(&mut t, &[]).ok();
    t.run(
        &[
            "app",
            "set-grant-types",
            "web",
            "client_credentials",
            "client_credentials",
        ],
        "",
    )
    .ok();
    assert_eq!(t.app("web")["grant_types"], json!(["client_credentials"]));
    let o = t
        .run(&["app", "set-grant-types", "web", "refresh_token"], "")
        .ok();
    assert!(o.err.contains("never gets one"), "{}", o.err);
    let o = t
        .run(&["app", "set-grant-types", "web", "implicit"], "")
        .fails(Exit::BadInput);
    assert!(
        o.msg().contains("expected one of client_credentials"),
        "{}",
        o.msg()
    );
    t.run(&["app", "set-grant-types", "web", "--server-default"], "")
        .ok();
    assert!(t.app("web").get("grant_types").is_none());
    t.run(&["app", "set-grant-types", "nobody", "password"], "")
        .fails(Exit::NotFound);
    // A public app is refused the grants it cannot use.
    t.run(&["app", "set-client-type", "web", "public"], "").ok();
    t.run(&["app", "set-grant-types", "web", "client_credentials"], "")
        .fails(Exit::BadInput);
    t.run(
        &[
            "app",
            "set-grant-types",
            "web",
            "authorization_code",
            "refresh_token",
        ],
        "",
    )
    .ok();
    t.parses();
}

#[test]
fn set_token_lifetime_and_back_to_the_servers() {
    let mut t = T::new();
    create(&mut t, &[]).ok();
    t.run(&["app", "set-token-lifetime", "web", "--access", "10m"], "")
        .ok();
    let app = t.app("web");
    assert_eq!(app["access_token_lifetime_seconds"], 600);
    assert!(app.get("refresh_token_lifetime_seconds").is_none());
    let o = t
        .run(
            &["app", "set-token-lifetime", "web", "--refresh", "30d"],
            "",
        )
        .ok();
    assert!(o.err.contains("changes nothing"), "{}", o.err);
    assert_eq!(t.app("web")["refresh_token_lifetime_seconds"], 2_592_000);
    t.run(
        &[
            "app",
            "set-token-lifetime",
            "web",
            "--access",
            "default",
            "--refresh",
            "default",
        ],
        "",
    )
    .ok();
    let app = t.app("web");
    assert!(app.get("access_token_lifetime_seconds").is_none());
    assert!(app.get("refresh_token_lifetime_seconds").is_none());
    for bad in ["0s", "367d", "soon"] {
        t.run(&["app", "set-token-lifetime", "web", "--access", bad], "")
            .fails(Exit::BadInput);
    }
    t.parses();
}

#[test]
fn set_introspect_any() {
    let mut t = T::new();
    create(&mut t, &[]).ok();
    t.run(&["app", "set-introspect-any", "web", "yes"], "").ok();
    assert_eq!(t.app("web")["introspect_any"], true);
    t.run(&["app", "set-introspect-any", "web", "no"], "").ok();
    assert!(t.app("web").get("introspect_any").is_none());
    t.run(&["app", "set-introspect-any", "web", "maybe"], "")
        .fails(Exit::BadInput);
}

#[test]
fn other_fields_of_the_record_survive_the_new_commands() {
    let mut t = T::new();
    create(
        &mut t,
        &["--grant", "orders", "--extra-info", r#"{"plan":"gold"}"#],
    )
    .ok();
    t.run(
        &["app", "redirect-uri", "add", "web", "https://a.example/cb"],
        "",
    )
    .ok();
    t.run(&["app", "set-grant-types", "web", "authorization_code"], "")
        .ok();
    t.run(&["app", "set-token-lifetime", "web", "--access", "5m"], "")
        .ok();
    let app = t.app("web");
    assert_eq!(app["access"], json!([{"api": "orders"}]));
    assert_eq!(app["extra_info"], json!({"plan": "gold"}));
    assert_eq!(app["status"], "APPROVED");
    assert!(app.get("client_secret_sha256").is_some());
    t.parses();
}
