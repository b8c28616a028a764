//! The audit trail under a flood and over time: a banned client's refusals are one row per
//! ban with a count (no write per refused request), and events past `audit_retention` are
//! pruned by upkeep.

use crate::common::net::*;
use crate::common::*;
use diesel::prelude::*;
use gatehouse::db::schema::audit_events;
use rocket::http::Status;
use std::process::Command;

fn login_from(t: &TestApp, ip: &str, user: &str, pw: &str) -> Status {
    t.login_from(ip, user, pw).status()
}

/// (count, last_at) of every `login_throttled` row, oldest first.
fn refusal_rows(t: &TestApp, reason: &str) -> Vec<(i64, Option<i64>, String)> {
    let mut conn = t.app().db.get().unwrap();
    audit_events::table
        .filter(audit_events::event.eq("login_throttled"))
        .filter(audit_events::reason.eq(reason))
        .order(audit_events::id.asc())
        .select((
            audit_events::count,
            audit_events::last_at,
            audit_events::client_ip,
        ))
        .load(&mut *conn)
        .unwrap()
}

/// One upkeep pass, run by moving the clock as time passing would.
fn upkeep(t: &TestApp) -> gatehouse::tasks::Pruned {
    t.run_upkeep().expect("upkeep succeeds")
}

/// A sign-in through a real socket: the form's CSRF token first, as a browser would.
fn real_sign_in(port: u16, user: &str, pw: &str) -> u16 {
    Site::local(port)
        .sign_in(&mut Jar::default(), user, pw)
        .status
}

const FLOOD: i64 = 200;

