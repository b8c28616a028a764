//! Token attacks against the guard (SECURITY-BAR JW-1..JW-4): every one is "not signed in",
//! never a 5xx.

use crate::common::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse::clock::Clock;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::http::Status;
use serde_json::{json, Value};

/// A signed-in user's valid claims and our real signing key, for forging variations.
struct Victim {
    claims: Value,
    kid: String,
    key_pem: Vec<u8>,
}

fn victim(t: &TestApp) -> Victim {
    t.signed_up("victim");
    let ring = t.app().tokens.keys();
    let active = ring.active();
    let token = t.session_cookie().unwrap();
    let fresh = t.claims(&token);
    // Leave the jar without a session so each attack request carries only its own token.
    t.logout_keep_session_alive();
    Victim {
        claims: serde_json::to_value(&fresh).unwrap(),
        kid: active.kid.clone(),
        key_pem: std::fs::read(&active.path).unwrap(),
    }
}

trait KeepAlive {
    fn logout_keep_session_alive(&self);
}

impl KeepAlive for TestApp {
    /// Drops the session cookie from the jar without ending the session on the server.
    fn logout_keep_session_alive(&self) {
        self.browser
            .forget(self.app().settings.session_cookie_name());
        assert!(self.session_cookie().is_none());
    }
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn our_header(v: &Victim) -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some("JWT".into());
    h.kid = Some(v.kid.clone());
    h
}

fn our_key(v: &Victim) -> EncodingKey {
    EncodingKey::from_ed_pem(&v.key_pem).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn assert_refused(t: &TestApp, token: &str, what: &str) {
    let r = t.get_with_token("/dashboard", token);
    assert_eq!(r.status(), Status::SeeOther, "{what}: accepted or errored");
    assert!(
        r.headers()
            .get_one("Location")
            .unwrap()
            .starts_with("/login"),
        "{what}"
    );
}

backend_tests! {
    #[test]
    fn claims_are_checked_strictly() {
        let t = start();
        let v = victim(&t);
        let now = t.clock.now();
        let key = our_key(&v);
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = v.claims.clone();
            f(&mut c);
            sign(&our_header(&v), &c, &key)
        };
        let cases: Vec<(&str, String)> = vec![
            (
                "expired",
                with(&|c| {
                    c["exp"] = json!(now - 1);
                }),
            ),
            (
                "exp now",
                with(&|c| {
                    c["exp"] = json!(now);
                }),
            ),
            (
                "nbf in the future",
                with(&|c| {
                    c["nbf"] = json!(now + 120);
                }),
            ),
            (
                "iat in the future",
                with(&|c| {
                    c["iat"] = json!(now + 120);
                }),
            ),
            (
                "wrong iss",
                with(&|c| {
                    c["iss"] = json!("https://evil.example");
                }),
            ),
            (
                "wrong aud",
                with(&|c| {
                    c["aud"] = json!("https://evil.example");
                }),
            ),
            (
                "aud list",
                with(&|c| {
                    c["aud"] = json!(["https://evil.example"]);
                }),
            ),
            (
                "no sub",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
            ),
            (
                "no sid",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("sid");
                }),
            ),
            (
                "no exp",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
            (
                "no iss",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("iss");
                }),
            ),
            (
                "no aud",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("aud");
                }),
            ),
            (
                "exp as string",
                with(&|c| {
                    c["exp"] = json!((now + 600).to_string());
                }),
            ),
            (
                "sid as number",
                with(&|c| {
                    c["sid"] = json!(12345);
                }),
            ),
            (
                "unknown sid",
                with(&|c| {
                    c["sid"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
                    c["iat"] = json!(now - 3600);
                }),
            ),
            (
                "lifetime beyond any we issue",
                with(&|c| {
                    c["exp"] = json!(now + 10 * 365 * 86400);
                }),
            ),
        ];
        for (what, token) in cases {
            assert_refused(&t, &token, what);
        }
        let mut h = our_header(&v);
        h.typ = None;
        assert_refused(&t, &sign(&h, &v.claims, &key), "no typ");
        h.typ = Some("at+jwt".into());
        assert_refused(&t, &sign(&h, &v.claims, &key), "other typ");
        let mut h = our_header(&v);
        h.crit = Some(vec!["exp".into()]);
        assert_refused(&t, &sign(&h, &v.claims, &key), "crit");
    }
}

#[test]
fn a_correctly_forged_token_is_accepted_so_the_attacks_below_mean_something() {
    let t = start();
    let v = victim(&t);
    let token = sign(&our_header(&v), &v.claims, &our_key(&v));
    assert_eq!(t.get_with_token("/dashboard", &token).status(), Status::Ok);
}

