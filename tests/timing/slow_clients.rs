//! The real server against clients that misbehave at the connection level: heads and bodies
//! sent slowly or never finished, more connections than it should hold, a file-descriptor
//! limit, cookies that are not UTF-8, and secrets in query strings that must not reach the
//! log. These need real sockets (Rocket's local client has no connections), so they run the
//! built binary; they do not touch what differs between databases, so they run on SQLite only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::net::*;
use crate::common::test_dir;

fn serve(dir: &Path, env: &[(&str, &str)]) -> (Reaper, u16) {
    let port = free_port();
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let g = start_gatehouse(dir, port, &env);
    (g, port)
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).unwrap()
}

/// Reads until the server closes the connection; how long that took, or `None` if it was
/// still open after `limit`. Bytes the server sends before closing are returned too.
fn wait_closed(s: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some((start.elapsed(), got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            // A reset is a close too.
            Err(_) => return Some((start.elapsed(), got)),
        }
    }
}

/// `GET /healthz` on a fresh connection: the status, or `None` if no answer came in `limit`.
fn health(port: u16, limit: Duration) -> Option<u16> {
    let mut s = connect(port);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let (_, raw) = wait_closed(&mut s, limit)?;
    (!raw.is_empty()).then(|| parse_reply(&raw).status)
}

#[test]
fn a_head_sent_slowly_or_never_finished_is_dropped() {
    let dir = test_dir();
    let (_g, port) = serve(dir.path(), &[("ROCKET_REQUEST_HEADER_TIMEOUT", "1")]);

    // Half a head, then nothing.
    let mut stalled = connect(port);
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    // The same, with a header line every 200 ms to look alive (slowloris).
    let mut trickle = connect(port);
    trickle.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let start = Instant::now();
    let mut i = 0;
    let trickle_closed = loop {
        if trickle
            .write_all(format!("X-Pad-{i}: {i}\r\n").as_bytes())
            .is_err()
        {
            break Some(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(6) {
            break None;
        }
        i += 1;
        trickle
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Ok(0) = trickle.read(&mut [0u8; 64]) {
            break Some(start.elapsed());
        }
    };
    let closed = trickle_closed.expect("a head trickled for 6 s is still being read");
    assert!(closed < Duration::from_secs(4), "{closed:?}");
    let (after, _) =
        wait_closed(&mut stalled, Duration::from_secs(5)).expect("a half-sent head is held open");
    assert!(after < Duration::from_secs(4), "{after:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let dir = test_dir();
    let (_g, port) = serve(dir.path(), &[("ROCKET_REQUEST_HEADER_TIMEOUT", "1")]);
    let mut s = connect(port);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (_, raw) = wait_closed(&mut s, Duration::from_secs(5))
        .expect("an idle keep-alive connection stays open");
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 200, "the request itself was answered first");
}

#[test]
fn connections_over_the_cap_get_a_quick_503_and_the_rest_keep_working() {
    let dir = test_dir();
    let (_g, port) = serve(
        dir.path(),
        &[
            ("ROCKET_MAX_CONNECTIONS", "16"),
            ("ROCKET_REQUEST_HEADER_TIMEOUT", "30"),
        ],
    );
    let mut held: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = connect(port);
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
                .unwrap();
            s
        })
        .collect();
    // Some probe must be refused while the 16 are held (the very first could still be
    // accepted before the last of the 16, so ask a few times).
    let mut refused = None;
    for _ in 0..20 {
        let mut s = connect(port);
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        let (took, raw) = wait_closed(&mut s, Duration::from_secs(5))
            .expect("a connection over the cap is left hanging");
        let reply = parse_reply(&raw);
        if reply.status == 503 {
            refused = Some((took, reply));
            break;
        }
    }
    let (took, reply) = refused.expect("no connection over the cap was refused");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(reply.header("Retry-After"), Some("5"));
    assert!(
        reply.body.contains("Too many connections"),
        "{}",
        reply.body
    );
    // The held connections were not the ones dropped: each can still finish its request.
    let first = held.first_mut().unwrap();
    first.write_all(b"Connection: close\r\n\r\n").unwrap();
    let (_, raw) = wait_closed(first, Duration::from_secs(5)).unwrap();
    assert_eq!(parse_reply(&raw).status, 200);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while health(port, Duration::from_secs(5)) != Some(200) {
        assert!(Instant::now() < deadline, "slots were not given back");
    }
}