backend_tests! {
    #[test]
    fn a_banned_address_flood_is_one_row_per_ban_and_no_write_per_request() {
        let t = start_with(|f| f.merge(("login_ip_max_failures", 3)));
        let ip = "203.0.113.66";
        for i in 0..3 {
            assert_eq!(login_from(&t, ip, &format!("nobody{i}"), "whatever whatever"), Status::Unauthorized);
        }
        // The first refusal of the ban is stored at once.
        assert_eq!(login_from(&t, ip, "nobody", "whatever whatever"), Status::TooManyRequests);
        assert_eq!(refusal_rows(&t, "address banned"), vec![(1, None, ip.to_string())]);
        let first_at = t.app().clock.now();

        // The flood costs no database statement at all: the ban is known in memory and the
        // refusal is only counted.
        t.clock.advance(7);
        let before = t.app().db.query_count();
        for _ in 0..FLOOD {
            assert_eq!(login_from(&t, ip, "nobody", "whatever whatever"), Status::TooManyRequests);
        }
        assert_eq!(t.app().db.query_count(), before, "statements run for refused sign-ins");
        assert_eq!(refusal_rows(&t, "address banned").len(), 1);

        // Upkeep adds the count to the row, with when the last refusal came.
        let pruned = upkeep(&t);
        assert_eq!(pruned.refusals.refusals, FLOOD);
        assert_eq!(pruned.refusals.updated, 1);
        assert_eq!(
            refusal_rows(&t, "address banned"),
            vec![(FLOOD + 1, Some(first_at + 7), ip.to_string())]
        );
        // Nothing new: nothing written.
        assert_eq!(upkeep(&t).refusals, Default::default());

        // A later ban of the same address is a row of its own.
        t.clock.advance(301);
        for i in 0..3 {
            assert_eq!(login_from(&t, ip, &format!("nobody{i}"), "whatever whatever"), Status::Unauthorized);
        }
        for _ in 0..5 {
            assert_eq!(login_from(&t, ip, "nobody", "whatever whatever"), Status::TooManyRequests);
        }
        upkeep(&t);
        let rows = refusal_rows(&t, "address banned");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].0, FLOOD + 1);
        assert_eq!(rows[1].0, 5);
        // The first ban's tally is written and gone from memory; the current one stays.
        assert_eq!(t.app().refusals.len(), 1);
    }

    #[test]
    fn a_banned_ipv6_network_floods_into_one_row_whatever_its_addresses() {
        let t = start_with(|f| f.merge(("login_ip_max_failures", 3)));
        let from = |i: u32| format!("2001:db8:1:2::{i:x}");
        let login6 = |ip: &str| t.login_from(ip, "nobody", "whatever whatever").status();
        for i in 0..3 {
            assert_eq!(login6(&from(i)), Status::Unauthorized);
        }
        // Every address of the banned /64 is refused, and all of them make one row.
        for i in 3..300 {
            assert_eq!(login6(&from(i)), Status::TooManyRequests);
        }
        upkeep(&t);
        let rows = refusal_rows(&t, "address banned");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].0, 297);
        assert_eq!(rows[0].2, "2001:db8:1:2::/64");
    }

    #[test]
    fn the_account_page_says_how_many_sign_ins_were_refused() {
        let t = start();
        // The owner signs up here, so this browser keeps a device cookie and gets in during
        // the ban that strangers cause.
        t.signed_up("petra");
        t.logout();
        let attacker = t.another_instance();
        for i in 0..5 {
            assert_eq!(
                login_from(&attacker, &format!("198.51.100.{i}"), "petra", "guess guess guess"),
                Status::Unauthorized
            );
        }
        for _ in 0..12 {
            assert_eq!(
                login_from(&attacker, "198.51.100.77", "petra", PASSWORD),
                Status::Unauthorized,
                "banned"
            );
        }
        let refused_at = t.app().clock.now();
        assert_eq!(upkeep(&attacker).refusals.refusals, 11, "the first was written at once");
        assert_eq!(
            refusal_rows(&t, "account banned"),
            vec![(12, Some(refused_at), "198.51.100.77".to_string())]
        );
        assert_eq!(t.login("petra", PASSWORD).status(), Status::SeeOther);
        let page = t.get("/account").into_string().unwrap();
        assert!(
            page.contains("Sign-in blocked after too many failures (12 attempts)"),
            "{page}"
        );
    }

    #[test]
    fn counted_refusals_are_written_when_the_server_stops() {
        let dir = test_dir();
        let port = free_port();
        let mut gh = start_gatehouse(dir.path(), port, &[
            ("ROCKET_PUBLIC_ORIGIN", format!("http://127.0.0.1:{port}")),
            ("ROCKET_LOGIN_IP_MAX_FAILURES", "2".into()),
        ]);
        for _ in 0..2 {
            assert_eq!(real_sign_in(port, "nobody", "whatever whatever"), 401);
        }
        for _ in 0..10 {
            assert_eq!(real_sign_in(port, "nobody", "whatever whatever"), 429);
        }
        let pid = gh.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert!(gh.0.wait().unwrap().success());
        let db = gatehouse::db::Db::connect(&database_url(dir.path()), 1, 5).unwrap();
        let counts: Vec<i64> = audit_events::table
            .filter(audit_events::event.eq("login_throttled"))
            .select(audit_events::count)
            .load(&mut *db.get().unwrap())
            .unwrap();
        assert_eq!(counts, vec![10], "the nine counted in memory were not lost");
        drop(db);
    }

    #[test]
    fn audit_events_past_audit_retention_are_pruned() {
        let t = start();
        t.signed_up("olga");
        let now = t.app().clock.now();
        let day = 86400;
        // A backlog bigger than one delete batch, just past the default 400 days, and rows
        // just inside it.
        {
            let mut conn = t.app().db.get().unwrap();
            gatehouse::db::write_tx(&mut conn, |c| {
                for i in 0..2500 {
                    diesel::insert_into(audit_events::table)
                        .values((
                            audit_events::created_at.eq(now - 400 * day - 1 - i),
                            audit_events::event.eq("login_failed"),
                            audit_events::reason.eq("wrong password"),
                            audit_events::client_ip.eq("192.0.2.1"),
                        ))
                        .execute(c)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .unwrap();
            diesel::insert_into(audit_events::table)
                .values((
                    audit_events::created_at.eq(now - 399 * day),
                    audit_events::event.eq("login_failed"),
                    audit_events::reason.eq("wrong password"),
                    audit_events::client_ip.eq("192.0.2.2"),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
        let count = |t: &TestApp| -> i64 {
            let mut conn = t.app().db.get().unwrap();
            audit_events::table.count().get_result(&mut *conn).unwrap()
        };
        let before = count(&t);
        let pruned = upkeep(&t);
        assert_eq!(pruned.audit_rows, 2500);
        assert_eq!(count(&t), before - 2500);
        // The recent ones (and this user's registration) are still there.
        let kept: i64 = {
            let mut conn = t.app().db.get().unwrap();
            audit_events::table
                .filter(audit_events::created_at.lt(now - 400 * day))
                .count()
                .get_result(&mut *conn)
                .unwrap()
        };
        assert_eq!(kept, 0);
        assert!(t.get("/account").into_string().unwrap().contains("Account created"));

        // A shorter retention is a setting.
        let short = start_with(|f| f.merge(("audit_retention", 86400)));
        short.signed_up("ines");
        let before = short.upkeep_log().runs;
        // A day passes: upkeep ran on its way (once: missed passes are not made up).
        short.clock.advance(86401);
        let log = short.upkeep_log();
        assert_eq!(log.runs, before + 1);
        assert!(log.last.unwrap().unwrap().audit_rows >= 1);
    }
}
