//! The account page, password change (PW-7), signed-in devices, revocation (JW-6), account
//! deletion, the session cap and the audit trail (LG-8).

use crate::common::*;
use diesel::prelude::*;
use gatehouse::db::schema::{audit_events, sessions, users};
use rocket::http::Status;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const NEW_PASSWORD: &str = "a brand new passphrase here";

backend_tests! {
    #[test]
    fn the_account_page_shows_the_profile_and_activity() {
        let t = start();
        t.signed_up("ada");
        t.logout();
        assert_eq!(
            t.login("ada", "wrong password!!").status(),
            Status::Unauthorized
        );
        assert_eq!(t.login("ada", PASSWORD).status(), Status::SeeOther);
        let r = t.get("/account");
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.headers().get_one("Cache-Control"), Some("no-store"));
        let body = r.into_string().unwrap();
        assert!(body.contains("data-testid=\"account\""));
        assert!(body.contains("<strong data-testid=\"username\">ada</strong>"));
        assert!(body.contains("ada@example.com"));
        assert!(body.contains("Member since"));
        for event in [
            "Account created",
            "Signed out",
            "Failed sign-in attempt",
            "Signed in",
        ] {
            assert!(body.contains(event), "activity lacks {event}");
        }
        // The previous sign-in (at registration) is shown, here and on the dashboard.
        assert!(body.contains("Last sign-in"));
        let dash = t.get("/dashboard").into_string().unwrap();
        assert!(dash.contains("Last signed in"), "{dash}");
        assert!(dash.contains(" from "), "with the address");
    }

    #[test]
    fn changing_the_password_ends_every_other_session_and_keeps_this_one() {
        let t = start();
        t.signed_up("bob");
        let other = Browser::new(FIREFOX);
        assert_eq!(other.login(&t, "bob", PASSWORD).status(), Status::SeeOther);
        assert_eq!(other.get(&t, "/dashboard").status(), Status::Ok);
        let before = t.session_cookie().unwrap();
        t.clock.advance(5);
        let r = t.submit("/account", "/account/password", &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD)]);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/account"));
        let fresh = set_cookie_named(&r, "session").expect("a fresh token for this session");
        assert!(!fresh.contains(&before));
        drop(r);
        // This browser stays in; the other is out at once, on this instance.
        let body = t.get("/account").into_string().unwrap();
        assert!(body.contains("Your password was changed. Your other signed-in device was signed out."));
        assert_eq!(other.get(&t, "/dashboard").status(), Status::SeeOther);
        // Old password gone, new one works.
        let third = Browser::new(FIREFOX);
        assert_eq!(
            third.login(&t, "bob", PASSWORD).status(),
            Status::Unauthorized
        );
        assert_eq!(
            third.login(&t, "bob", NEW_PASSWORD).status(),
            Status::SeeOther
        );
    }

    #[test]
    fn password_change_applies_the_policy_and_needs_the_current_password() {
        let t = start();
        t.signed_up("cyd");
        let change = |current: &str, new: &str, confirm: &str| {
            let r = t.submit("/account", "/account/password", &[
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_confirm", confirm)]);
            (r.status(), r.into_string().unwrap_or_default())
        };
        let (s, body) = change("not my password", NEW_PASSWORD, NEW_PASSWORD);
        assert_eq!(s, Status::UnprocessableEntity);
        assert!(body.contains("current password is not correct"));
        assert!(body.contains("id=\"current_password-error\""));
        let (s, body) = change(PASSWORD, "password1", "password1");
        assert_eq!(s, Status::UnprocessableEntity);
        assert!(body.contains("too easy to guess"));
        let (s, body) = change(PASSWORD, NEW_PASSWORD, "something else");
        assert_eq!(s, Status::UnprocessableEntity);
        assert!(body.contains("do not match"));
        assert!(
            !body.contains(NEW_PASSWORD) && !body.contains(PASSWORD),
            "passwords never echoed"
        );
        let (s, _) = change(PASSWORD, &"x".repeat(129), &"x".repeat(129));
        assert_eq!(s, Status::UnprocessableEntity);
    }

    #[test]
    fn wrong_current_passwords_count_as_failed_sign_ins() {
        let t = start();
        t.signed_up("dee");
        for _ in 0..5 {
            let r = t.submit("/account", "/account/password", &[
                    ("current_password", "guess guess guess"),
                    ("new_password", NEW_PASSWORD),
                    ("new_password_confirm", NEW_PASSWORD)]);
            assert_eq!(r.status(), Status::UnprocessableEntity);
        }
        // The account is now banned for strangers: the right password does not get in.
        let stranger = Browser::new(FIREFOX);
        assert_eq!(
            stranger.login(&t, "dee", PASSWORD).status(),
            Status::Unauthorized
        );
    }

    #[test]
    fn the_devices_page_lists_sessions_and_revokes_them() {
        let t = start();
        t.signed_up("eve");
        let laptop = Browser::new(FIREFOX);
        assert_eq!(laptop.login(&t, "eve", PASSWORD).status(), Status::SeeOther);
        let laptop_sid = t.sid_of(&laptop.session().unwrap());
        let r = t.get("/account/sessions");
        assert_eq!(r.status(), Status::Ok);
        let body = r.into_string().unwrap();
        assert!(body.contains("data-testid=\"sessions\""));
        assert!(body.contains("Firefox 128 on Linux"), "{body}");
        assert_eq!(body.matches("data-testid=\"this-device\"").count(), 1);
        assert_eq!(body.matches("data-session-id=").count(), 2);
        assert!(body.contains(&format!("data-session-id=\"{laptop_sid}\"")));
        // Revoke the laptop from here: it is out on its very next request.
        let r = t.submit("/account/sessions", &format!("/account/sessions/{laptop_sid}/revoke"), &[]);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/account/sessions"));
        assert_eq!(laptop.get(&t, "/dashboard").status(), Status::SeeOther);
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
        let body = t.get("/account/sessions").into_string().unwrap();
        assert_eq!(body.matches("data-session-id=").count(), 1);
    }

    #[test]
    fn sign_out_all_other_devices() {
        let t = start();
        t.signed_up("fay");
        let a = Browser::new(FIREFOX);
        let b = Browser::new("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1");
        a.login(&t, "fay", PASSWORD);
        b.login(&t, "fay", PASSWORD);
        let r = t.submit("/account/sessions", "/account/sessions/revoke-others", &[]);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(a.get(&t, "/dashboard").status(), Status::SeeOther);
        assert_eq!(b.get(&t, "/dashboard").status(), Status::SeeOther);
        let body = t.get("/account/sessions").into_string().unwrap();
        assert!(body.contains("Your 2 other devices were signed out."));
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
    }

    #[test]
    fn revocations_reach_other_instances_within_the_revalidate_interval() {
        let t = start();
        t.signed_up("gus");
        let elsewhere = t.another_instance();
        let phone = Browser::new(FIREFOX);
        assert_eq!(
            phone.login(&elsewhere, "gus", PASSWORD).status(),
            Status::SeeOther
        );
        let phone_sid = t.sid_of(&phone.session().unwrap());
        t.submit("/account/sessions", &format!("/account/sessions/{phone_sid}/revoke"), &[]);
        // The other instance has no deny-list entry; its next revalidation finds the row revoked.
        t.clock.advance(61);
        assert_eq!(
            phone.get(&elsewhere, "/dashboard").status(),
            Status::SeeOther
        );
    }

    #[test]
    fn nobody_can_revoke_another_users_session() {
        let t = start();
        t.signed_up("hal");
        let mallory = Browser::new(FIREFOX);
        mallory.submit(
            &t,
            "/register",
            "/register",
            &[
                ("username", "mallory"),
                ("email", "m@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        );
        let hal_sid = t.sid_of(&t.session_cookie().unwrap());
        let r = mallory.submit(
            &t,
            "/account/sessions",
            &format!("/account/sessions/{hal_sid}/revoke"),
            &[],
        );
        assert_eq!(r.status(), Status::NotFound);
        assert_eq!(
            t.get("/dashboard").status(),
            Status::Ok,
            "hal is still signed in"
        );
    }

    #[test]
    fn revoking_this_device_signs_it_out() {
        let t = start();
        t.signed_up("ike");
        let sid = t.sid_of(&t.session_cookie().unwrap());
        let r = t.submit("/account/sessions", &format!("/account/sessions/{sid}/revoke"), &[]);
        assert_eq!(r.headers().get_one("Location"), Some("/login"));
        drop(r);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
    }

    #[test]
    fn deleting_the_account_removes_user_and_sessions_together() {
        let t = start();
        t.signed_up("joe");
        let other = Browser::new(FIREFOX);
        other.login(&t, "joe", PASSWORD);
        let r = t.submit("/account", "/account/delete", &[("current_password", "wrong one")]);
        assert_eq!(r.status(), Status::UnprocessableEntity);
        assert!(r
            .into_string()
            .unwrap()
            .contains("id=\"delete_password-error\""));
        let r = t.submit("/account", "/account/delete", &[("current_password", PASSWORD)]);
        assert_eq!(r.status(), Status::SeeOther);
        assert!(set_cookie_named(&r, "session")
            .unwrap()
            .contains("Max-Age=0"));
        drop(r);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
        assert_eq!(other.get(&t, "/dashboard").status(), Status::SeeOther);
        let mut conn = t.app().db.get().unwrap();
        let users: i64 = users::table.count().get_result(&mut *conn).unwrap();
        let live: i64 = sessions::table.count().get_result(&mut *conn).unwrap();
        assert_eq!((users, live), (0, 0));
        let deleted: i64 = audit_events::table
            .filter(audit_events::event.eq("account_deleted"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(deleted, 1);
        drop(conn);
        assert_eq!(t.login("joe", PASSWORD).status(), Status::Unauthorized);
        // The name is free again.
        assert_eq!(
            t.register("joe", "joe@example.com", PASSWORD).status(),
            Status::SeeOther
        );
    }

    #[test]
    fn the_oldest_session_makes_room_beyond_the_cap() {
        let t = start_with(|f| f.merge(("max_sessions_per_user", 2)));
        t.signed_up("kai");
        t.clock.advance(1);
        let second = Browser::new(FIREFOX);
        second.login(&t, "kai", PASSWORD);
        t.clock.advance(1);
        let third = Browser::new(FIREFOX);
        third.login(&t, "kai", PASSWORD);
        // The first (this client's) session was the oldest: revoked, and refused at once.
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
        assert_eq!(second.get(&t, "/dashboard").status(), Status::Ok);
        assert_eq!(third.get(&t, "/dashboard").status(), Status::Ok);
    }

    #[test]
    fn audit_rows_never_hold_secrets() {
        let t = start();
        t.signed_up("lou");
        let token = t.session_cookie().unwrap();
        t.logout();
        t.login("lou", "wrong password 123");
        t.login("nobody-typed-this", "my secret guess");
        t.login("lou", PASSWORD);
        let mut conn = t.app().db.get().unwrap();
        let rows: Vec<(String, Option<String>, String, String)> = audit_events::table
            .order(audit_events::id.asc())
            .select((
                audit_events::event,
                audit_events::username,
                audit_events::reason,
                audit_events::client_ip,
            ))
            .load(&mut *conn)
            .unwrap();
        let all = format!("{rows:?}");
        for secret in [
            PASSWORD,
            "wrong password 123",
            "my secret guess",
            "nobody-typed-this",
            &token,
        ] {
            assert!(!all.contains(secret), "audit holds {secret:?}: {all}");
        }
        let events: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            events,
            [
                "registered",
                "logout",
                "login_failed",
                "login_failed",
                "login_succeeded"
            ]
        );
    }
}
