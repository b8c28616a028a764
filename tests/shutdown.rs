//! Graceful shutdown: SIGTERM lets in-flight requests finish before the process exits.

mod common;

use std::time::{Duration, Instant};

use common::net::*;
use common::*;

backend_tests! {
    #[test]
    fn sigterm_finishes_in_flight_requests() {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // A slow request: a sign-in at bcrypt cost 13 (hundreds of milliseconds).
        let mut gh = start_gatehouse(dir.path(), port, &[
            ("ROCKET_BCRYPT_COST", "13".into()),
            ("ROCKET_PUBLIC_ORIGIN", format!("http://127.0.0.1:{port}")),
        ]);
        let host = format!("127.0.0.1:{port}");
        let page = http(port, "GET", &host, "/login", &[], None);
        let mut jar = Jar::default();
        jar.take(&page);
        let csrf = field_value(&page.body, "csrf_token").unwrap();
        let body = encode(&[("username", "nobody"), ("password", "whatever it is"), ("csrf_token", &csrf)]);
        let origin = format!("http://{host}");
        let cookie = jar.header();
        let in_flight = std::thread::spawn(move || {
            let started = Instant::now();
            let r = http(port, "POST", &host, "/login", &[("Cookie", &cookie), ("Origin", &origin), ("Content-Type", "application/x-www-form-urlencoded")], Some(&body));
            (r.status, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        let pid = gh.0.id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let (status, took) = in_flight.join().unwrap();
        assert_eq!(status, 401, "the sign-in in flight got its answer");
        assert!(took > Duration::from_millis(100), "it really was in flight ({took:?})");
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(s) = gh.0.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "gatehouse did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "{exit:?}");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        drop_schema(dir.path());
    }
}
