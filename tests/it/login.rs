//! Signing in: generic failures (LG-1), redirects (LG-7), new sessions (LG-6), remember me,
//! hash upgrades (PW-5).

use crate::common::*;
use diesel::prelude::*;
use gatehouse::db::schema::users;
use rocket::http::Status;

fn login_with(
    t: &TestApp,
    fields: &[(&str, &str)],
) -> (Status, Option<String>, String, Vec<String>) {
    let r = t.submit("/login", "/login", fields);
    let status = r.status();
    let location = r.headers().get_one("Location").map(str::to_string);
    let cookies = set_cookies(&r);
    (
        status,
        location,
        r.into_string().unwrap_or_default(),
        cookies,
    )
}

backend_tests! {
    #[test]
    fn sign_in_by_username_or_email() {
        let t = start();
        t.signed_up("frank");
        t.logout();
        for login in ["frank", "FRANK", "frank@example.com", "Frank@Example.com"] {
            let r = t.login(login, PASSWORD);
            assert_eq!(r.status(), Status::SeeOther, "{login}");
            assert_eq!(r.headers().get_one("Location"), Some("/dashboard"));
            assert_eq!(t.get("/dashboard").status(), Status::Ok);
            t.logout();
        }
    }

    #[test]
    fn failures_look_alike_whatever_the_reason() {
        let t = start();
        t.signed_up("grace");
        t.logout();
        t.signed_up("heidi");
        t.logout();
        // Disable heidi directly in the database.
        let app = t.app();
        let mut conn = app.db.get().unwrap();
        diesel::update(users::table.filter(users::username_key.eq("heidi")))
            .set(users::disabled_at.eq(Some(0i64)))
            .execute(&mut *conn)
            .unwrap();
        drop(conn);

        let unknown = login_with(&t, &[("username", "nobody"), ("password", PASSWORD)]);
        let wrong = login_with(
            &t,
            &[("username", "nobody"), ("password", "wrong password here")],
        );
        assert_eq!(unknown.0, Status::Unauthorized);
        assert_eq!(wrong.0, Status::Unauthorized);
        let for_user = |name: &str, pw: &str| login_with(&t, &[("username", name), ("password", pw)]);
        let a = for_user("grace", "not her password at all");
        let b = for_user("heidi", PASSWORD);
        let c = for_user("grace", "another wrong one!!");
        assert_eq!(without_csrf(&a.2), without_csrf(&c.2));
        for (label, r) in [
            ("wrong password", &a),
            ("disabled", &b),
            ("wrong again", &c),
        ] {
            assert_eq!(r.0, Status::Unauthorized, "{label}");
            assert!(r.2.contains("Incorrect username or password."), "{label}");
            assert!(
                !sets_session(&r.3, "session"),
                "{label}: a session cookie was set"
            );
            assert!(r.2.contains("data-testid=\"login\""));
        }
        // The typed name is echoed back, so compare pages for the same typed name.
        let unknown_grace = for_user("gracie", "not her password at all");
        let b_as_unknown = for_user("heidi-x", PASSWORD);
        assert_eq!(
            without_csrf(&unknown_grace.2).replace("gracie", "grace"),
            without_csrf(&a.2),
            "unknown user vs wrong password"
        );
        assert_eq!(
            without_csrf(&b_as_unknown.2).replace("heidi-x", "heidi"),
            without_csrf(&b.2),
            "unknown user vs disabled account"
        );
    }

    #[test]
    fn every_sign_in_starts_a_new_session_and_ends_the_old_one() {
        let t = start();
        // A sign-in form loaded in another tab before signing up.
        let stale_form_token = t.csrf("/login");
        t.signed_up("judy");
        let first = t.session_cookie().unwrap();
        let first_sid = t.sid_of(&first);
        // Sign in again while holding the first cookie.
        let r = t.post_form(
            "/login",
            &[
                ("username", "judy"),
                ("password", PASSWORD),
                ("csrf_token", &stale_form_token),
            ],
        );
        assert_eq!(r.status(), Status::SeeOther);
        let second = t.session_cookie().unwrap();
        let second_sid = t.sid_of(&second);
        assert_ne!(first_sid, second_sid);
        // The cookie that came with the sign-in no longer works.
        t.logout();
        assert_eq!(
            t.get_with_token("/dashboard", &first).status(),
            Status::SeeOther
        );
    }

    #[test]
    fn remember_me_makes_a_persistent_cookie() {
        let t = start();
        t.signed_up("ken");
        t.logout();
        let (_, _, _, cookies) = login_with(&t, &[("username", "ken"), ("password", PASSWORD)]);
        let c = cookies.iter().find(|c| c.starts_with("session=")).unwrap();
        assert!(!c.contains("Max-Age"), "a browser-session cookie: {c}");
        assert!(!c.contains("Expires"), "{c}");
        t.logout();
        let (_, _, _, cookies) = login_with(
            &t,
            &[
                ("username", "ken"),
                ("password", PASSWORD),
                ("remember", "on"),
            ],
        );
        let c = cookies.iter().find(|c| c.starts_with("session=")).unwrap();
        assert!(c.contains("Max-Age=2592000"), "{c}");
        let token = c.split(';').next().unwrap().trim_start_matches("session=");
        let claims = t.claims(token);
        assert_eq!(claims.exp - claims.iat, 2_592_000);
    }

    #[test]
    fn an_imported_or_weaker_hash_is_upgraded_at_sign_in() {
        let t = start_with(|f| f.merge(("bcrypt_cost", 5)));
        t.signed_up("nina");
        t.logout();
        // Replace the hash with a plain bcrypt one, as another system (Python's bcrypt) makes.
        let plain = bcrypt::hash("imported password ok", 4).unwrap();
        let app = t.app();
        let set = |h: &str| {
            let mut conn = app.db.get().unwrap();
            diesel::update(users::table.filter(users::username_key.eq("nina")))
                .set(users::password_hash.eq(h))
                .execute(&mut *conn)
                .unwrap();
        };
        let get = || -> String {
            let mut conn = app.db.get().unwrap();
            users::table
                .filter(users::username_key.eq("nina"))
                .select(users::password_hash)
                .first(&mut *conn)
                .unwrap()
        };
        set(&plain);
        assert_eq!(
            t.login("nina", "imported password ok").status(),
            Status::SeeOther
        );
        let upgraded = get();
        assert!(upgraded.starts_with("bcrypt-sha384$$2b$05$"), "{upgraded}");
        t.logout();
        assert_eq!(
            t.login("nina", "imported password ok").status(),
            Status::SeeOther
        );
        assert_eq!(get(), upgraded, "no rehash when the hash is current");
    }

    #[test]
    fn every_failed_sign_in_costs_a_bcrypt_at_the_configured_cost() {
        // A hash imported at cost 4 would otherwise answer a wrong password in a few
        // milliseconds, where an unknown user takes a full bcrypt: an oracle for which
        // accounts exist. Counted, not timed: the work is what the time is made of.
        let t = start_with(|f| f.merge(("bcrypt_cost", 6)));
        for name in ["uma", "vic", "wes"] {
            t.signed_up(name);
            t.logout();
        }
        let mut conn = t.app().db.get().unwrap();
        diesel::update(users::table.filter(users::username_key.eq("uma")))
            .set(users::password_hash.eq(bcrypt::hash(PASSWORD, 4).unwrap()))
            .execute(&mut *conn)
            .unwrap();
        diesel::update(users::table.filter(users::username_key.eq("vic")))
            .set(users::disabled_at.eq(Some(0i64)))
            .execute(&mut *conn)
            .unwrap();
        drop(conn);
        let hasher = &t.app().hasher;
        let work = |user: &str, pw: &str| {
            let before = hasher.full_cost_verifications();
            let status = t.login(user, pw).status();
            (status, hasher.full_cost_verifications() - before)
        };
        let unknown = work("nobody-here", "wrong password!!");
        assert_eq!(unknown, (Status::Unauthorized, 1));
        for (label, user) in [
            ("imported at cost 4", "uma"),
            ("disabled", "vic"),
            ("current hash", "wes"),
        ] {
            assert_eq!(work(user, "wrong password!!"), unknown, "{label}");
        }
        for _ in 0..4 {
            work("uma", "wrong password!!");
        }
        assert_eq!(work("uma", PASSWORD), unknown, "banned");
    }
}

