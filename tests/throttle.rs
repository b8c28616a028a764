//! Brute-force defence: per-account bans from any address (LG-3), per-address 429s (LG-4),
//! device cookies that keep the owner in, registration limits, the bcrypt queue bound (LG-5).

mod common;

use common::*;
use rocket::http::{ContentType, Header, Status};
use std::net::SocketAddr;

fn login_from(t: &TestApp, ip: &str, user: &str, pw: &str) -> (Status, String, Option<String>) {
    let csrf = t.csrf("/login");
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    let r = t.send(
        t.client
            .post("/login")
            .remote(addr)
            .header(ContentType::Form)
            .header(Header::new("Origin", ORIGIN))
            .body(encode(&[
                ("username", user),
                ("password", pw),
                ("csrf_token", &csrf),
            ])),
    );
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
        let dir = tempfile::tempdir().unwrap();
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
            let responses = futures_join_all(requests).await;
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
        });
    }
}
