//! A real nginx (the Debian package) in front of a tiny upstream app, configured with the
//! block from docs/nginx.md: signed-out visitors are sent to sign in, signed-in ones reach
//! the app as themselves, a Remote-User the client sends never gets through, logout works.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{encode, field_value, PASSWORD};

pub fn nginx_binary() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("nginx is not installed. Run `bash .ci/run` (as root), or: apt-get install -y nginx");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child when the test ends, however it ends.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection (no redirects followed).
pub fn http(
    port: u16,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The tiny upstream app: answers every request with the headers it received.
pub fn start_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut seen = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                seen.push_str(&line);
            }
            let body = format!("UPSTREAM\n{seen}");
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

pub fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts gatehouse (the real binary) with `env` on top of a debug-profile base.
pub fn start_gatehouse(dir: &Path, port: u16, env: &[(&str, String)]) -> Reaper {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_BCRYPT_COST", "4")
        .env("ROCKET_LOG_LEVEL", "critical")
        .env("ROCKET_DATA_DIR", dir.join("data"))
        .env("DATABASE_URL", common::database_url(dir))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = Reaper(cmd.spawn().unwrap());
    wait_for(port, "gatehouse");
    child
}

/// Runs nginx in the foreground with `servers` (server blocks) in a private prefix.
pub fn start_nginx(dir: &Path, servers: &str, port: u16) -> Reaper {
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {p}/logs/error.log warn;\npid {p}/nginx.pid;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n{servers}\n}}\n",
        p = prefix.display()
    );
    std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx_binary())
        .args(["-e", "stderr", "-p"])
        .arg(&prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reaper(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            let mut err = String::new();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("nginx exited ({status}):\n{err}");
        }
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// The nginx configuration block of docs/nginx.md, moved onto loopback without TLS.
fn documented_config(nginx_port: u16, gatehouse_port: u16, app_port: u16) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/nginx.md"))
        .unwrap();
    let start = doc
        .find("```nginx\n")
        .expect("docs/nginx.md has an nginx block")
        + 9;
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("ssl_certificate"))
        .map(|l| {
            l.replace(
                "listen 443 ssl http2;",
                &format!("listen 127.0.0.1:{nginx_port};"),
            )
        })
        .map(|l| {
            l.replace("login.example.com", "login.gh.test")
                .replace("app.example.com", "app.gh.test")
        })
        .map(|l| l.replace("127.0.0.1:8000", &format!("127.0.0.1:{gatehouse_port}")))
        .map(|l| l.replace("127.0.0.1:3000", &format!("127.0.0.1:{app_port}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A cookie jar for one host family (Domain cookies included), like a browser's.
#[derive(Default)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    pub fn take(&mut self, r: &Reply) {
        for (k, v) in &r.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.0.remove(name);
                } else {
                    self.0.insert(name.to_string(), value.to_string());
                }
            }
        }
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

