//! Brute-force defence: per-account bans from any address (LG-3), per-address 429s (LG-4),
//! IPv6 clients counted by network, device cookies that keep the owner in (and only the
//! owner), registration limits, the bcrypt queue bound (LG-5). Bursts of simultaneous
//! guesses are in `tests/concurrency.rs`.

use crate::common::*;
use diesel::prelude::*;
use gatehouse::db::schema::audit_events;
use rocket::http::{ContentType, Header, Status};
use std::time::Duration;

/// A sign-in from `ip`: its status, its page (CSRF tokens masked) and its Retry-After.
fn login_from(t: &TestApp, ip: &str, user: &str, pw: &str) -> (Status, String, Option<String>) {
    let r = t.login_from(ip, user, pw);
    let status = r.status();
    let retry = r.headers().get_one("Retry-After").map(str::to_string);
    (
        status,
        without_csrf(&r.into_string().unwrap_or_default()),
        retry,
    )
}

/// Signs `name` up in another browser, so this client holds no cookie for the account.
fn victim(t: &TestApp, name: &str) {
    let owner = t.another_instance();
    owner.signed_up(name);
    owner.logout();
}

/// A sign-in from a browser whose only cookies are a pre-session one and, if given, `device`
/// as its device cookie.
fn login_with_device(t: &TestApp, user: &str, pw: &str, device: Option<&str>) -> Status {
    let browser = Browser::default();
    // Fetching the form gives this browser its pre-session cookie and nothing else.
    let csrf = browser.csrf(t, "/login");
    if let Some(d) = device {
        browser.set_cookie("device", d);
    }
    browser
        .post(
            t,
            "/login",
            &[("username", user), ("password", pw), ("csrf_token", &csrf)],
        )
        .status()
}

/// Bans `name`'s account the way an attacker would: failures from cookie-less browsers.
fn ban_account(t: &TestApp, name: &str) {
    for _ in 0..5 {
        let s = login_with_device(t, name, "guess guess guess", None);
        assert_eq!(s, Status::Unauthorized);
    }
    assert_eq!(
        login_with_device(t, name, PASSWORD, None),
        Status::Unauthorized,
        "banned for strangers"
    );
}

/// A registration of `name` from `ip`, in a browser of its own.
fn register_from<'c>(
    t: &'c TestApp,
    ip: &str,
    name: &str,
) -> rocket::local::blocking::LocalResponse<'c> {
    Browser::default().register_from(t, Some(ip), name, &format!("{name}@example.com"), PASSWORD)
}

async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futs.collect();
    let mut out = Vec::new();
    // Poll them together: each dispatch runs until it awaits bcrypt.
    let joined = rocket::futures::future::join_all(handles).await;
    out.extend(joined);
    out
}

