//! CSRF and origin checks (SECURITY-BAR CS-1..CS-4) on every POST, sign-in included.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};

fn post(t: &TestApp, uri: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Status {
    let mut req = t
        .client
        .post(uri.to_string())
        .header(ContentType::Form)
        .body(encode(fields));
    for (k, v) in headers {
        req = req.header(Header::new(k.to_string(), v.to_string()));
    }
    t.send(req).status()
}

/// A token this server issues to a different browser (bound to another pre-session cookie).
fn start_in_same_app_token(t: &TestApp) -> String {
    let other_browser = "BBBBBBBBBBBBBBBBBBBBBB";
    assert_ne!(t.cookie("csrf").unwrap(), other_browser);
    t.app()
        .csrf
        .token(gatehouse::auth::csrf::Binding::PreSession, other_browser)
}

backend_tests! {
    #[test]
    fn sign_in_needs_a_token_bound_to_this_browser() {
        let t = start();
        t.signed_up("abe");
        t.logout();
        let creds = [("username", "abe"), ("password", PASSWORD)];
        // No token at all.
        assert_eq!(post(&t, "/login", &creds, &[]), Status::Forbidden);
        // A made-up one.
        let mut f = creds.to_vec();
        f.push((
            "csrf_token",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ));
        assert_eq!(post(&t, "/login", &f, &[]), Status::Forbidden);
        // A real token from another browser (another pre-session cookie) is worthless here.
        let other = start_in_same_app_token(&t);
        let mut f = creds.to_vec();
        f.push(("csrf_token", &other));
        assert_eq!(post(&t, "/login", &f, &[]), Status::Forbidden);
        // And the real one works.
        let mine = t.csrf("/login");
        let mut f = creds.to_vec();
        f.push(("csrf_token", &mine));
        assert_eq!(post(&t, "/login", &f, &[]), Status::SeeOther);
    }

    #[test]
    fn a_repeated_token_field_is_refused_whichever_copy_is_good() {
        // A server that took the first, the last or any valid copy could be fed a second
        // token by whoever controls part of the form (an injected field, a proxy).
        let t = start();
        t.signed_up("rhea");
        t.logout();
        let forged = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let creds = [("username", "rhea"), ("password", PASSWORD)];
        let mine = t.csrf("/login");
        let also_mine = t.csrf("/login");
        for (a, b) in [(&mine[..], forged), (forged, &mine[..]), (&mine[..], &also_mine[..])] {
            let mut f = creds.to_vec();
            f.push(("csrf_token", a));
            f.push(("csrf_token", b));
            assert_eq!(post(&t, "/login", &f, &[]), Status::Forbidden);
            assert!(t.session_cookie().is_none(), "signed in with a repeated token");
        }
        // A session-bound form too: sign-out with two tokens leaves the session alone.
        let mut f = creds.to_vec();
        f.push(("csrf_token", &mine));
        assert_eq!(post(&t, "/login", &f, &[]), Status::SeeOther);
        let token = t.csrf("/dashboard");
        for (a, b) in [(&token[..], forged), (forged, &token[..]), (&token[..], &token[..])] {
            let status = post(&t, "/logout", &[("csrf_token", a), ("csrf_token", b)], &[]);
            assert_eq!(status, Status::Forbidden);
            assert_eq!(t.get("/dashboard").status(), Status::Ok, "signed out by a repeated token");
        }
    }

    #[test]
    fn without_the_pre_session_cookie_sign_in_is_refused() {
        let t = start();
        let token = t.csrf("/login");
        // A client that sends no cookies at all, holding a token that was valid for our browser.
        let status = rocket::local::blocking::Client::untracked(
            gatehouse::rocket_with_clock(figment(t.dir.path()), t.clock.clone()).unwrap(),
        )
        .unwrap()
        .post("/login")
        .header(ContentType::Form)
        .body(encode(&[
            ("username", "x"),
            ("password", "y"),
            ("csrf_token", &token),
        ]))
        .dispatch()
        .status();
        assert_eq!(status, Status::Forbidden);
    }

    #[test]
    fn cross_origin_posts_are_refused_even_with_a_valid_token() {
        let t = start();
        t.signed_up("bea");
        t.logout();
        let token = t.csrf("/login");
        let f = [
            ("username", "bea"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ];
        assert_eq!(
            post(&t, "/login", &f, &[("Origin", "https://evil.example")]),
            Status::Forbidden
        );
        assert_eq!(
            post(&t, "/login", &f, &[("Origin", "null")]),
            Status::Forbidden
        );
        assert_eq!(
            post(&t, "/login", &f, &[("Origin", "http://127.0.0.1:8001")]),
            Status::Forbidden
        );
        assert_eq!(
            post(&t, "/login", &f, &[("Sec-Fetch-Site", "cross-site")]),
            Status::Forbidden
        );
        let r = t.send(
            t.client
                .post("/login")
                .header(ContentType::Form)
                .header(Header::new("Origin", "https://evil.example"))
                .body(encode(&f)),
        );
        assert_eq!(r.status(), Status::Forbidden);
        let body = r.into_string().unwrap();
        assert!(body.contains("data-testid=\"error\"") && body.contains("another origin"));
        // Same-origin and same-site are fine.
        assert_eq!(
            post(
                &t,
                "/login",
                &f,
                &[("Origin", ORIGIN), ("Sec-Fetch-Site", "same-origin")]
            ),
            Status::SeeOther
        );
    }

    #[test]
    fn logout_needs_the_session_bound_token() {
        let t = start();
        t.signed_up("cid");
        // No token, a pre-session token, a token from another session: all refused, and the
        // session lives on.
        assert_eq!(post(&t, "/logout", &[], &[]), Status::Forbidden);
        assert_eq!(
            post(&t, "/logout", &[("csrf_token", "")], &[]),
            Status::Forbidden
        );
        let app = t.app();
        let pre = app.csrf.token(
            gatehouse::auth::csrf::Binding::PreSession,
            &t.cookie("csrf").unwrap(),
        );
        assert_eq!(
            post(&t, "/logout", &[("csrf_token", &pre)], &[]),
            Status::Forbidden
        );
        let foreign = app.csrf.token(
            gatehouse::auth::csrf::Binding::Session,
            "AAAAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(
            post(&t, "/logout", &[("csrf_token", &foreign)], &[]),
            Status::Forbidden
        );
        let token = t.csrf("/dashboard");
        assert_eq!(
            post(
                &t,
                "/logout",
                &[("csrf_token", &token)],
                &[("Origin", "https://evil.example")]
            ),
            Status::Forbidden
        );
        assert_eq!(t.get("/dashboard").status(), Status::Ok, "still signed in");
        // The page's own token works.
        assert_eq!(
            post(&t, "/logout", &[("csrf_token", &token)], &[]),
            Status::SeeOther
        );
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
    }

    #[test]
    fn registration_needs_a_token_too() {
        let t = start();
        let f = [
            ("username", "dan"),
            ("email", "dan@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ];
        assert_eq!(post(&t, "/register", &f, &[]), Status::Forbidden);
        assert_eq!(
            t.login("dan", PASSWORD).status(),
            Status::Unauthorized,
            "no account was made"
        );
    }

    #[test]
    fn gets_never_change_state() {
        let t = start();
        t.signed_up("eli");
        for uri in [
            "/logout",
            "/login?username=eli&password=x",
            "/register?username=x",
        ] {
            let _ = t.get(uri);
        }
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
    }
}
