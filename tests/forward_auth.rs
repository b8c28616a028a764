//! Forward-auth (`GET /auth/verify`) and the redirect allowlist with `cookie_domain`.

mod common;

use common::*;
use rocket::http::{Header, Status};

fn verify<'c>(
    t: &'c TestApp,
    b: &Browser,
    headers: &[(&str, &str)],
) -> rocket::local::blocking::LocalResponse<'c> {
    let mut req = t.client.get("/auth/verify");
    for (k, v) in headers {
        req = req.header(Header::new(k.to_string(), v.to_string()));
    }
    b.send(req)
}

backend_tests! {
    #[test]
    fn signed_in_users_get_200_with_remote_headers() {
        let t = start();
        t.signed_up("uli");
        let r = verify(
            &t,
            &t.browser,
            &[("X-Original-URL", "http://127.0.0.1:8000/app/page")],
        );
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.headers().get_one("Remote-User"), Some("uli"));
        assert_eq!(r.headers().get_one("Remote-Name"), Some("uli"));
        assert_eq!(r.headers().get_one("Remote-Email"), Some("uli@example.com"));
        assert_eq!(r.headers().get_one("Remote-Groups"), Some(""));
        assert_eq!(r.headers().get_one("Cache-Control"), Some("no-store"));
    }

    #[test]
    fn signed_out_visitors_get_401_and_where_to_sign_in() {
        let t = start();
        let nobody = Browser::default();
        let r = verify(
            &t,
            &nobody,
            &[("X-Original-URL", "http://127.0.0.1:8000/app/page?x=1")],
        );
        assert_eq!(r.status(), Status::Unauthorized);
        assert_eq!(
            r.headers().get_one("Location"),
            Some("http://127.0.0.1:8000/login?next=%2Fapp%2Fpage%3Fx%3D1")
        );
        assert!(r.headers().get_one("Remote-User").is_none());
        // The X-Forwarded-* form (Traefik, Caddy).
        let r = verify(
            &t,
            &nobody,
            &[
                ("X-Forwarded-Proto", "http"),
                ("X-Forwarded-Host", "127.0.0.1:8000"),
                ("X-Forwarded-Uri", "/wiki"),
            ],
        );
        assert_eq!(
            r.headers().get_one("Location"),
            Some("http://127.0.0.1:8000/login?next=%2Fwiki")
        );
        // Garbage, tampered and foreign tokens are all just "not signed in".
        for token in ["garbage", "a.b.c", ""] {
            let r = t.get_with_token("/auth/verify", token);
            assert_eq!(r.status(), Status::Unauthorized, "{token}");
        }
        // Without cookie_domain, another host is no redirect target: plain login URL.
        let r = verify(
            &t,
            &nobody,
            &[("X-Original-URL", "https://evil.example/steal")],
        );
        assert_eq!(
            r.headers().get_one("Location"),
            Some("http://127.0.0.1:8000/login")
        );
    }

    #[test]
    fn a_revoked_session_is_refused_at_once() {
        let t = start();
        t.signed_up("vic");
        let token = t.session_cookie().unwrap();
        t.logout();
        assert_eq!(
            t.get_with_token("/auth/verify", &token).status(),
            Status::Unauthorized
        );
    }

    #[test]
    fn access_rules_deny_by_default_and_allow_users_and_groups() {
        let t = start_with(|f| {
            f.merge((
                "access_rules",
                serde_json::json!([
                    {"host": "admin.example.com", "users": ["wanda"]},
                    {"host": "*.example.com", "groups": ["staff"]}
                ]),
            ))
        });
        t.signed_up("wanda");
        let xavier = Browser::default();
        xavier.register(&t, "xavier", "xavier@example.com", PASSWORD);
        let at = |b: &Browser, host: &str| {
            verify(&t, b, &[("X-Original-URL", &format!("https://{host}/"))]).status()
        };
        assert_eq!(at(&t.browser, "admin.example.com"), Status::Ok);
        assert_eq!(at(&xavier, "admin.example.com"), Status::Forbidden);
        assert_eq!(at(&xavier, "wiki.example.com"), Status::Forbidden);
        assert_eq!(
            at(&t.browser, "unlisted.org"),
            Status::Forbidden,
            "no rule: denied"
        );
        // Groups come from the database (the CLI's `group add`), seen within the revalidate interval.
        {
            let app = t.app();
            let mut conn = app.db.get().unwrap();
            let id = gatehouse::db::users::find_by_username_key(&mut conn, "xavier")
                .unwrap()
                .unwrap()
                .id;
            gatehouse::db::groups::add(&mut conn, &id, "staff", 0).unwrap();
        }
        t.clock.advance(61);
        let r = verify(
            &t,
            &xavier,
            &[("X-Original-URL", "https://wiki.example.com/")],
        );
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.headers().get_one("Remote-Groups"), Some("staff"));
        assert_eq!(
            at(&xavier, "admin.example.com"),
            Status::Forbidden,
            "the first matching rule decides"
        );
    }

    #[test]
    fn cookie_domain_shares_the_session_and_allows_redirects_within_it_only() {
        let t = start_with(|f| {
            f.merge(("cookie_domain", "127.0.0.1.nip.io"))
                .merge(("public_origin", "http://login.127.0.0.1.nip.io:8000"))
        });
        let r = t.get("/login");
        assert!(r
            .headers()
            .get_one("Content-Security-Policy")
            .unwrap()
            .contains("form-action 'self' http://127.0.0.1.nip.io http://*.127.0.0.1.nip.io"));
        drop(r);
        let r = t.register("yara", "yara@example.com", PASSWORD);
        let c = set_cookie_named(&r, "session").unwrap();
        assert!(c.contains("Domain=127.0.0.1.nip.io"), "{c}");
        drop(r);
        let nobody = Browser::default();
        let r = verify(
            &t,
            &nobody,
            &[("X-Original-URL", "http://app.127.0.0.1.nip.io:9000/x?y=1")],
        );
        assert_eq!(
            r.headers().get_one("Location"),
            Some("http://login.127.0.0.1.nip.io:8000/login?next=http%3A%2F%2Fapp.127.0.0.1.nip.io%3A9000%2Fx%3Fy%3D1")
        );
        // Sign-in sends people back to the app: absolute URLs within the domain only.
        t.logout();
        let cases = [
            (
                "http://app.127.0.0.1.nip.io:9000/x",
                "http://app.127.0.0.1.nip.io:9000/x",
            ),
            ("http://127.0.0.1.nip.io/", "http://127.0.0.1.nip.io/"),
            ("http://evil.example/", "/dashboard"),
            ("http://127.0.0.1.nip.io.evil.example/", "/dashboard"),
            ("http://evil127.0.0.1.nip.io/", "/dashboard"),
            ("http://user@app.127.0.0.1.nip.io/", "/dashboard"),
            (
                "javascript://app.127.0.0.1.nip.io/%0aalert(1)",
                "/dashboard",
            ),
            ("ftp://app.127.0.0.1.nip.io/", "/dashboard"),
            ("http://app.127.0.0.1.nip.io\\@evil.example/", "/dashboard"),
            ("http://app.127.0.0.1.nip.io//\\evil", "/dashboard"),
        ];
        for (next, expected) in cases {
            let csrf = t.csrf("/login");
            let r = t.post_form(
                "/login",
                &[
                    ("username", "yara"),
                    ("password", PASSWORD),
                    ("next", next),
                    ("csrf_token", &csrf),
                ],
            );
            assert_eq!(r.status(), Status::SeeOther, "{next}");
            assert_eq!(r.headers().get_one("Location"), Some(expected), "{next}");
            drop(r);
            t.logout();
        }
    }

    #[test]
    fn secure_cookie_domain_uses_the_secure_prefix_and_https_targets() {
        let t = start_with(|f| {
            f.merge(("cookie_domain", "example.com"))
                .merge(("public_origin", "https://login.example.com"))
                .merge(("secure_cookies", true))
        });
        let r = t.register("zoe", "zoe@example.com", PASSWORD);
        let c = set_cookie_named(&r, "__Secure-session").expect("__Secure- cookie");
        assert!(
            c.contains("Domain=example.com") && c.contains("Secure") && c.contains("HttpOnly"),
            "{c}"
        );
        drop(r);
        let nobody = Browser::default();
        let r = verify(
            &t,
            &nobody,
            &[("X-Original-URL", "http://app.example.com/")],
        );
        assert_eq!(
            r.headers().get_one("Location"),
            Some("https://login.example.com/login"),
            "plain http target refused"
        );
    }

    #[test]
    fn cookie_domain_must_contain_the_public_origin() {
        let dir = tempfile::tempdir().unwrap();
        let f = figment(dir.path()).merge(("cookie_domain", "example.com"));
        let e = gatehouse::rocket(f).expect_err("refused").to_string();
        assert!(e.contains("`cookie_domain`"), "{e}");
    }
}
