//! Real processes and real sockets for the tests that need them (nginx, Caddy, several
//! gatehouse processes): a tiny HTTP/1.1 client, a cookie jar, process reapers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn nginx_binary() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("nginx is not installed. Run `bash scripts/test.sh` (as root), or: apt-get install -y nginx");
}

pub fn caddy_binary() -> PathBuf {
    for p in ["/usr/bin/caddy", "/usr/local/bin/caddy"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("caddy is not installed. Run `bash scripts/test.sh` (as root), or: apt-get install -y caddy");
}

/// A port the kernel had free a moment ago, never one this test binary handed out before:
/// two binds to port 0 in a row can return the same port, and two servers told to use it
/// would have one fail while the test talks to the other.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<BTreeSet<u16>> = std::sync::Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
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

    /// The `Set-Cookie` header that sets `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .find(|v| v.starts_with(&format!("{name}=")))
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
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        req.push_str("\r\n");
    }
    http_raw(port, req.as_bytes())
}

/// Sends `request` byte for byte (it may hold what `http` cannot express: bytes that are not
/// UTF-8, odd framing) and reads the answer until the server closes.
pub fn http_raw(port: u16, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_reply(&raw)
}

/// A raw HTTP/1.1 answer, split into status, headers and body.
pub fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).to_string();
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
    spawn_gatehouse(gatehouse_command(dir, port, env), port)
}

/// The command [`start_gatehouse`] runs, for tests that change more than the environment
/// (resource limits, where the output goes).
pub fn gatehouse_command(dir: &Path, port: u16, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_BCRYPT_COST", "4")
        .env("ROCKET_LOG_LEVEL", "critical")
        .env("ROCKET_DATA_DIR", dir.join("data"))
        .env("DATABASE_URL", super::database_url(dir))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts `cmd` (see [`gatehouse_command`]) and waits until it listens on `port`.
pub fn spawn_gatehouse(mut cmd: Command, port: u16) -> Reaper {
    let mut child = Reaper(cmd.spawn().unwrap());
    wait_for(port, "gatehouse");
    // Something else answering on the port (another test's server) would pass wait_for.
    if let Some(status) = child.0.try_wait().unwrap() {
        panic!("gatehouse exited during start ({status}); is port {port} taken?");
    }
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

/// Runs Caddy in the foreground with `caddyfile`, which must listen on `port`. Its home, config
/// and data directories are private to the test, so it neither reads nor writes the machine's.
pub fn start_caddy(dir: &Path, caddyfile: &str, port: u16) -> Reaper {
    let home = dir.join("caddy");
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("Caddyfile");
    std::fs::write(&file, caddyfile).unwrap();
    // A file, not a pipe: nobody reads Caddy's log while it runs, and a full pipe would stall it.
    let log = home.join("caddy.log");
    let child = Command::new(caddy_binary())
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = Reaper(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("caddy exited ({status}):\n{err}");
        }
        assert!(Instant::now() < deadline, "caddy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// A gatehouse as a browser reaches it over a real socket: the port it connects to, the Host
/// it names and the Origin its form posts carry (none: a client that sends no Origin).
pub struct Site {
    pub port: u16,
    pub host: String,
    pub origin: Option<String>,
}

impl Site {
    /// `http://HOST` on `port` (a proxy's virtual host, say).
    pub fn new(port: u16, host: &str) -> Site {
        Site {
            port,
            host: host.to_string(),
            origin: Some(format!("http://{host}")),
        }
    }

    /// gatehouse (or a proxy) straight on `127.0.0.1:port`.
    pub fn local(port: u16) -> Site {
        Site::new(port, &format!("127.0.0.1:{port}"))
    }

    pub fn get(&self, path: &str, jar: &Jar) -> Reply {
        http(
            self.port,
            "GET",
            &self.host,
            path,
            &[("Cookie", &jar.header())],
            None,
        )
    }

    /// A form post with the jar's cookies (the jar is not updated: see [`Site::submit`]).
    pub fn post(&self, path: &str, jar: &Jar, fields: &[(&str, &str)]) -> Reply {
        let cookie = jar.header();
        let mut headers = vec![
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        if let Some(origin) = &self.origin {
            headers.push(("Origin", origin));
        }
        http(
            self.port,
            "POST",
            &self.host,
            path,
            &headers,
            Some(&super::encode(fields)),
        )
    }

    /// The CSRF token of the form at `page`, keeping the cookies the page sets.
    pub fn csrf(&self, page: &str, jar: &mut Jar) -> String {
        let r = self.get(page, jar);
        jar.take(&r);
        super::field_value(&r.body, "csrf_token")
            .unwrap_or_else(|| panic!("{page} has no form: {} {}", r.status, r.body))
    }

    /// Fills in the form at `page` and posts it to `action` as a browser would; the jar keeps
    /// the cookies of both answers.
    pub fn submit(
        &self,
        jar: &mut Jar,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let csrf = self.csrf(page, jar);
        let mut all = fields.to_vec();
        all.push(("csrf_token", &csrf));
        let r = self.post(action, jar, &all);
        jar.take(&r);
        r
    }

    /// Registers `name` (`name@example.com`, the test password), signed in in `jar` after.
    pub fn register(&self, jar: &mut Jar, name: &str) -> Reply {
        let email = format!("{name}@example.com");
        self.submit(
            jar,
            "/register",
            "/register",
            &[
                ("username", name),
                ("email", &email),
                ("password", super::PASSWORD),
                ("password_confirm", super::PASSWORD),
            ],
        )
    }

    pub fn sign_in(&self, jar: &mut Jar, name: &str, password: &str) -> Reply {
        self.submit(
            jar,
            "/login",
            "/login",
            &[("username", name), ("password", password)],
        )
    }
}

/// A cookie jar for one host family (Domain cookies included), like a browser's.
#[derive(Default, Clone)]
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

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