#[test]
fn next_only_redirects_within_the_site() {
    let t = start();
    t.signed_up("ivan");
    t.logout();
    let cases = [
        ("/account?tab=1", "/account?tab=1"),
        ("//evil.example", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("https:evil.example", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
        ("/%2F%2Fevil.example", "/dashboard"),
        ("/%5Cevil.example", "/dashboard"),
        ("/\t/evil.example", "/dashboard"),
        ("%2F%2Fevil.example", "/dashboard"),
    ];
    for (next, expected) in cases {
        let (status, location, _, _) = login_with(
            &t,
            &[("username", "ivan"), ("password", PASSWORD), ("next", next)],
        );
        assert_eq!(status, Status::SeeOther, "{next:?}");
        assert_eq!(location.as_deref(), Some(expected), "{next:?}");
        t.logout();
    }
}

#[test]
fn session_cookie_has_the_contract_attributes() {
    let t = start();
    let r = t.register("liam", "liam@example.com", PASSWORD);
    let c = set_cookie_named(&r, "session").unwrap();
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Lax"), "{c}");
    assert!(c.contains("Path=/"), "{c}");
    assert!(!c.contains("Domain"), "{c}");
    assert!(!c.contains("Secure"), "debug profile: {c}");
    let r = t.logout();
    let cleared = set_cookie_named(&r, "session").unwrap();
    assert!(cleared.starts_with("session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(
        cleared.contains("HttpOnly")
            && cleared.contains("Path=/")
            && cleared.contains("SameSite=Lax")
    );
}

#[test]
fn secure_cookies_use_the_host_prefix_and_hsts() {
    let t = start_with(|f| f.merge(("secure_cookies", true)));
    let r = t.register("mia", "mia@example.com", PASSWORD);
    let c = set_cookie_named(&r, "__Host-session").expect("__Host- cookie");
    assert!(
        c.contains("Secure") && c.contains("HttpOnly") && c.contains("Path=/"),
        "{c}"
    );
    assert!(!c.contains("Domain"), "{c}");
    assert!(set_cookies(&r).iter().all(|c| !c.starts_with("session=")));
    assert!(r.headers().get_one("Strict-Transport-Security").is_some());
    let r = t.logout();
    let cleared = set_cookie_named(&r, "__Host-session").unwrap();
    assert!(
        cleared.contains("Secure") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}
