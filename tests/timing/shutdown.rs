//! Graceful shutdown: SIGTERM lets in-flight requests finish before the process exits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::net::*;
use crate::common::*;

/// A response head (status line and headers), read byte by byte so nothing after it is taken.
fn read_head(conn: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(
            conn.read(&mut byte).unwrap(),
            1,
            "connection closed mid-response"
        );
        raw.push(byte[0]);
    }
    String::from_utf8_lossy(&raw).to_string()
}

#[test]
fn sigterm_finishes_in_flight_requests() {
    let dir = test_dir();
    let port = free_port();
    // Its log, to tell what it did if it stops too early.
    let log = dir.path().join("gatehouse.log");
    let mut cmd = gatehouse_command(
        dir.path(),
        port,
        &[
            ("ROCKET_PUBLIC_ORIGIN", format!("http://127.0.0.1:{port}")),
            ("ROCKET_LOG_LEVEL", "normal".to_string()),
        ],
    );
    let file = std::fs::File::create(&log).unwrap();
    cmd.stdout(file.try_clone().unwrap()).stderr(file);
    let mut gh = spawn_gatehouse(cmd, port);
    let host = format!("127.0.0.1:{port}");
    let page = http(port, "GET", &host, "/login", &[], None);
    let mut jar = Jar::default();
    jar.take(&page);
    let csrf = field_value(&page.body, "csrf_token").unwrap();
    let body = encode(&[
        ("username", "nobody"),
        ("password", "whatever it is"),
        ("csrf_token", &csrf),
    ]);
    let origin = format!("http://{host}");
    let cookie = jar.header();

    // The request is in flight by construction, however loaded the machine: it asks to
    // send its body only once the server is ready for it (`Expect: 100-continue`), and the
    // server says so when the sign-in starts reading the form, so Rocket has the request.
    // All of the body but its last byte goes before the signal, the last byte only once
    // the server has stopped taking new connections.
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nCookie: {cookie}\r\n\
         Origin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let interim = read_head(&mut conn);
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim:?}");
    let (most, last) = body.split_at(body.len() - 1);
    conn.write_all(most.as_bytes()).unwrap();
    conn.flush().unwrap();

    let pid = gh.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "gatehouse still accepts connections after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(status) = gh.0.try_wait().unwrap() {
        panic!(
            "gatehouse exited ({status}) with a request in flight:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    conn.write_all(last.as_bytes()).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let reply = String::from_utf8_lossy(&raw);
    assert!(
        reply.starts_with("HTTP/1.1 401"),
        "the sign-in in flight got its answer: {:?}\n{}",
        reply.lines().next(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let exit = loop {
        if let Some(s) = gh.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gatehouse did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
}