#[test]
fn tampered_truncated_padded_and_garbage_tokens_are_refused() {
    let t = start();
    let v = victim(&t);
    let good = sign(&our_header(&v), &v.claims, &our_key(&v));
    let parts: Vec<&str> = good.split('.').collect();
    let mut admin = v.claims.clone();
    admin["name"] = json!("admin");
    admin["sub"] = json!("someone-else");
    let tampered = format!("{}.{}.{}", parts[0], b64(&admin), parts[2]);
    assert_refused(&t, &tampered, "tampered payload");
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    assert_refused(
        &t,
        &format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig)),
        "flipped bit",
    );
    assert_refused(&t, &good[..good.len() - 5], "truncated");
    assert_refused(&t, &format!("{}.{}", parts[0], parts[1]), "no signature");
    assert_refused(&t, &format!("{good}="), "padded");
    assert_refused(&t, &format!("{good}.extra"), "four parts");
    assert_refused(
        &t,
        &format!("{}.{}.{}", parts[0], parts[1], "A".repeat(5000)),
        "oversized",
    );
    for garbage in ["", "garbage", "...", "a.b.c", "%00", "e30.e30.e30", "null"] {
        assert_refused(&t, garbage, garbage);
    }
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let t = start();
    let v = victim(&t);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": v.kid});
        let token = format!("{}.{}.", b64(&header), b64(&v.claims));
        assert_refused(&t, &token, alg);
        assert_refused(&t, &format!("{}.{}.e30", b64(&header), b64(&v.claims)), alg);
    }
    // HS256 "signed" with our public key (the classic confusion attack).
    let jwks = t.app().tokens.keys().active().public_jwk().unwrap();
    let public_x = URL_SAFE_NO_PAD.decode(jwks["x"].as_str().unwrap()).unwrap();
    for secret in [
        public_x.clone(),
        v.key_pem.clone(),
        jwks.to_string().into_bytes(),
    ] {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("JWT".into());
        h.kid = Some(v.kid.clone());
        let token = sign(&h, &v.claims, &EncodingKey::from_secret(&secret));
        assert_refused(&t, &token, "HS256 with public material");
    }
    // ES256 and RS256 tokens from keys we never issued, under our kid.
    let dir = tempfile::tempdir().unwrap();
    for (alg, jalg) in [
        (gatehouse::auth::keys::Alg::ES256, Algorithm::ES256),
        (gatehouse::auth::keys::Alg::RS256, Algorithm::RS256),
    ] {
        let ring = gatehouse::auth::keys::KeyRing::load_or_create(dir.path(), alg, 1).unwrap();
        let mut h = Header::new(jalg);
        h.typ = Some("JWT".into());
        h.kid = Some(v.kid.clone());
        let token = sign(&h, &v.claims, ring.active().encoding());
        assert_refused(&t, &token, &format!("{jalg:?}"));
    }
}

#[test]
fn keys_we_do_not_hold_are_refused_whatever_the_header_says() {
    let t = start();
    let v = victim(&t);
    let dir = tempfile::tempdir().unwrap();
    let attacker = gatehouse::auth::keys::KeyRing::load_or_create(
        dir.path(),
        gatehouse::auth::keys::Alg::EdDSA,
        1,
    )
    .unwrap();
    let attacker_jwk = attacker.active().public_jwk().unwrap();
    // Their own kid, our kid, a path, a URL; plus jwk/jku/x5u headers pointing at their key.
    for kid in [
        attacker.active().kid.clone(),
        v.kid.clone(),
        "../../keys/eddsa-1.pem".into(),
        "https://evil.example/k".into(),
    ] {
        let mut h = our_header(&v);
        h.kid = Some(kid.clone());
        h.jku = Some("https://evil.example/jwks.json".into());
        h.x5u = Some("https://evil.example/cert.pem".into());
        h.jwk = Some(serde_json::from_value(attacker_jwk.clone()).unwrap());
        let token = sign(&h, &v.claims, attacker.active().encoding());
        assert_refused(&t, &token, &format!("attacker key, kid {kid}"));
    }
    // No kid at all.
    let mut h = our_header(&v);
    h.kid = None;
    assert_refused(&t, &sign(&h, &v.claims, &our_key(&v)), "no kid");
}

#[test]
fn tokens_only_count_in_the_cookie() {
    let t = start();
    t.signed_up("quinn");
    let token = t.session_cookie().unwrap();
    t.logout_keep_session_alive();
    for uri in [
        format!("/dashboard?token={token}"),
        format!("/dashboard?session={token}"),
        format!("/dashboard?access_token={token}"),
    ] {
        assert_eq!(t.get(&uri).status(), Status::SeeOther, "{uri}");
    }
    let r = t
        .client
        .get("/dashboard")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther, "bearer header");
    // And the cookie itself still works: the refusals above were about where it was sent.
    assert_eq!(t.get_with_token("/dashboard", &token).status(), Status::Ok);
}
