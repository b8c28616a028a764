//! CSRF and origin checks (SECURITY-BAR CS-1..CS-4) on every POST, sign-in included.

use crate::common::*;
use rocket::http::{ContentType, Status};

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
    fn logout_needs_the_session_bound_token() {
        let t = start();
        t.signed_up("cid");
        // No token, a pre-session token, a token from another session: all refused, and the
        // session lives on.
        assert_eq!(t.post_form_with("/logout", &[], &[]).status(), Status::Forbidden);
        assert_eq!(
            t.post_form_with("/logout", &[("csrf_token", "")], &[]).status(),
            Status::Forbidden
        );
        let app = t.app();
        let pre = app.csrf.token(
            gatehouse::auth::csrf::Binding::PreSession,
            &t.cookie("csrf").unwrap(),
        );
        assert_eq!(
            t.post_form_with("/logout", &[("csrf_token", &pre)], &[]).status(),
            Status::Forbidden
        );
        let foreign = app.csrf.token(
            gatehouse::auth::csrf::Binding::Session,
            "AAAAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(
            t.post_form_with("/logout", &[("csrf_token", &foreign)], &[]).status(),
            Status::Forbidden
        );
        let token = t.csrf("/dashboard");
        assert_eq!(
            t.post_form_with("/logout",
                &[("csrf_token", &token)],
                &[("Origin", "https://evil.example")]
            ).status(),
            Status::Forbidden
        );
        assert_eq!(t.get("/dashboard").status(), Status::Ok, "still signed in");
        // The page's own token works.
        assert_eq!(
            t.post_form_with("/logout", &[("csrf_token", &token)], &[]).status(),
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
        assert_eq!(t.post_form_with("/register", &f, &[]).status(), Status::Forbidden);
        assert_eq!(
            t.login("dan", PASSWORD).status(),
            Status::Unauthorized,
            "no account was made"
        );
    }

    #[test]
    fn gets_never_change_state() {
        // What an attacker's <img src> or link makes a browser send: every form's fields, a
        // valid token included, as a GET. Nothing may happen.
        let t = start();
        t.signed_up("eli");
        let session = t.session_cookie().unwrap();
        let sid = t.sid_of(&session);
        let before = rows(&t);
        let csrf = t.csrf("/account");
        let query = |fields: &[(&str, &str)]| {
            let mut all = fields.to_vec();
            all.push(("csrf_token", &csrf));
            encode(&all)
        };
        let new = "a brand new passphrase here";
        let signed_in = [
            (format!("/logout?{}", query(&[])), Status::MethodNotAllowed),
            (
                format!("/account/password?{}", query(&[
                    ("current_password", PASSWORD),
                    ("new_password", new),
                    ("new_password_confirm", new),
                ])),
                Status::MethodNotAllowed,
            ),
            (
                format!("/account/delete?{}", query(&[("current_password", PASSWORD)])),
                Status::MethodNotAllowed,
            ),
            (
                format!("/account/sessions/{sid}/revoke?{}", query(&[])),
                Status::MethodNotAllowed,
            ),
            (
                format!("/account/sessions/revoke-others?{}", query(&[])),
                Status::MethodNotAllowed,
            ),
            // Signed-in visitors are sent on from the sign-in and sign-up pages.
            (
                format!("/login?{}", query(&[("username", "eli"), ("password", "x")])),
                Status::SeeOther,
            ),
            (
                format!("/register?{}", query(&[
                    ("username", "zed"),
                    ("email", "zed@example.com"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ])),
                Status::SeeOther,
            ),
        ];
        let session_name = t.app().settings.session_cookie_name().to_string();
        for (uri, status) in &signed_in {
            let r = t.get(uri);
            assert_eq!(r.status(), *status, "GET {uri}");
            assert_eq!(set_cookie_named(&r, &session_name), None, "GET {uri} touched the session");
        }
        // Signed out: the right password in a GET signs nobody in, and a sign-up makes nobody.
        let stranger = Browser::default();
        let stranger_csrf = stranger.csrf(&t, "/login");
        for uri in [
            format!(
                "/login?{}",
                encode(&[("username", "eli"), ("password", PASSWORD), ("csrf_token", &stranger_csrf)])
            ),
            format!(
                "/register?{}",
                encode(&[
                    ("username", "zed"),
                    ("email", "zed@example.com"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                    ("csrf_token", &stranger_csrf),
                ])
            ),
        ] {
            let r = stranger.get(&t, &uri);
            assert_eq!(r.status(), Status::Ok, "GET {uri}");
            assert_eq!(set_cookie_named(&r, &session_name), None, "GET {uri} signed in");
        }
        assert_eq!(stranger.get(&t, "/dashboard").status(), Status::SeeOther);
        // No row was added, changed into a revocation or removed, and the session goes on
        // with the same token, on this instance and on one that must ask the database.
        assert_eq!(rows(&t), before);
        assert_eq!(t.session_cookie(), Some(session.clone()));
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
        t.clock.advance(61);
        assert_eq!(t.another_instance().get_with_token("/dashboard", &session).status(), Status::Ok);
        // The password did not change.
        assert_eq!(Browser::default().login(&t, "eli", PASSWORD).status(), Status::SeeOther);
    }
}

#[test]
fn sign_in_needs_a_token_bound_to_this_browser() {
    let t = start();
    t.signed_up("abe");
    t.logout();
    let creds = [("username", "abe"), ("password", PASSWORD)];
    // No token at all.
    assert_eq!(
        t.post_form_with("/login", &creds, &[]).status(),
        Status::Forbidden
    );
    // A made-up one.
    let mut f = creds.to_vec();
    f.push((
        "csrf_token",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ));
    assert_eq!(
        t.post_form_with("/login", &f, &[]).status(),
        Status::Forbidden
    );
    // A real token from another browser (another pre-session cookie) is worthless here.
    let other = start_in_same_app_token(&t);
    let mut f = creds.to_vec();
    f.push(("csrf_token", &other));
    assert_eq!(
        t.post_form_with("/login", &f, &[]).status(),
        Status::Forbidden
    );
    // And the real one works.
    let mine = t.csrf("/login");
    let mut f = creds.to_vec();
    f.push(("csrf_token", &mine));
    assert_eq!(
        t.post_form_with("/login", &f, &[]).status(),
        Status::SeeOther
    );
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
    for (a, b) in [
        (&mine[..], forged),
        (forged, &mine[..]),
        (&mine[..], &also_mine[..]),
    ] {
        let mut f = creds.to_vec();
        f.push(("csrf_token", a));
        f.push(("csrf_token", b));
        assert_eq!(
            t.post_form_with("/login", &f, &[]).status(),
            Status::Forbidden
        );
        assert!(
            t.session_cookie().is_none(),
            "signed in with a repeated token"
        );
    }
    // A session-bound form too: sign-out with two tokens leaves the session alone.
    let mut f = creds.to_vec();
    f.push(("csrf_token", &mine));
    assert_eq!(
        t.post_form_with("/login", &f, &[]).status(),
        Status::SeeOther
    );
    let token = t.csrf("/dashboard");
    for (a, b) in [
        (&token[..], forged),
        (forged, &token[..]),
        (&token[..], &token[..]),
    ] {
        let status = t
            .post_form_with("/logout", &[("csrf_token", a), ("csrf_token", b)], &[])
            .status();
        assert_eq!(status, Status::Forbidden);
        assert_eq!(
            t.get("/dashboard").status(),
            Status::Ok,
            "signed out by a repeated token"
        );
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
        t.post_form_with("/login", &f, &[("Origin", "https://evil.example")])
            .status(),
        Status::Forbidden
    );
    assert_eq!(
        t.post_form_with("/login", &f, &[("Origin", "null")])
            .status(),
        Status::Forbidden
    );
    assert_eq!(
        t.post_form_with("/login", &f, &[("Origin", "http://127.0.0.1:8001")])
            .status(),
        Status::Forbidden
    );
    assert_eq!(
        t.post_form_with("/login", &f, &[("Sec-Fetch-Site", "cross-site")])
            .status(),
        Status::Forbidden
    );
    // `Origin: null` (a sandboxed frame, a privacy-masked origin) is ours only when the
    // browser's own `Sec-Fetch-Site` says same-origin.
    for site in ["cross-site", "same-site", "none"] {
        assert_eq!(
            t.post_form_with(
                "/login",
                &f,
                &[("Origin", "null"), ("Sec-Fetch-Site", site)]
            )
            .status(),
            Status::Forbidden,
            "{site}"
        );
    }
    let r = t.post_form_with("/login", &f, &[("Origin", "https://evil.example")]);
    assert_eq!(r.status(), Status::Forbidden);
    let body = r.into_string().unwrap();
    assert!(body.contains("data-testid=\"error\"") && body.contains("another origin"));
    // Same-origin and same-site are fine.
    assert_eq!(
        t.post_form_with(
            "/login",
            &f,
            &[("Origin", ORIGIN), ("Sec-Fetch-Site", "same-origin")]
        )
        .status(),
        Status::SeeOther
    );
    // A page sent with `Referrer-Policy: no-referrer` (a mailed link's) posts with
    // `Origin: null`; the browser marks it same-origin.
    t.logout();
    let token = t.csrf("/login");
    let f = [
        ("username", "bea"),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    assert_eq!(
        t.post_form_with(
            "/login",
            &f,
            &[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")]
        )
        .status(),
        Status::SeeOther
    );
}

/// Users, live sessions, audit events and throttle records: what a request that changed
/// something would have added to, revoked or removed.
fn rows(t: &TestApp) -> [i64; 4] {
    use diesel::prelude::*;
    use gatehouse::db::schema::{audit_events, sessions, throttle_events, users};
    let mut conn = t.app().db.get().unwrap();
    [
        users::table.count().get_result(&mut *conn).unwrap(),
        sessions::table
            .filter(sessions::revoked_at.is_null())
            .count()
            .get_result(&mut *conn)
            .unwrap(),
        audit_events::table.count().get_result(&mut *conn).unwrap(),
        throttle_events::table
            .count()
            .get_result(&mut *conn)
            .unwrap(),
    ]
}