backend_tests! {
    #[test]
    fn an_account_is_banned_after_failures_from_many_addresses() {
        let t = start();
        victim(&t, "anna");
        let (wrong_status, wrong_page, _) = login_from(&t, "198.51.100.1", "anna", "nope nope nope");
        assert_eq!(wrong_status, Status::Unauthorized);
        for i in 2..=5 {
            let (s, _, _) = login_from(&t, &format!("198.51.100.{i}"), "anna", "nope nope nope");
            assert_eq!(s, Status::Unauthorized);
        }
        // Banned now: the right password from a new address fails exactly like a wrong one.
        let (status, page, _) = login_from(&t, "203.0.113.50", "anna", PASSWORD);
        assert_eq!(status, Status::Unauthorized);
        assert_eq!(page, wrong_page, "a ban looks like a wrong password");
        let unknown = login_from(&t, "203.0.113.51", "anna-x", "nope nope nope").1;
        assert_eq!(unknown.replace("anna-x", "anna"), wrong_page);
        // The ban lifts by itself.
        t.clock.advance(301);
        let (status, _, _) = login_from(&t, "203.0.113.50", "anna", PASSWORD);
        assert_eq!(status, Status::SeeOther);
    }

    #[test]
    fn success_resets_the_count() {
        let t = start();
        victim(&t, "boris");
        for _ in 0..4 {
            login_from(&t, "198.51.100.9", "boris", "wrong wrong wrong");
        }
        let owner = t.another_instance();
        assert_eq!(
            login_from(&owner, "198.51.100.9", "boris", PASSWORD).0,
            Status::SeeOther
        );
        // Four more failures (nine in all) from this cookie-less browser: still not banned.
        for _ in 0..4 {
            login_from(&t, "198.51.100.9", "boris", "wrong wrong wrong");
        }
        assert_eq!(
            login_from(&t, "198.51.100.9", "boris", PASSWORD).0,
            Status::SeeOther,
            "count was reset"
        );
    }

    #[test]
    fn a_known_device_can_still_sign_in_during_an_account_ban() {
        let t = start();
        t.signed_up("cleo");
        t.logout();
        // This browser now holds a device cookie for cleo. An attacker elsewhere bans the account
        // (the attacker's requests carry no cookies: they use another client).
        let attacker = t.another_instance();
        for i in 0..5 {
            let (s, _, _) = login_from(
                &attacker,
                &format!("192.0.2.{i}"),
                "cleo",
                "guess guess guess",
            );
            assert_eq!(s, Status::Unauthorized);
        }
        assert_eq!(
            login_from(&attacker, "192.0.2.99", "cleo", PASSWORD).0,
            Status::Unauthorized,
            "banned for strangers"
        );
        // The owner's browser gets in.
        assert_eq!(t.login("cleo", PASSWORD).status(), Status::SeeOther);
    }

    #[test]
    fn an_address_with_too_many_failures_gets_429_with_retry_after() {
        let t = start_with(|f| f.merge(("login_ip_max_failures", 3)));
        victim(&t, "dina");
        for i in 0..3 {
            let (s, _, _) = login_from(&t, "203.0.113.7", &format!("user{i}"), "whatever whatever");
            assert_eq!(s, Status::Unauthorized);
        }
        let (status, page, retry) = login_from(&t, "203.0.113.7", "dina", PASSWORD);
        assert_eq!(status, Status::TooManyRequests);
        assert!(page.contains("Too many attempts"));
        let retry: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!(retry > 0 && retry <= 300, "{retry}");
        // Other addresses are unaffected.
        assert_eq!(
            login_from(&t, "203.0.113.8", "dina", PASSWORD).0,
            Status::SeeOther
        );
        t.logout();
        t.clock.advance(301);
        assert_eq!(
            login_from(&t, "203.0.113.7", "dina", PASSWORD).0,
            Status::SeeOther
        );
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let t = start_with(|f| {
            f.merge(("login_ip_max_failures", 2))
                .merge(("trusted_proxies", vec!["10.0.0.0/8"]))
        });
        victim(&t, "emil");
        let post = |peer: &str, xff: &str, pw: &str| {
            let csrf = t.csrf("/login");
            t.send(
                t.client
                    .post("/login")
                    .remote(format!("{peer}:1234").parse().unwrap())
                    .header(ContentType::Form)
                    .header(Header::new("X-Forwarded-For", xff.to_string()))
                    .header(Header::new("X-Real-IP", xff.to_string()))
                    .body(encode(&[
                        ("username", "emil"),
                        ("password", pw),
                        ("csrf_token", &csrf),
                    ])),
            )
            .status()
        };
        // Untrusted peer: its X-Forwarded-For is ignored, so rotating it does not help.
        assert_eq!(
            post("192.0.2.1", "1.1.1.1", "bad bad bad"),
            Status::Unauthorized
        );
        assert_eq!(
            post("192.0.2.1", "2.2.2.2", "bad bad bad"),
            Status::Unauthorized
        );
        assert_eq!(
            post("192.0.2.1", "3.3.3.3", PASSWORD),
            Status::TooManyRequests
        );
        // Behind our proxy, the forwarded client address is what counts.
        assert_eq!(
            post("10.0.0.2", "198.51.100.4", "bad bad bad"),
            Status::Unauthorized
        );
        assert_eq!(
            post("10.0.0.2", "198.51.100.4", "bad bad bad"),
            Status::Unauthorized
        );
        assert_eq!(
            post("10.0.0.2", "198.51.100.4", PASSWORD),
            Status::TooManyRequests
        );
        assert_eq!(post("10.0.0.2", "198.51.100.5", PASSWORD), Status::SeeOther);
    }

    #[test]
    fn registration_is_rate_limited_per_address() {
        let t = start_with(|f| f.merge(("register_ip_max", 2)));
        for (i, want) in [
            (1, Status::SeeOther),
            (2, Status::SeeOther),
            (3, Status::TooManyRequests),
        ] {
            let name = format!("reg{i}");
            let r = t.register(&name, &format!("{name}@example.com"), PASSWORD);
            assert_eq!(r.status(), want, "{name}");
            if want == Status::TooManyRequests {
                assert!(r.headers().get_one("Retry-After").is_some());
            } else {
                t.logout();
            }
        }
        t.clock.advance(3601);
        assert_eq!(
            t.register("reg4", "reg4@example.com", PASSWORD).status(),
            Status::SeeOther
        );
    }

    #[test]
    fn a_full_bcrypt_queue_answers_503_not_a_hang() {
        use rocket::local::asynchronous::Client;
        let dir = test_dir();
        let f = figment(dir.path())
            .merge(("bcrypt_cost", 12))
            .merge(("bcrypt_max_queue", 0));
        let rt = rocket::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = Client::tracked(gatehouse::rocket(f).unwrap())
                .await
                .unwrap();
            let page = client
                .get("/login")
                .dispatch()
                .await
                .into_string()
                .await
                .unwrap();
            let csrf = field_value(&page, "csrf_token").unwrap();
            let body = encode(&[
                ("username", "nobody"),
                ("password", "whatever it is"),
                ("csrf_token", &csrf),
            ]);
            let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
            // More concurrent sign-ins than there are bcrypt slots, and no queue.
            let requests = (0..permits + 2).map(|i| {
                client
                    .post("/login")
                    .remote(format!("198.51.100.{}:1", i + 1).parse().unwrap())
                    .header(ContentType::Form)
                    .body(body.clone())
                    .dispatch()
            });
            // A sign-in that waits for a slot instead of being turned away would hold its
            // answer back: the 503s must come, and every answer with them, in bounded time.
            let responses = rocket::tokio::time::timeout(
                Duration::from_secs(30),
                futures_join_all(requests),
            )
            .await
            .expect("sign-ins beyond the bcrypt queue hang instead of answering 503");
            let busy: Vec<_> = responses
                .iter()
                .filter(|r| r.status() == Status::ServiceUnavailable)
                .collect();
            assert!(
                !busy.is_empty(),
                "statuses: {:?}",
                responses.iter().map(|r| r.status()).collect::<Vec<_>>()
            );
            for r in &busy {
                assert_eq!(r.headers().get_one("Retry-After"), Some("2"));
            }
            assert!(responses.iter().all(
                |r| r.status() == Status::ServiceUnavailable || r.status() == Status::Unauthorized
            ));
            // A sign-in turned away for want of a bcrypt slot was not a guess: it does not
            // count against its address.
            let app = client.rocket().state::<gatehouse::App>().unwrap();
            let mut conn = app.db.get().unwrap();
            use gatehouse::db::schema::throttle_events;
            let counted: i64 = throttle_events::table
                .filter(throttle_events::kind.eq("login_ip"))
                .count()
                .get_result(&mut *conn)
                .unwrap();
            let failed = responses.len() - busy.len();
            assert_eq!(counted, failed as i64);
        });
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let t = start();
        victim(&t, "ines");
        // Thirty failures (login_ip_max_failures), each from another address of one /64.
        for i in 1..=30 {
            let from = format!("2001:db8:1:2::{i:x}");
            let (s, _, _) = login_from(&t, &from, &format!("nobody{i}"), "guess guess guess");
            assert_eq!(s, Status::Unauthorized, "attempt {i}");
        }
        let (status, _, retry) = login_from(&t, "2001:db8:1:2:ffff:ffff:ffff:fffe", "ines", PASSWORD);
        assert_eq!(status, Status::TooManyRequests, "a fresh address of the same /64");
        assert!(retry.is_some());
        // The next /64 is someone else.
        let (status, _, _) = login_from(&t, "2001:db8:1:3::1", "ines", PASSWORD);
        assert_ne!(status, Status::TooManyRequests);
        // The audit trail keeps the full address, not the network.
        let mut conn = t.app().db.get().unwrap();
        let ips: Vec<String> = audit_events::table
            .filter(audit_events::event.eq("login_failed"))
            .select(audit_events::client_ip)
            .load(&mut *conn)
            .unwrap();
        assert!(ips.contains(&"2001:db8:1:2::1e".to_string()), "{ips:?}");
    }

    #[test]
    fn registrations_from_one_64_share_the_cap() {
        let t = start_with(|f| f.merge(("register_ip_max", 3)));
        for i in 1..=3 {
            let r = register_from(&t, &format!("2001:db8:7:7::{i}"), &format!("six{i}"));
            assert_eq!(r.status(), Status::SeeOther, "registration {i}");
        }
        let r = register_from(&t, "2001:db8:7:7:1234::9", "six4");
        assert_eq!(r.status(), Status::TooManyRequests);
        assert!(r.headers().get_one("Retry-After").is_some());
        drop(r);
        assert_eq!(
            register_from(&t, "2001:db8:7:8::1", "six5").status(),
            Status::SeeOther,
            "another /64"
        );
        // IPv4 addresses still count one by one, also when they come IPv4-mapped.
        let t = start_with(|f| f.merge(("register_ip_max", 1)));
        assert_eq!(register_from(&t, "::ffff:198.51.100.20", "four1").status(), Status::SeeOther);
        assert_eq!(
            register_from(&t, "198.51.100.20", "four2").status(),
            Status::TooManyRequests,
            "the mapped address is the IPv4 one"
        );
        assert_eq!(register_from(&t, "198.51.100.21", "four3").status(), Status::SeeOther);
    }

    #[test]
    fn the_ipv6_prefix_is_a_setting() {
        let t = start_with(|f| {
            f.merge(("throttle_ipv6_prefix", 48))
                .merge(("login_ip_max_failures", 2))
        });
        victim(&t, "jola");
        // Two /64s of one /48 count together at /48.
        login_from(&t, "2001:db8:5:1::1", "nobody", "guess guess guess");
        login_from(&t, "2001:db8:5:2::1", "nobody", "guess guess guess");
        assert_eq!(
            login_from(&t, "2001:db8:5:3::1", "jola", PASSWORD).0,
            Status::TooManyRequests
        );
        assert_eq!(login_from(&t, "2001:db8:6::1", "jola", PASSWORD).0, Status::SeeOther);
        for bad in [0, 129] {
            let dir = test_dir();
            let f = figment(dir.path()).merge(("throttle_ipv6_prefix", bad));
            let err = gatehouse::rocket(f).expect_err("refused").to_string();
            assert!(err.contains("`throttle_ipv6_prefix`") && err.contains(&bad.to_string()), "{err}");
        }
    }

    #[test]
    fn a_banned_address_is_refused_before_any_lookup_or_hashing() {
        let t = start_with(|f| f.merge(("login_ip_max_failures", 2)));
        victim(&t, "kira");
        for _ in 0..2 {
            assert_eq!(
                login_from(&t, "203.0.113.9", "kira", "wrong wrong wrong").0,
                Status::Unauthorized
            );
        }
        let app = t.app();
        let csrf = t.csrf("/login");
        let (hashes, queries) = (app.hasher.verifications(), app.db.query_count());
        let r = t.browser.post_from(
            &t,
            Some("203.0.113.9"),
            "/login",
            &[("username", "kira"), ("password", PASSWORD), ("csrf_token", &csrf)],
        );
        assert_eq!(r.status(), Status::TooManyRequests);
        drop(r);
        assert_eq!(app.hasher.verifications(), hashes, "no bcrypt");
        // No lookup and no throttle query: at most the audit trail's row (LG-8).
        let statements = app.db.query_count() - queries;
        assert!(statements <= 1, "{statements} statements for a refused request");
    }

    #[test]
    fn a_forged_or_borrowed_device_cookie_does_not_get_around_an_account_ban() {
        let t = start();
        t.signed_up("olaf");
        t.logout();
        let genuine = t.cookie("device").expect("a device cookie after signing up");
        let mallory = Browser::default();
        mallory.register(&t, "mallory", "mallory@example.com", PASSWORD);
        let mallorys = mallory.cookie("device").unwrap();
        ban_account(&t, "olaf");
        let parts: Vec<&str> = genuine.split('.').collect();
        let (device, olaf, tag) = (parts[0], parts[1], parts[2]);
        let other_tag = mallorys.rsplit('.').next().unwrap();
        // The first character carries whole bits of the tag (the last one partly padding).
        let flipped = if tag.starts_with('A') { "B" } else { "A" };
        let forged = [
            ("a forged tag", format!("{device}.{olaf}.{flipped}{}", &tag[1..])),
            ("another user's cookie", mallorys.clone()),
            ("another user's tag", format!("{device}.{olaf}.{other_tag}")),
            ("a made-up device", format!("{}.{olaf}.{tag}", "A".repeat(device.len()))),
        ];
        for (label, cookie) in forged {
            assert_eq!(
                login_with_device(&t, "olaf", PASSWORD, Some(&cookie)),
                Status::Unauthorized,
                "{label}"
            );
        }
        // The genuine cookie gets in.
        assert_eq!(login_with_device(&t, "olaf", PASSWORD, Some(&genuine)), Status::SeeOther);
    }

    #[test]
    fn a_device_that_keeps_failing_is_banned_itself() {
        let t = start();
        t.signed_up("petra");
        t.logout();
        let device = t.cookie("device").unwrap();
        for _ in 0..5 {
            assert_eq!(
                login_with_device(&t, "petra", "not it at all", Some(&device)),
                Status::Unauthorized
            );
        }
        assert_eq!(
            login_with_device(&t, "petra", PASSWORD, Some(&device)),
            Status::Unauthorized,
            "the device is banned, even with the right password"
        );
        // Its failures were its own: other browsers are not locked out of the account.
        assert_eq!(login_with_device(&t, "petra", PASSWORD, None), Status::SeeOther);
        t.clock.advance(301);
        assert_eq!(login_with_device(&t, "petra", PASSWORD, Some(&device)), Status::SeeOther);
    }

    #[test]
    fn a_stolen_session_and_device_cookie_get_no_more_guesses_than_the_limit() {
        let t = start();
        // This browser's cookies (a session and a device cookie) are what a thief who copied
        // them holds.
        t.signed_up("quinn");
        assert!(t.cookie("device").is_some());
        let check = |current: &str| {
            let new = "a brand new passphrase here";
            t.submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_confirm", new),
                ],
            )
            .status()
        };
        for _ in 0..5 {
            assert_eq!(check("guess guess guess"), Status::UnprocessableEntity);
        }
        assert_eq!(
            check(PASSWORD),
            Status::UnprocessableEntity,
            "a sixth check is refused, right password or not"
        );
        // The guesses counted against the account too, so the thief cannot go on guessing at
        // the sign-in form from a cookie-less browser either.
        assert_eq!(login_with_device(&t, "quinn", PASSWORD, None), Status::Unauthorized);
    }

    #[test]
    fn a_ban_lasts_the_ban_time_even_when_the_window_is_longer() {
        let t = start_with(|f| {
            f.merge(("login_failure_window", 3600))
                .merge(("login_ban_time", 300))
        });
        victim(&t, "lena");
        let attempt = |pw: &str| login_with_device(&t, "lena", pw, None);
        for _ in 0..5 {
            assert_eq!(attempt("guess guess guess"), Status::Unauthorized);
        }
        assert_eq!(attempt(PASSWORD), Status::Unauthorized, "banned");
        t.clock.advance(301);
        // The failures are still within the window, but the ban has lifted: the owner gets in.
        assert_eq!(attempt(PASSWORD), Status::SeeOther);
        // As before, while the earlier failures are within the window, one more failure after
        // a ban bans again.
        for _ in 0..5 {
            attempt("guess guess guess");
        }
        t.clock.advance(301);
        assert_eq!(attempt("guess guess guess"), Status::Unauthorized);
        assert_eq!(attempt(PASSWORD), Status::Unauthorized, "banned again at once");
    }
}
