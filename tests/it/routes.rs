//! Properties of the route table as a whole: deny by default (JW-8), CSRF on every POST
//! (CS-2), no CORS (CS-4), and the timing rule for unknown users (LG-2).

use crate::common::*;
use rocket::http::{ContentType, Header, Method, Status};

/// Routes anyone may GET without signing in. Everything else must send visitors to login.
const PUBLIC: &[&str] = &[
    "/",
    "/login",
    "/register",
    "/healthz",
    "/favicon.ico",
    "/static/<name>",
    "/language/<code>",
    "/password/forgot",
    "/password/reset/<token>",
    "/email/verify/<token>",
    "/login/2fa",
];

/// Every page that needs a session. A new page goes here, or in `PUBLIC` if anyone may see
/// it: the walk below checks exactly these, so it cannot pass by checking fewer.
const PROTECTED: &[&str] = &[
    "/account",
    "/account/2fa",
    "/account/sessions",
    "/dashboard",
];

/// Every form target. Each needs a CSRF token.
const POSTS: &[&str] = &[
    "/account/2fa/disable",
    "/account/2fa/recovery-codes",
    "/account/2fa/totp",
    "/account/delete",
    "/account/email",
    "/account/email/resend",
    "/account/password",
    "/account/sessions/<id>/revoke",
    "/account/sessions/revoke-others",
    "/email/resend",
    "/login",
    "/login/2fa",
    "/logout",
    "/password/forgot",
    "/password/reset/<token>",
    "/password/strength",
    "/register",
];

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('<') {
                "AAAAAAAAAAAAAAAAAAAAAA"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn app_routes(t: &TestApp) -> Vec<(Method, String)> {
    t.client
        .rocket()
        .routes()
        .filter(|r| r.rank < 1000)
        .map(|r| (r.method, r.uri.path().to_string()))
        .collect()
}

backend_tests! {
    #[test]
    fn unknown_users_cost_one_bcrypt_verify_like_real_ones() {
        let t = start();
        t.signed_up("timer");
        t.logout();
        let hasher = &t.app().hasher;
        let before = hasher.verifications();
        assert_eq!(
            t.login("nobody-at-all", PASSWORD).status(),
            Status::Unauthorized
        );
        assert_eq!(hasher.verifications(), before + 1, "unknown user");
        assert_eq!(
            t.login("timer", "wrong password!").status(),
            Status::Unauthorized
        );
        assert_eq!(hasher.verifications(), before + 2, "wrong password");
        assert_eq!(
            t.login("nobody@example.com", PASSWORD).status(),
            Status::Unauthorized
        );
        assert_eq!(hasher.verifications(), before + 3, "unknown email");
    }
}

#[test]
fn every_non_public_page_requires_a_session() {
    let t = start();
    let mut checked = Vec::new();
    for (method, path) in app_routes(&t) {
        if method != Method::Get
            || PUBLIC.contains(&path.as_str())
            || path.starts_with("/.well-known")
            || path == "/auth/verify"
        {
            continue;
        }
        let r = t.get(&concrete(&path));
        assert_eq!(r.status(), Status::SeeOther, "GET {path} without a session");
        assert!(
            r.headers()
                .get_one("Location")
                .unwrap()
                .starts_with("/login?next="),
            "{path}"
        );
        checked.push(path);
    }
    checked.sort();
    assert_eq!(checked, PROTECTED, "the pages walked");
}

#[test]
fn every_post_needs_a_valid_csrf_token() {
    let t = start();
    t.signed_up("posty");
    let mut posts: Vec<String> = app_routes(&t)
        .into_iter()
        .filter(|(m, _)| *m == Method::Post)
        .map(|(_, p)| p)
        .collect();
    posts.sort();
    assert_eq!(posts, POSTS, "the form targets walked");
    for path in posts.iter().map(|p| concrete(p)) {
        for body in ["", "csrf_token=forged", "csrf_token=&x=1"] {
            let r = t.send(
                t.client
                    .post(path.clone())
                    .header(ContentType::Form)
                    .header(Header::new("Origin", ORIGIN))
                    .body(body),
            );
            assert_eq!(r.status(), Status::Forbidden, "POST {path} with {body:?}");
        }
    }
    assert_eq!(
        t.get("/dashboard").status(),
        Status::Ok,
        "nothing was changed"
    );
}

#[test]
fn there_is_no_cors() {
    let t = start();
    for path in ["/login", "/dashboard", "/healthz"] {
        let r = t
            .client
            .req(Method::Options, path)
            .header(Header::new("Origin", "https://evil.example"))
            .header(Header::new("Access-Control-Request-Method", "POST"))
            .dispatch();
        assert!(
            r.headers().get_one("Access-Control-Allow-Origin").is_none(),
            "{path}"
        );
        assert!(r.status().code >= 400, "{path}: {}", r.status());
    }
}
