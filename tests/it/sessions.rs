//! The session design: sliding short tokens, revalidation, logout and its replay, restarts,
//! timeouts (JW-6, JW-7), pruning.

use crate::common::*;
use diesel::prelude::*;
use gatehouse::clock::Clock;
use gatehouse::db::schema::{sessions, users};
use rocket::http::Status;

fn token(t: &TestApp) -> String {
    t.session_cookie().expect("signed in")
}

backend_tests! {
    #[test]
    fn a_logged_out_cookie_is_refused_at_once() {
        let t = start();
        t.signed_up("olga");
        let stolen = token(&t);
        let r = t.logout();
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/login"));
        assert_eq!(r.headers().get_one("Cache-Control"), Some("no-store"));
        // Replayed within the revalidate interval: the deny list refuses it without a query.
        let r = t.get_with_token("/dashboard", &stolen);
        assert_eq!(r.status(), Status::SeeOther);
        // And after the interval, the revoked row does.
        t.clock.advance(61);
        assert_eq!(
            t.get_with_token("/dashboard", &stolen).status(),
            Status::SeeOther
        );
        let body = t.get("/login").into_string().unwrap();
        assert!(body.contains("You have been signed out."));
    }

    #[test]
    fn a_restart_does_not_bring_a_revoked_session_back() {
        let t = start();
        t.signed_up("pablo");
        let stolen = token(&t);
        t.logout();
        // A new process: empty deny list, same database and keys; the token is still fresh.
        let t = t.restart();
        assert_eq!(
            t.get_with_token("/dashboard", &stolen).status(),
            Status::SeeOther
        );
    }

    #[test]
    fn a_live_session_survives_a_restart() {
        let t = start();
        t.signed_up("rosa");
        let live = token(&t);
        let t = t.restart();
        let r = t.get_with_token("/dashboard", &live);
        assert_eq!(r.status(), Status::Ok);
        // Revalidated on first use by the new process: a fresh token comes back.
        assert!(set_cookie_named(&r, "session").is_some());
    }

    #[test]
    fn fresh_tokens_need_no_database_and_old_ones_are_renewed() {
        let t = start();
        t.signed_up("sam");
        let first = token(&t);
        let db = &t.app().db;
        let before = db.query_count();
        for _ in 0..3 {
            let r = t.get("/dashboard");
            assert_eq!(r.status(), Status::Ok);
            assert!(
                set_cookie_named(&r, "session").is_none(),
                "no refresh while fresh"
            );
        }
        assert_eq!(db.query_count(), before, "a fresh token was checked in the database");
        t.clock.advance(61);
        let due = db.query_count();
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::Ok);
        assert!(db.query_count() > due, "an old token is checked in the database");
        let renewed = set_cookie_named(&r, "session").expect("renewed token");
        let renewed = cookie_value(&renewed).to_string();
        let (a, b) = (t.claims(&first), t.claims(&renewed));
        assert_eq!(a.sid, b.sid);
        assert_eq!(a.auth_time, b.auth_time, "the session keeps its start");
        assert!(b.iat >= a.iat + 61 && b.exp >= a.exp + 61, "exp slides");
        // The row records the activity.
        let mut conn = t.app().db.get().unwrap();
        let last_seen: i64 = sessions::table
            .filter(sessions::id.eq(&b.sid))
            .select(sessions::last_seen_at)
            .first(&mut *conn)
            .unwrap();
        assert_eq!(last_seen, t.clock.now());
    }

    #[test]
    fn an_idle_session_ends() {
        let t = start();
        t.signed_up("tina");
        t.clock.advance(1799);
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
        // 1800 s idle after that use.
        t.clock.advance(1800);
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(
            r.headers().get_one("Location"),
            Some("/login?next=%2Fdashboard")
        );
    }

    #[test]
    fn activity_never_extends_a_session_past_its_absolute_limit() {
        let t = start_with(|f| {
            f.merge(("session_idle_timeout", 600))
                .merge(("session_absolute_timeout", 3000))
        });
        t.signed_up("uma");
        let start = t.clock.now();
        let mut last_exp = 0;
        while t.clock.now() < start + 2990 {
            t.clock.advance(500);
            let r = t.get("/dashboard");
            if t.clock.now() < start + 3000 {
                assert_eq!(r.status(), Status::Ok, "at +{}", t.clock.now() - start);
            }
            if let Some(c) = t.session_cookie() {
                let exp = t.claims(&c).exp;
                assert!(exp <= start + 3000, "token outlives the session");
                last_exp = exp;
            }
        }
        assert_eq!(last_exp, start + 3000);
        t.clock.advance(500);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
    }

    #[test]
    fn sessions_ended_elsewhere_stop_within_the_revalidate_interval() {
        let t = start();
        t.signed_up("vera");
        let sid = t.claims(&token(&t)).sid;
        // Another instance (or the CLI) revokes the row; this instance has no deny-list entry.
        let mut conn = t.app().db.get().unwrap();
        diesel::update(sessions::table.filter(sessions::id.eq(&sid)))
            .set(sessions::revoked_at.eq(Some(t.clock.now())))
            .execute(&mut *conn)
            .unwrap();
        drop(conn);
        t.clock.advance(59);
        assert_eq!(
            t.get("/dashboard").status(),
            Status::Ok,
            "still inside the interval"
        );
        t.clock.advance(2);
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::SeeOther);
    }

    #[test]
    fn disabling_a_user_ends_their_sessions() {
        let t = start();
        t.signed_up("walt");
        let mut conn = t.app().db.get().unwrap();
        diesel::update(users::table.filter(users::username_key.eq("walt")))
            .set(users::disabled_at.eq(Some(t.clock.now())))
            .execute(&mut *conn)
            .unwrap();
        drop(conn);
        t.clock.advance(61);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
    }

    #[test]
    fn the_dashboard_shows_the_session() {
        let t = start();
        t.signed_up("xena");
        let c = t.claims(&token(&t));
        let body = t.get("/dashboard").into_string().unwrap();
        let iso = |s: i64| {
            rocket::time::OffsetDateTime::from_unix_timestamp(s)
                .unwrap()
                .format(&rocket::time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        assert!(
            body.contains(&format!("datetime=\"{}\"", iso(c.auth_time))),
            "start time"
        );
        assert!(
            body.contains(&format!("datetime=\"{}\"", iso(c.exp))),
            "idle expiry"
        );
        assert!(
            body.contains(&format!("datetime=\"{}\"", iso(c.auth_time + 43200))),
            "absolute expiry"
        );
        assert_eq!(
            t.get("/dashboard").headers().get_one("Cache-Control"),
            Some("no-store")
        );
    }

    #[test]
    fn ended_sessions_and_deny_list_entries_are_pruned() {
        let t = start();
        t.signed_up("yuri");
        t.logout();
        t.login("yuri", PASSWORD);
        let app = t.app();
        assert_eq!(app.denylist.len(), 1);
        let count = |app: &gatehouse::App| -> i64 {
            let mut conn = app.db.get().unwrap();
            sessions::table.count().get_result(&mut *conn).unwrap()
        };
        assert_eq!(count(app), 2);
        // Upkeep runs when its time comes, never at start-up.
        assert_eq!(t.upkeep_log().runs, 0);
        let pruned = t.run_upkeep().unwrap();
        assert_eq!(pruned.sessions, 1, "the revoked one");
        assert_eq!(count(app), 1);
        // Deny-list entries live only as long as a token could skip revalidation (the
        // interval and the leeway, 60 + 30 s): kept at the first pass, gone at the second.
        assert_eq!(pruned.deny_list_left, 1);
        let pruned = t.run_upkeep().unwrap();
        assert_eq!(pruned.deny_list_left, 0);
        assert_eq!(app.denylist.len(), 0);
        // Failure counts older than every window go too: an hour later, at the pass that
        // time brings (one, however long the clock jumps).
        let stranger = Browser::default();
        let r = stranger.login(&t, "yuri", "wrong wrong wrong");
        assert_eq!(r.status(), Status::Unauthorized);
        let runs = t.upkeep_log().runs;
        t.clock.advance(3601);
        let log = t.upkeep_log();
        assert_eq!(log.runs, runs + 1);
        let pruned = log.last.unwrap().unwrap();
        assert!(pruned.throttle_rows >= 2, "{pruned:?}");
        // The live session idled out meanwhile and went too.
        assert_eq!(pruned.sessions, 1);
        assert_eq!(count(app), 0);
    }
}
