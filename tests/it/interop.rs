//! Our tokens are standard: Authlib (`authlib.jose`) and PyJWT verify them with our JWKS (or the
//! shared HS256 secret), checking iss, aud and exp; and a token Authlib forges with a key we
//! do not hold is refused by our guard. Needs the venv `bash scripts/test.sh` makes (or set
//! GATEHOUSE_TEST_PYTHON to a Python with tests/interop/requirements.txt installed).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::*;
use rocket::http::Status;
use serde_json::{json, Value};

fn python() -> PathBuf {
    let p = std::env::var_os("GATEHOUSE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python")
        });
    assert!(
        p.exists(),
        "{} is missing. Run `bash scripts/test.sh` (as root), or: python3 -m venv target/interop-venv && \
         target/interop-venv/bin/pip install -r tests/interop/requirements.txt",
        p.display()
    );
    p
}

fn run_python(input: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn authlib_and_pyjwt_verify_our_tokens_and_their_forgeries_are_refused() {
    for alg in ["EdDSA", "ES256", "RS256", "HS256"] {
        let t = start_with(|f| f.merge(("jwt_algorithm", alg)));
        t.signed_up("pyuser");
        let token = t.session_cookie().unwrap();
        let claims = t.claims(&token);
        let jwks: Value =
            serde_json::from_str(&t.get("/.well-known/jwks.json").into_string().unwrap()).unwrap();
        let mut input = json!({
            "token": token, "jwks": jwks, "alg": alg, "issuer": ORIGIN, "audience": ORIGIN,
        });
        if alg == "HS256" {
            // The shared secret, exactly as an app that verifies HS256 tokens would hold it.
            let path = t.app().tokens.keys().active().path.clone();
            input["secret_b64"] = json!(std::fs::read_to_string(path).unwrap().trim());
        }
        let out = run_python(&input);
        assert_eq!(out["header"]["alg"], alg);
        assert_eq!(out["header"]["typ"], "JWT");
        assert_eq!(
            out["header"]["kid"],
            t.app().tokens.keys().active().kid.as_str()
        );
        for lib in ["authlib", "pyjwt"] {
            assert_eq!(out[lib]["sub"], claims.sub.as_str(), "{alg} {lib}");
            assert_eq!(out[lib]["sid"], claims.sid.as_str(), "{alg} {lib}");
            assert_eq!(out[lib]["exp"], claims.exp, "{alg} {lib}");
        }
        assert_ne!(out["authlib_wrong_aud"], "accepted", "{alg}");
        assert_ne!(out["pyjwt_wrong_iss"], "accepted", "{alg}");
        let forged = out["forged"].as_str().unwrap();
        assert_ne!(forged, token);
        assert_eq!(
            t.get_with_token("/dashboard", forged).status(),
            Status::SeeOther,
            "{alg}: a token signed by a key we do not hold was accepted"
        );
        // The real one still works, so the refusal above was about the key.
        assert_eq!(t.get_with_token("/dashboard", &token).status(), Status::Ok);
    }
}
