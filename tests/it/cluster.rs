//! Two gatehouse processes on one PostgreSQL database behind a real nginx, round-robin on
//! loopback: sessions, revocations and bans are shared; killing one loses no session.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::net::*;
use crate::common::*;

#[test]
fn two_instances_behind_nginx_share_sessions_revocations_and_bans() {
    with_backend(TestBackend::Postgres, || {
        let dir = test_dir();
        let (np, g1, g2) = (free_port(), free_port(), free_port());
        let env = [
            ("ROCKET_PUBLIC_ORIGIN", format!("http://127.0.0.1:{np}")),
            ("ROCKET_SESSION_REVALIDATE_INTERVAL", "1".to_string()),
            ("ROCKET_TRUSTED_PROXIES", "[\"127.0.0.1\"]".to_string()),
        ];
        let mut a = Some(start_gatehouse(dir.path(), g1, &env));
        let _b = start_gatehouse(dir.path(), g2, &env);
        let servers = format!(
            "upstream gatehouse {{ server 127.0.0.1:{g1} max_fails=1 fail_timeout=30s; server 127.0.0.1:{g2} max_fails=1 fail_timeout=30s; }}\n\
             server {{ listen 127.0.0.1:{np};\n  location / {{\n    proxy_pass http://gatehouse;\n    \
             proxy_next_upstream error timeout;\n    proxy_set_header Host $host;\n    \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    \
             add_header X-Upstream $upstream_addr always;\n  }}\n}}"
        );
        let _nginx = start_nginx(dir.path(), &servers, np);
        let site = Site::local(np);
        let upstreams = |replies: &[Reply]| -> BTreeSet<String> {
            replies
                .iter()
                .filter_map(|r| r.header("X-Upstream").map(str::to_string))
                .collect()
        };

        // Register and sign in through the balancer: every request alternates, all signed in.
        let mut jar = Jar::default();
        let r = site.register(&mut jar, "ana");
        assert_eq!(r.status, 303, "{}", r.body);
        let pages: Vec<Reply> = (0..6).map(|_| site.get("/dashboard", &jar)).collect();
        assert!(pages
            .iter()
            .all(|p| p.status == 200 && p.body.contains("data-testid=\"username\">ana<")));
        assert_eq!(
            upstreams(&pages).len(),
            2,
            "both instances served the session"
        );
        // Forms rendered by one instance post fine to the other (shared keys).
        let r = site.submit(&mut jar, "/account", "/account/sessions/revoke-others", &[]);
        assert_eq!(r.status, 303);

        // Logout on one instance: the other refuses the old cookie within the interval (one
        // second, and one more for the whole seconds tokens count in). Asked until both
        // instances refuse it; a round asked after that must.
        let stolen = jar.clone();
        let r = site.submit(&mut jar, "/dashboard", "/logout", &[]);
        assert_eq!(r.status, 303);
        let deadline = Instant::now() + Duration::from_millis(2100);
        let replays = loop {
            let asked = Instant::now();
            let replays: Vec<Reply> = (0..4).map(|_| site.get("/dashboard", &stolen)).collect();
            if replays.iter().all(|r| r.status == 303) {
                break replays;
            }
            // Only a round asked after the interval must be refused throughout.
            assert!(
                asked < deadline,
                "still accepted after the revalidate interval: {:?}",
                replays.iter().map(|r| r.status).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(upstreams(&replays).len(), 2);

        // Failed sign-ins count across instances: five, alternating, ban the account.
        let mut stranger = Jar::default();
        // One form token (any instance accepts it), five posts: they alternate.
        let token = site.csrf("/login", &mut stranger);
        let guess = [
            ("username", "ana"),
            ("password", "not the password"),
            ("csrf_token", token.as_str()),
        ];
        let tries: Vec<Reply> = (0..5)
            .map(|_| site.post("/login", &stranger, &guess))
            .collect();
        assert!(tries.iter().all(|r| r.status == 401));
        assert_eq!(
            upstreams(&tries).len(),
            2,
            "failures landed on both instances"
        );
        for _ in 0..2 {
            let r = site.sign_in(&mut stranger, "ana", PASSWORD);
            assert_eq!(r.status, 401, "banned on {:?}", r.header("X-Upstream"));
        }

        // Sign in again (this browser has a device cookie, so the ban does not lock it out),
        // then kill one instance: the other serves the session.
        let r = site.sign_in(&mut jar, "ana", PASSWORD);
        assert_eq!(r.status, 303, "{}", r.body);
        drop(a.take());
        let after: Vec<Reply> = (0..4).map(|_| site.get("/dashboard", &jar)).collect();
        assert!(
            after.iter().all(|p| p.status == 200),
            "{:?}",
            after.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        // nginx may try the dead one first; the survivor is the one that answers.
        let survivor = format!("127.0.0.1:{g2}");
        assert!(after
            .iter()
            .all(|r| r.header("X-Upstream").unwrap().ends_with(&survivor)));
    });
}