backend_tests! {
    #[test]
    fn nginx_forward_auth_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let (np, gp) = (free_port(), free_port());
        let up = start_upstream();
        let login_origin = format!("http://login.gh.test:{np}");
        let _gatehouse = start_gatehouse(
            dir.path(),
            gp,
            &[
                ("ROCKET_PUBLIC_ORIGIN", login_origin.clone()),
                ("ROCKET_COOKIE_DOMAIN", "gh.test".into()),
                ("ROCKET_TRUSTED_PROXIES", "[\"127.0.0.1\"]".into()),
            ],
        );
        let _nginx = start_nginx(dir.path(), &documented_config(np, gp, up), np);
        let app_host = format!("app.gh.test:{np}");
        let login_host = format!("login.gh.test:{np}");

        // 1. Not signed in: redirected to sign in, and the app never sees the request, even one
        //    that claims to be someone.
        let r = http(
            np,
            "GET",
            &app_host,
            "/private/page?x=1",
            &[("Remote-User", "admin")],
            None,
        );
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.header("Location").unwrap().to_string();
        assert_eq!(
            location,
            format!(
                "{login_origin}/login?next=http%3A%2F%2Fapp.gh.test%3A{np}%2Fprivate%2Fpage%3Fx%3D1"
            )
        );
        assert!(!r.body.contains("UPSTREAM"));

        // 2. Register through nginx, then sign in from the redirect's page.
        let mut jar = Jar::default();
        let page = http(np, "GET", &login_host, "/register", &[], None);
        jar.take(&page);
        let csrf = field_value(&page.body, "csrf_token").unwrap();
        let form = encode(&[
            ("username", "nina"),
            ("email", "nina@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("csrf_token", &csrf),
        ]);
        let r = http(
            np,
            "POST",
            &login_host,
            "/register",
            &[
                ("Cookie", &jar.header()),
                ("Origin", &login_origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&form),
        );
        assert_eq!(r.status, 303, "{}", r.body);
        jar.take(&r);
        let logout_page = http(
            np,
            "GET",
            &login_host,
            "/dashboard",
            &[("Cookie", &jar.header())],
            None,
        );
        let csrf = field_value(&logout_page.body, "csrf_token").unwrap();
        let r = http(
            np,
            "POST",
            &login_host,
            "/logout",
            &[
                ("Cookie", &jar.header()),
                ("Origin", &login_origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&encode(&[("csrf_token", &csrf)])),
        );
        assert_eq!(r.status, 303);
        jar.take(&r);

        let login_path = location.strip_prefix(&login_origin).unwrap();
        let page = http(
            np,
            "GET",
            &login_host,
            login_path,
            &[("Cookie", &jar.header())],
            None,
        );
        assert_eq!(page.status, 200);
        jar.take(&page);
        let csrf = field_value(&page.body, "csrf_token").unwrap();
        let next = field_value(&page.body, "next").unwrap();
        assert_eq!(next, format!("http://app.gh.test:{np}/private/page?x=1"));
        let form = encode(&[
            ("username", "nina"),
            ("password", PASSWORD),
            ("next", &next),
            ("csrf_token", &csrf),
        ]);
        let r = http(
            np,
            "POST",
            &login_host,
            "/login",
            &[
                ("Cookie", &jar.header()),
                ("Origin", &login_origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&form),
        );
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("Location"), Some(next.as_str()), "back to the app");
        let session = r
            .headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("session="))
            .unwrap()
            .1
            .clone();
        assert!(session.contains("Domain=gh.test"), "{session}");
        jar.take(&r);

        // 3. Signed in: the app sees who it is, and a forged Remote-User is overwritten.
        for spoof in ["Remote-User", "remote-user", "REMOTE-USER"] {
            let r = http(
                np,
                "GET",
                &app_host,
                "/private/page?x=1",
                &[
                    ("Cookie", &jar.header()),
                    (spoof, "admin"),
                    ("Remote-Email", "admin@evil.example"),
                ],
                None,
            );
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(r.body.starts_with("UPSTREAM"));
            let lower = r.body.to_ascii_lowercase();
            assert!(lower.contains("remote-user: nina\r\n"), "{}", r.body);
            assert!(
                lower.contains("remote-email: nina@example.com\r\n"),
                "{}",
                r.body
            );
            assert!(
                !lower.contains("admin"),
                "a client-sent header reached the app: {}",
                r.body
            );
        }
        // Underscore spellings are dropped by nginx.
        let r = http(
            np,
            "GET",
            &app_host,
            "/",
            &[("Cookie", &jar.header()), ("Remote_User", "admin")],
            None,
        );
        assert!(!r.body.to_ascii_lowercase().contains("admin"), "{}", r.body);
        // The verify endpoint itself is internal to nginx.
        let r = http(
            np,
            "GET",
            &app_host,
            "/_gatehouse/verify",
            &[("Cookie", &jar.header())],
            None,
        );
        assert_eq!(r.status, 404);

        // 4. Logout: redirected again.
        let page = http(
            np,
            "GET",
            &login_host,
            "/dashboard",
            &[("Cookie", &jar.header())],
            None,
        );
        let csrf = field_value(&page.body, "csrf_token").unwrap();
        let stolen = jar.header();
        let r = http(
            np,
            "POST",
            &login_host,
            "/logout",
            &[
                ("Cookie", &jar.header()),
                ("Origin", &login_origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&encode(&[("csrf_token", &csrf)])),
        );
        assert_eq!(r.status, 303);
        jar.take(&r);
        let r = http(
            np,
            "GET",
            &app_host,
            "/private/page",
            &[("Cookie", &jar.header())],
            None,
        );
        assert_eq!(r.status, 302);
        // Even the old cookie, replayed, no longer opens the app.
        let r = http(
            np,
            "GET",
            &app_host,
            "/private/page",
            &[("Cookie", &stolen)],
            None,
        );
        assert_eq!(r.status, 302);
        assert!(!r.body.contains("UPSTREAM"));
    }
}
