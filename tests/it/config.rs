//! Start-up: settings are checked (one clear error naming the key), keys are made once and
//! a damaged key file stops the start instead of being replaced.

use crate::common::*;
use figment::Figment;
use gatehouse::StartupError;

/// An access rule as `Rocket.toml` would write it; `user` empty: a rule that names nobody.
fn access_rule(host: &str, user: &str) -> serde_json::Value {
    let users: Vec<&str> = [user].into_iter().filter(|u| !u.is_empty()).collect();
    serde_json::json!({ "host": host, "users": users })
}

fn start_error(configure: impl FnOnce(Figment) -> Figment) -> String {
    let dir = tempfile::tempdir().unwrap();
    let figment = configure(figment(dir.path()));
    match gatehouse::rocket(figment) {
        Ok(_) => panic!("started"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_settings_name_their_key() {
    type Configure = Box<dyn FnOnce(Figment) -> Figment>;
    let cases: Vec<(&str, Configure)> = vec![
        (
            "jwt_algorithm",
            Box::new(|f| f.merge(("jwt_algorithm", "HS512"))),
        ),
        (
            "jwt_algorithm",
            Box::new(|f| f.merge(("jwt_algorithm", "none"))),
        ),
        ("bcrypt_cost", Box::new(|f| f.merge(("bcrypt_cost", 3)))),
        (
            "request_header_timeout",
            Box::new(|f| f.merge(("request_header_timeout", 0))),
        ),
        (
            "request_header_timeout",
            Box::new(|f| f.merge(("request_header_timeout", 301))),
        ),
        (
            "request_body_timeout",
            Box::new(|f| f.merge(("request_body_timeout", 0))),
        ),
        (
            "max_connections",
            Box::new(|f| f.merge(("max_connections", 15))),
        ),
        ("bcrypt_cost", Box::new(|f| f.merge(("bcrypt_cost", 32)))),
        (
            "session_idle_timeout",
            Box::new(|f| f.merge(("session_idle_timeout", "soon"))),
        ),
        (
            "session_idle_timeout",
            Box::new(|f| f.merge(("session_idle_timeout", 0))),
        ),
        (
            "session_idle_timeout",
            Box::new(|f| f.merge(("session_idle_timeout", 50000))),
        ),
        (
            "session_revalidate_interval",
            Box::new(|f| f.merge(("session_revalidate_interval", 5000))),
        ),
        (
            "public_origin",
            Box::new(|f| f.merge(("public_origin", "example.com"))),
        ),
        (
            "public_origin",
            Box::new(|f| f.merge(("public_origin", "https://example.com/login"))),
        ),
        (
            "database_url",
            Box::new(|f| f.merge(("database_url", "mysql://db/x"))),
        ),
        (
            "trusted_proxies",
            Box::new(|f| f.merge(("trusted_proxies", vec!["10.0.0.0/33"]))),
        ),
        (
            "secure_cookies",
            Box::new(|f| f.merge(("secure_cookies", "maybe"))),
        ),
        ("bcrypt_nice", Box::new(|f| f.merge(("bcrypt_nice", 20)))),
        (
            "audit_retention",
            Box::new(|f| f.merge(("audit_retention", 0))),
        ),
        (
            "audit_retention",
            Box::new(|f| f.merge(("audit_retention", 3600))),
        ),
        (
            "audit_retention",
            Box::new(|f| f.merge(("audit_retention", 400_000_000))),
        ),
        (
            "audit_retention",
            Box::new(|f| f.merge(("audit_retention", "forever"))),
        ),
        ("database_url", Box::new(|f| f.merge(("database_url", " ")))),
        ("data_dir", Box::new(|f| f.merge(("data_dir", "")))),
        (
            "session_absolute_timeout",
            Box::new(|f| f.merge(("session_absolute_timeout", -1))),
        ),
        (
            "login_max_failures",
            Box::new(|f| f.merge(("login_max_failures", 0))),
        ),
        (
            "register_ip_max",
            Box::new(|f| f.merge(("register_ip_max", 0))),
        ),
        (
            "throttle_ipv6_prefix",
            Box::new(|f| f.merge(("throttle_ipv6_prefix", 0))),
        ),
        (
            "throttle_ipv6_prefix",
            Box::new(|f| f.merge(("throttle_ipv6_prefix", 129))),
        ),
        (
            "throttle_ipv6_prefix",
            Box::new(|f| f.merge(("throttle_ipv6_prefix", 300))),
        ),
        ("db_pool_size", Box::new(|f| f.merge(("db_pool_size", 0)))),
        (
            "db_connect_timeout",
            Box::new(|f| f.merge(("db_connect_timeout", 0))),
        ),
        (
            "cookie_domain",
            Box::new(|f| f.merge(("cookie_domain", "com"))),
        ),
        // The test origin is 127.0.0.1: a cookie for example.com would never reach it.
        (
            "cookie_domain",
            Box::new(|f| f.merge(("cookie_domain", "example.com"))),
        ),
        (
            "access_rules",
            Box::new(|f| {
                f.merge((
                    "access_rules",
                    vec![access_rule("app.example.com/x", "erik")],
                ))
            }),
        ),
        (
            "access_rules",
            Box::new(|f| f.merge(("access_rules", vec![access_rule("app.example.com", "")]))),
        ),
        // Proxies send punycode: a rule written in Unicode would silently never match.
        (
            "access_rules",
            Box::new(|f| {
                f.merge((
                    "access_rules",
                    vec![access_rule("wiki.bücher.example", "erik")],
                ))
            }),
        ),
        (
            "access_rules",
            Box::new(|f| {
                f.merge((
                    "access_rules",
                    vec![std::collections::BTreeMap::from([(
                        "hosts",
                        "app.example.com",
                    )])],
                ))
            }),
        ),
    ];
    for (key, configure) in cases {
        let e = start_error(configure);
        assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }
}

#[test]
fn debug_bcrypt_cost_is_refused_in_release() {
    let dir = tempfile::tempdir().unwrap();
    let f = figment(dir.path())
        .select("release")
        .merge(("bcrypt_cost", 4));
    let e = gatehouse::rocket(f).expect_err("refused").to_string();
    assert!(
        e.contains("`bcrypt_cost`") && e.contains("debug profile"),
        "{e}"
    );
    // In release, cookies are Secure by default.
    let dir = tempfile::tempdir().unwrap();
    let f = figment(dir.path())
        .select("release")
        .merge(("bcrypt_cost", 10));
    let s = gatehouse::config::Settings::from_figment(&f).unwrap();
    assert!(s.secure_cookies);
}

#[test]
fn keys_are_generated_once_and_reused() {
    let t = start();
    t.signed_up("kim");
    let token = t.session_cookie().unwrap();
    let keys = std::fs::read_dir(t.dir.path().join("data/keys"))
        .unwrap()
        .count();
    assert_eq!(keys, 1);
    let csrf_key = t.dir.path().join("data/csrf.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&csrf_key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let t = t.restart();
    assert_eq!(
        std::fs::read_dir(t.dir.path().join("data/keys"))
            .unwrap()
            .count(),
        1
    );
    // The old token still verifies: same key after the restart.
    assert_eq!(
        t.get_with_token("/dashboard", &token).status(),
        rocket::http::Status::Ok
    );
}

#[test]
fn a_damaged_key_file_stops_the_start() {
    let t = start();
    let dir = t.dir.clone();
    let dir_path = dir.path().to_path_buf();
    let key = std::fs::read_dir(dir_path.join("data/keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    drop(t);

    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = gatehouse::rocket(figment(&dir_path)).expect_err("refused");
    assert!(matches!(e, StartupError::Keys(_)), "{e}");
    assert!(
        e.to_string()
            .contains(key.file_name().unwrap().to_str().unwrap()),
        "{e}"
    );
    // Still there, still damaged: never silently replaced.
    assert!(std::fs::read_to_string(&key).unwrap().contains("garbage"));
    assert_eq!(
        std::fs::read_dir(dir_path.join("data/keys"))
            .unwrap()
            .count(),
        1
    );
    // A damaged CSRF key too.
    std::fs::remove_file(&key).unwrap();
    std::fs::write(dir_path.join("data/csrf.key"), "short").unwrap();
    let e = gatehouse::rocket(figment(&dir_path)).expect_err("refused");
    assert!(e.to_string().contains("csrf.key"), "{e}");
}

#[test]
fn every_algorithm_works_end_to_end() {
    for alg in ["EdDSA", "ES256", "RS256", "HS256"] {
        let t = start_with(|f| f.merge(("jwt_algorithm", alg)));
        t.signed_up("algo");
        let token = t.session_cookie().unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert!(header.kid.is_some());
        assert_eq!(
            t.get("/dashboard").status(),
            rocket::http::Status::Ok,
            "{alg}"
        );
        t.logout();
        assert_eq!(
            t.get_with_token("/dashboard", &token).status(),
            rocket::http::Status::SeeOther
        );
    }
}

#[test]
fn audit_retention_defaults_to_400_days_and_check_config_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = gatehouse::config::Settings::from_figment(&figment(dir.path())).unwrap();
    assert_eq!(s.audit_retention, 400 * 86400);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_AUDIT_RETENTION", "8640000")
        .env("DATABASE_URL", database_url(dir.path()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("audit_retention             = 8640000"),
        "{text}"
    );
}