#[test]
fn under_a_low_file_limit_health_keeps_answering() {
    let dir = test_dir();
    let port = free_port();
    let mut cmd = gatehouse_command(
        dir.path(),
        port,
        &[("ROCKET_REQUEST_HEADER_TIMEOUT", "2".to_string())],
    );
    // SAFETY: setrlimit is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let _g = spawn_gatehouse(cmd, port);
    // More half-sent heads than the process has descriptors.
    let mut held: Vec<TcpStream> = (0..300)
        .filter_map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").ok()?;
            Some(s)
        })
        .collect();
    assert!(held.len() > 256);
    // An answer at once (503 while full), not silence.
    let during = health(port, Duration::from_secs(2));
    assert!(
        matches!(during, Some(200 | 503)),
        "no answer under the flood: {during:?}"
    );
    // The flood's connections time out, and the instance is healthy again.
    for s in held.iter_mut().take(10) {
        let _ = wait_closed(s, Duration::from_secs(6));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if health(port, Duration::from_secs(3)) == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "health did not come back");
    }
}

#[test]
fn a_body_sent_too_slowly_gets_408() {
    let dir = test_dir();
    let (_g, port) = serve(dir.path(), &[("ROCKET_REQUEST_BODY_TIMEOUT", "1")]);
    let mut s = connect(port);
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nusername=a",
    )
    .unwrap();
    let (took, raw) =
        wait_closed(&mut s, Duration::from_secs(6)).expect("a trickled body is waited for");
    assert!(took < Duration::from_secs(4), "{took:?}");
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(reply.body.contains("took too long"), "{}", reply.body);
}

#[test]
fn a_cookie_that_is_not_utf8_does_not_sign_anyone_out() {
    let dir = test_dir();
    let (_g, port) = serve(dir.path(), &[]);
    // A client that sends no Origin, on a Host that is not the public origin's: the real
    // server is reached as-is, not through the origin it is configured with.
    let site = Site {
        origin: None,
        ..Site::new(port, "t")
    };
    let mut jar = Jar::default();
    let r = site.register(&mut jar, "ursula");
    assert_eq!(r.status, 303, "{}", r.body);
    let session = format!("session={}", jar.get("session").expect("a session cookie"));
    let mut req =
        b"GET /dashboard HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: junk=\xff\xfe; "
            .to_vec();
    req.extend_from_slice(session.as_bytes());
    req.extend_from_slice(b"; other=\xc3\r\n\r\n");
    let r = http_raw(port, &req);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("data-testid=\"username\""), "{}", r.body);
}

#[test]
fn query_strings_never_reach_the_log() {
    let dir = test_dir();
    let port = free_port();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // The release profile's level, so the log is what a deployment writes.
    let mut cmd = gatehouse_command(
        dir.path(),
        port,
        &[("ROCKET_LOG_LEVEL", "normal".to_string())],
    );
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    let g = spawn_gatehouse(cmd, port);
    for path in [
        "/dashboard?token=SECRETQ1",
        "/nothing-here?session=SECRETQ2",
        "/login?next=%2FSECRETQ3",
        "/.well-known/jwks.json?x=SECRETQ4",
        // Mailed links carry their secret in the path.
        "/password/reset/SECRETQ6",
        "/email/verify/SECRETQ7",
    ] {
        let r = http(port, "GET", "t", path, &[], None);
        assert!(r.status < 500, "{path}: {}", r.status);
    }
    let r = http(
        port,
        "POST",
        "t",
        "/login?token=SECRETQ5",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some("username=a&password=b"),
    );
    assert_eq!(r.status, 403);
    let r = http(
        port,
        "POST",
        "t",
        "/password/reset/SECRETQ8",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some("new_password=a&new_password_confirm=a"),
    );
    assert_eq!(r.status, 403);
    drop(g);
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("/password/reset/<token>"),
        "the route is logged by its pattern:\n{text}"
    );
    // Each request is logged by the route it matched (unknown paths by the catch-all 404
    // route), never by its path.
    assert!(
        text.contains("GET /dashboard") && text.contains("GET /<_..>"),
        "the requests are logged at this level:\n{text}"
    );
    assert!(
        !text.contains("/nothing-here"),
        "a raw path reached the log:\n{text}"
    );
    assert!(
        !text.contains("SECRETQ"),
        "a query string reached the log:\n{text}"
    );
}

