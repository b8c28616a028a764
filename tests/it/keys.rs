//! Key rotation with live sessions, the JWKS and the metadata document.

use crate::common::*;
use gatehouse::auth::keys;
use gatehouse::clock::Clock;
use rocket::http::{ContentType, Status};
use serde_json::Value;

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn jwks(t: &TestApp) -> Value {
    let r = t.get("/.well-known/jwks.json");
    assert_eq!(r.status(), Status::Ok);
    serde_json::from_str(&r.into_string().unwrap()).unwrap()
}

backend_tests! {
    #[test]
    fn rotation_keeps_everyone_signed_in_and_retiring_ends_old_tokens() {
        let t = start();
        t.signed_up("rita");
        let old_token = t.session_cookie().unwrap();
        let old_kid = kid_of(&old_token);
        // Rotate from outside (the CLI does exactly this).
        let ring = keys::rotate(
            &t.dir.path().join("data"),
            keys::Alg::EdDSA,
            t.clock.now() + 1,
        )
        .unwrap();
        let new_kid = ring.active().kid.clone();
        assert_ne!(new_kid, old_kid);
        // Old tokens keep working.
        assert_eq!(
            t.get_with_token("/dashboard", &old_token).status(),
            Status::Ok
        );
        // The instance picks the rotation up at its periodic reload and signs with the new key...
        t.clock.advance(60);
        let kids: Vec<String> = jwks(&t)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            kids,
            [new_kid.clone(), old_kid.clone()],
            "both published, newest first"
        );
        let other = Browser::default();
        other.login(&t, "rita", PASSWORD);
        assert_eq!(
            kid_of(&other.session().unwrap()),
            new_kid,
            "new tokens carry the new kid"
        );
        // ...and re-issues old tokens at their next revalidation.
        t.clock.advance(61);
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::Ok);
        drop(r);
        assert_eq!(kid_of(&t.session_cookie().unwrap()), new_kid);
        // Retiring the old key ends tokens it signed at once.
        keys::retire(&t.dir.path().join("data"), keys::Alg::EdDSA, &old_kid).unwrap();
        t.clock.advance(60);
        assert_eq!(
            t.get_with_token("/dashboard", &old_token).status(),
            Status::SeeOther
        );
        assert_eq!(jwks(&t)["keys"].as_array().unwrap().len(), 1);
        // The active key cannot be retired.
        assert!(keys::retire(&t.dir.path().join("data"), keys::Alg::EdDSA, &new_kid).is_err());
    }

    #[test]
    fn an_instance_that_has_not_reloaded_still_accepts_tokens_of_a_new_key() {
        let t = start();
        let b = t.another_instance();
        t.signed_up("sven");
        keys::rotate(
            &t.dir.path().join("data"),
            keys::Alg::EdDSA,
            t.clock.now() + 1,
        )
        .unwrap();
        gatehouse::tasks::refresh_keys(t.app());
        let other = Browser::default();
        other.login(&t, "sven", PASSWORD);
        let token = other.session().unwrap();
        // Instance b has not run its periodic reload: an unknown kid makes it look again.
        assert_eq!(b.get_with_token("/dashboard", &token).status(), Status::Ok);
    }
}

#[test]
fn jwks_publishes_public_keys_only() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let t = start_with(|f| f.merge(("jwt_algorithm", alg)));
        let r = t.get("/.well-known/jwks.json");
        assert_eq!(r.content_type(), Some(ContentType::JSON));
        let cache = r.headers().get_one("Cache-Control").unwrap().to_string();
        assert!(
            cache.contains("max-age=") && cache.contains("public"),
            "{cache}"
        );
        let set: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k["alg"], alg);
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kid"], t.app().tokens.keys().active().kid.as_str());
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "{alg}: private member {private}");
        }
        let kty = k["kty"].as_str().unwrap();
        assert_eq!(
            kty,
            match alg {
                "EdDSA" => "OKP",
                "ES256" => "EC",
                _ => "RSA",
            }
        );
        // The published key really verifies our tokens.
        t.signed_up("jwk");
        let token = t.session_cookie().unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(k.clone()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::decode_header(&token).unwrap().alg);
        v.set_audience(&[ORIGIN]);
        v.set_issuer(&[ORIGIN]);
        jsonwebtoken::decode::<Value>(&token, &key, &v).expect("verifies with the JWKS key");
    }
    let t = start_with(|f| f.merge(("jwt_algorithm", "HS256")));
    assert_eq!(
        jwks(&t)["keys"].as_array().unwrap().len(),
        0,
        "a shared secret is never published"
    );
}

#[test]
fn metadata_tells_clients_what_to_trust() {
    let t = start();
    let r = t.get("/.well-known/gatehouse.json");
    assert_eq!(r.status(), Status::Ok);
    let m: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    assert_eq!(m["issuer"], ORIGIN);
    assert_eq!(m["jwks_uri"], format!("{ORIGIN}/.well-known/jwks.json"));
    assert_eq!(m["cookie_name"], "session");
    assert_eq!(m["algorithms"][0], "EdDSA");
}

#[test]
fn a_bad_key_file_appearing_later_does_not_take_signing_down() {
    let t = start();
    t.signed_up("tove");
    std::fs::write(
        t.dir.path().join("data/keys/eddsa-9999999999.pem"),
        "garbage",
    )
    .unwrap();
    // The periodic reload meets it.
    t.clock.advance(60);
    assert_eq!(t.get("/dashboard").status(), Status::Ok);
    t.logout();
    assert_eq!(t.login("tove", PASSWORD).status(), Status::SeeOther);
}

#[test]
fn verify_only_keys_retire_by_themselves_once_their_tokens_expired() {
    let t = start_with(|f| f.merge(("remember_me_timeout", 3600)));
    let data = t.dir.path().join("data");
    let old = t.app().tokens.keys().active().kid.clone();
    keys::rotate(&data, keys::Alg::EdDSA, t.clock.now() + 1).unwrap();
    // The periodic reload takes the new key up and keeps the old one: too early.
    t.clock.advance(60);
    assert_ne!(t.app().tokens.keys().active().kid, old);
    assert!(
        t.app().tokens.keys().get(&old).is_some(),
        "retired too early"
    );
    // Once every token it signed has expired, the next reload retires it.
    t.clock.advance(3600 + 30 + 2);
    assert!(t.app().tokens.keys().get(&old).is_none());
    assert!(data.join("keys/retired").read_dir().unwrap().count() == 1);
}