#[test]
fn a_header_that_is_not_utf8_is_kept_so_forwarding_conflicts_still_show() {
    // An nginx block that sets X-Original-URL from the request (an older docs block, or a
    // hand-written one) passes a client's X-Forwarded-Host through. A byte that is not UTF-8
    // in the path used to make gatehouse drop X-Original-URL altogether, leaving only the
    // client's header to judge: bob reached the admin host.
    let dir = test_dir();
    let (_g, port) = serve(
        dir.path(),
        &[
            ("ROCKET_TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
            (
                "ROCKET_ACCESS_RULES",
                "[{host=\"app.gh.test\",users=[\"bob\"]},{host=\"admin.gh.test\",users=[\"root\"]}]",
            ),
        ],
    );
    let site = Site {
        origin: None,
        ..Site::new(port, "t")
    };
    let mut jar = Jar::default();
    assert_eq!(site.register(&mut jar, "bob").status, 303);
    let session = format!("session={}", jar.get("session").expect("a session cookie"));
    let ask = |original_url: &[u8]| {
        let mut req =
            b"GET /auth/verify HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Original-URL: "
                .to_vec();
        req.extend_from_slice(original_url);
        req.extend_from_slice(b"\r\nX-Forwarded-Host: app.gh.test\r\nCookie: ");
        req.extend_from_slice(session.as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        http_raw(port, &req).status
    };
    assert_eq!(ask(b"http://app.gh.test/page"), 200, "the sources agree");
    assert_eq!(ask(b"http://admin.gh.test/secret"), 403, "they disagree");
    assert_eq!(
        ask(b"http://admin.gh.test/secret\xff"),
        403,
        "a bad byte hides nothing"
    );
    assert_eq!(ask(b"http://admin.gh.test/?q=\xfe\xff"), 403);
}

#[test]
fn a_percent_encoded_cookie_name_is_not_a_host_only_cookie() {
    // Browsers accept `__Host-` cookies only from this host, judging the raw name; a sibling
    // subdomain can still set `%5F_Host-session`, which a decoder would read as the session.
    let dir = test_dir();
    let (_g, port) = serve(dir.path(), &[("ROCKET_SECURE_COOKIES", "true")]);
    let site = Site {
        origin: None,
        ..Site::new(port, "t")
    };
    let mut jar = Jar::default();
    assert_eq!(site.register(&mut jar, "mallory").status, 303);
    let token = jar
        .get("__Host-session")
        .expect("a __Host-session cookie")
        .to_string();
    let dashboard =
        |cookie: &str| http(port, "GET", "t", "/dashboard", &[("Cookie", cookie)], None);
    assert_eq!(dashboard(&format!("__Host-session={token}")).status, 200);
    let planted = dashboard(&format!("%5F_Host-session={token}"));
    assert_eq!(planted.status, 303, "a planted session was taken for ours");
    // Nor can a planted one push out, or clear, the real cookie.
    let both = dashboard(&format!("__Host-session={token}; %5F_Host-session=garbage"));
    assert_eq!(both.status, 200);
    assert!(both
        .header("Set-Cookie")
        .is_none_or(|c| !c.contains("Max-Age=0")));
}

/// A connection to `port` from the loopback address `from` (127.0.0.0/8 is all loopback).
fn connect_from(from: &str, port: u16) -> TcpStream {
    let rt = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async {
        let socket = rocket::tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let stream = socket
            .connect(format!("127.0.0.1:{port}").parse().unwrap())
            .await
            .unwrap();
        stream.into_std().unwrap()
    })
}

/// `GET /healthz` on `s`; the status, or `None` without an answer in 5 s.
fn health_on(mut s: TcpStream) -> Option<u16> {
    s.set_nonblocking(false).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let (_, raw) = wait_closed(&mut s, Duration::from_secs(5))?;
    (!raw.is_empty()).then(|| parse_reply(&raw).status)
}

#[test]
fn one_client_cannot_take_every_connection() {
    let dir = test_dir();
    let (_g, port) = serve(
        dir.path(),
        &[
            ("ROCKET_MAX_CONNECTIONS", "64"),
            ("ROCKET_MAX_CONNECTIONS_PER_CLIENT", "8"),
            ("ROCKET_REQUEST_HEADER_TIMEOUT", "30"),
            ("ROCKET_TRUSTED_PROXIES", "[\"127.0.0.3\"]"),
        ],
    );
    let hold = |from: &str, n: usize| -> Vec<TcpStream> {
        (0..n)
            .map(|_| {
                let mut s = connect_from(from, port);
                s.set_nonblocking(false).unwrap();
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
                    .unwrap();
                s
            })
            .collect()
    };
    let _greedy = hold("127.0.0.2", 8);
    // Its next one is refused (allowing for the accept loop to catch up with the eight)...
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match health_on(connect_from("127.0.0.2", port)) {
            Some(503) => break,
            other => assert!(Instant::now() < deadline, "never refused: {other:?}"),
        }
    }
    // ...while another client is served, and so is a trusted proxy beyond the limit.
    assert_eq!(health_on(connect_from("127.0.0.4", port)), Some(200));
    let _proxy = hold("127.0.0.3", 10);
    assert_eq!(health_on(connect_from("127.0.0.3", port)), Some(200));
}

#[test]
fn an_oversized_request_head_is_refused() {
    let dir = test_dir();
    let (_g, port) = serve(dir.path(), &[]);
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let r = http_raw(port, big.as_bytes());
    assert_eq!(r.status, 431, "{}", r.body);
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for i in 0..80 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(http_raw(port, many.as_bytes()).status, 431);
    // An ordinary request still passes.
    assert_eq!(health(port, Duration::from_secs(5)), Some(200));
}
