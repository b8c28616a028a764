//! Shared test harness: an isolated gatehouse per test (its own temp dir, SQLite file, keys
//! and clock), plus helpers that drive the HTML forms the way a browser does.
#![allow(dead_code)]

pub mod net;
pub mod smtp;

use std::sync::Arc;

use figment::Figment;
use gatehouse::clock::ManualClock;
use gatehouse::App;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::blocking::{Client, LocalRequest, LocalResponse};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";
pub const ORIGIN: &str = "http://127.0.0.1:8000";

pub struct TestApp {
    pub client: Client,
    /// What the header check (see [`HeaderAudit`]) found wrong on this instance's responses.
    pub headers: HeaderAudit,
    /// The browser most tests act as: its cookies, kept by the harness (the client itself is
    /// untracked, so several browsers can share one instance without sharing cookies).
    pub browser: Browser,
    pub clock: Arc<ManualClock>,
    /// Shared by every instance started on the same data (`restart`, `another_instance`); the
    /// last one to go takes the PostgreSQL schema with it.
    pub dir: Arc<TestDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.headers.assert_clean();
        }
    }
}

/// Which database the current test runs on: tests that involve the database run on SQLite and
/// on PostgreSQL (see `backend_tests!`); the others run once, on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<TestBackend> = const { std::cell::Cell::new(TestBackend::Sqlite) };
}

pub fn backend() -> TestBackend {
    BACKEND.with(|b| b.get())
}

pub fn postgres_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// The explicit opt-out: without it, a PostgreSQL test with no server to run on fails.
pub const SKIP_POSTGRES: &str = "GATEHOUSE_TEST_SKIP_POSTGRES";

fn skip_postgres() -> bool {
    std::env::var(SKIP_POSTGRES).is_ok_and(|v| v == "1")
}

/// Runs a test body on `b`. A PostgreSQL test without `GATEHOUSE_TEST_POSTGRES_URL` fails, so a
/// run that never reached PostgreSQL cannot pass for one that did, unless
/// `GATEHOUSE_TEST_SKIP_POSTGRES=1` says that is what was wanted.
pub fn with_backend(b: TestBackend, body: impl FnOnce()) {
    if b == TestBackend::Postgres && postgres_url().is_none() {
        if skip_postgres() {
            eprintln!("skipped: {SKIP_POSTGRES}=1 and GATEHOUSE_TEST_POSTGRES_URL is not set");
            return;
        }
        panic!(
            "this test runs on PostgreSQL and GATEHOUSE_TEST_POSTGRES_URL is not set. Point it \
             at a database where the tests may make schemas, e.g.\n  \
             export GATEHOUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test\n\
             (`bash scripts/test.sh` finds or starts a server and prints the line), or skip \
             every PostgreSQL test with\n  export {SKIP_POSTGRES}=1"
        );
    }
    // Put back whatever was there, so a thread that runs another test afterwards starts on
    // SQLite again.
    struct Restore(TestBackend);
    impl Drop for Restore {
        fn drop(&mut self) {
            BACKEND.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(BACKEND.with(|c| c.replace(b)));
    body();
}

/// Defines each test twice, in modules `sqlite` and `postgres`. Tests that do not involve the
/// database are plain `#[test]`s beside it: they run once, on SQLite.
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $($(#[$meta])* fn $name() {
                $crate::common::with_backend($crate::common::TestBackend::Sqlite, || $body)
            })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $($(#[$meta])* fn $name() {
                $crate::common::with_backend($crate::common::TestBackend::Postgres, || $body)
            })*
        }
    };
}

/// A test's private directory and, on PostgreSQL, the schema of the database URL made for it
/// ([`database_url`]): both go when this is dropped, however the test ends (a panic too).
/// Declare it before the processes and instances that use it, so they stop first.
pub struct TestDir(TempDir);

impl TestDir {
    pub fn new() -> Self {
        TestDir(tempfile::tempdir().unwrap())
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        drop_schema(self.path());
    }
}

pub fn test_dir() -> TestDir {
    TestDir::new()
}

/// The database URL for a test directory: a SQLite file in it, or a PostgreSQL schema of its
/// own (named after the directory, so every instance started on `dir` shares it).
pub fn database_url(dir: &std::path::Path) -> String {
    match backend() {
        TestBackend::Sqlite => format!("sqlite://{}", dir.join("gatehouse.db").display()),
        TestBackend::Postgres => {
            use std::hash::{Hash, Hasher};
            let base = postgres_url().expect("GATEHOUSE_TEST_POSTGRES_URL");
            let mut h = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut h);
            let schema = format!("gh_test_{:016x}", h.finish());
            let marker = dir.join(".pg-schema");
            if !marker.exists() {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                let mut admin = diesel::PgConnection::establish(&base)
                    .unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
                admin
                    .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                    .unwrap();
                std::fs::write(&marker, &schema).unwrap();
            }
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-csearch_path%3D{schema}")
        }
    }
}

/// Drops a test's PostgreSQL schema (see [`TestDir`], which calls this).
fn drop_schema(dir: &std::path::Path) {
    if let (Ok(schema), Some(base)) = (
        std::fs::read_to_string(dir.join(".pg-schema")),
        postgres_url(),
    ) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        if let Ok(mut admin) = diesel::PgConnection::establish(&base) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// The figment a test instance runs with: Rocket.toml's debug profile, a private temp dir
/// (and database), bcrypt cost 4.
pub fn figment(dir: &std::path::Path) -> Figment {
    gatehouse::config::figment()
        .merge(("database_url", database_url(dir)))
        .merge(("data_dir", dir.join("data").display().to_string()))
        .merge(("bcrypt_cost", 4))
        .merge(("public_origin", ORIGIN))
        .merge(("log_level", "off"))
}

pub fn start() -> TestApp {
    start_with(|f| f)
}

pub fn start_with(configure: impl FnOnce(Figment) -> Figment) -> TestApp {
    let dir = Arc::new(test_dir());
    start_in(dir, Arc::new(ManualClock::new()), configure)
}

/// Starts an instance on an existing directory (a "restart" when one ran there before).
pub fn start_in(
    dir: Arc<TestDir>,
    clock: Arc<ManualClock>,
    configure: impl FnOnce(Figment) -> Figment,
) -> TestApp {
    let figment = configure(figment(dir.path()));
    let rocket = gatehouse::rocket_with_clock(figment, clock.clone()).expect("gatehouse starts");
    let headers = HeaderAudit::default();
    let client = Client::untracked(headers.watch(rocket)).expect("valid rocket");
    let running = client.rocket().state::<App>().unwrap().db.backend().name();
    let wanted = match backend() {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    };
    assert_eq!(running, wanted, "the test runs on the backend it claims");
    // Tokens minted in the second an instance starts are revalidated once (they might predate
    // it); step past that second so tests see the steady state.
    clock.advance(1);
    TestApp {
        client,
        headers,
        browser: Browser::default(),
        clock,
        dir,
    }
}

impl TestApp {
    pub fn app(&self) -> &App {
        self.client.rocket().state::<App>().unwrap()
    }

    /// Stops this instance and starts another on the same data (keys, database); the browser
    /// keeps its cookies.
    pub fn restart(self) -> TestApp {
        self.restart_with(|f| f)
    }

    /// [`TestApp::restart`] with settings of its own (as the first start had them, say).
    pub fn restart_with(self, configure: impl FnOnce(Figment) -> Figment) -> TestApp {
        let (dir, clock) = (self.dir.clone(), self.clock.clone());
        let browser = std::mem::take(&mut *self.browser.cookies.borrow_mut());
        drop(self);
        let t = start_in(dir, clock, configure);
        *t.browser.cookies.borrow_mut() = browser;
        t
    }

    /// A second instance on the same database, keys and clock: another server process of the
    /// same deployment. It starts with a browser of its own.
    pub fn another_instance(&self) -> TestApp {
        self.another_instance_with(|f| f)
    }

    /// [`TestApp::another_instance`] with settings of its own.
    pub fn another_instance_with(&self, configure: impl FnOnce(Figment) -> Figment) -> TestApp {
        let figment = configure(figment(self.dir.path()));
        let rocket = gatehouse::rocket_with_clock(figment, self.clock.clone())
            .expect("second instance starts");
        let headers = HeaderAudit::default();
        TestApp {
            client: Client::untracked(headers.watch(rocket)).expect("valid rocket"),
            headers,
            browser: Browser::default(),
            clock: self.clock.clone(),
            dir: self.dir.clone(),
        }
    }

    /// Sends a request as this test's browser (its cookies in, `Set-Cookie` kept).
    pub fn send<'c>(&'c self, req: LocalRequest<'c>) -> LocalResponse<'c> {
        self.browser.send(req)
    }

    pub fn get(&self, uri: &str) -> LocalResponse<'_> {
        self.browser.get(self, uri)
    }

    /// The CSRF token of the page's form (the first `csrf_token` field in it).
    pub fn csrf(&self, uri: &str) -> String {
        self.browser.csrf(self, uri)
    }

    pub fn post_form(&self, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        self.browser.post(self, uri, fields)
    }

    /// Fills in the form on `page` (its CSRF token) and posts `fields` to `uri`.
    pub fn submit(&self, page: &str, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        self.browser.submit(self, page, uri, fields)
    }

    pub fn register(&self, username: &str, email: &str, password: &str) -> LocalResponse<'_> {
        self.browser.register(self, username, email, password)
    }

    pub fn login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.browser.login(self, username, password)
    }

    /// Registers `name` and leaves this browser signed in as them.
    pub fn signed_up(&self, name: &str) {
        let r = self.register(name, &format!("{name}@example.com"), PASSWORD);
        assert_eq!(
            r.status(),
            Status::SeeOther,
            "registration of {name} failed"
        );
    }

    pub fn logout(&self) -> LocalResponse<'_> {
        self.submit("/dashboard", "/logout", &[])
    }

    /// This browser's session token, if it holds one.
    pub fn session_cookie(&self) -> Option<String> {
        self.browser
            .cookie(self.app().settings.session_cookie_name())
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.browser.cookie(name)
    }

    /// A sign-in with this browser from `ip` (as the peer address Rocket sees).
    pub fn login_from(&self, ip: &str, username: &str, password: &str) -> LocalResponse<'_> {
        self.browser.submit_from(
            self,
            Some(ip),
            "/login",
            "/login",
            &[("username", username), ("password", password)],
        )
    }

    /// A form post with exactly `headers` besides the form's content type: no Origin unless
    /// given, for tests of the origin and CSRF checks themselves.
    pub fn post_form_with(
        &self,
        uri: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> LocalResponse<'_> {
        let mut req = self
            .client
            .post(uri.to_string())
            .header(ContentType::Form)
            .body(encode(fields));
        for (k, v) in headers {
            req = req.header(Header::new(k.to_string(), v.to_string()));
        }
        self.send(req)
    }

    /// The claims of a token this instance issued (and still accepts).
    pub fn claims(&self, token: &str) -> gatehouse::auth::token::Claims {
        use gatehouse::clock::Clock;
        (*self.app().tokens.verify(token, self.clock.now()).unwrap()).clone()
    }

    /// The session id a token belongs to.
    pub fn sid_of(&self, token: &str) -> String {
        self.claims(token).sid
    }

    /// Moves the clock one upkeep interval, which runs exactly one upkeep pass on every
    /// instance on this clock, and returns this instance's.
    pub fn run_upkeep(&self) -> Result<gatehouse::tasks::Pruned, String> {
        let before = self.upkeep_log().runs;
        self.clock.advance(gatehouse::tasks::PRUNE_EVERY as i64);
        let log = self.upkeep_log();
        assert_eq!(log.runs, before + 1, "one upkeep pass per interval");
        log.last.expect("a pass ran")
    }

    /// The upkeep passes this instance ran (moving the clock runs them when due).
    pub fn upkeep_log(&self) -> gatehouse::tasks::PassLog {
        self.client
            .rocket()
            .state::<gatehouse::tasks::Passes>()
            .expect("the upkeep fairing is attached")
            .log()
    }

    /// A request carrying the given session token (and no other cookie), as an attacker
    /// replaying or forging one would send it.
    pub fn get_with_token(&self, uri: &str, token: &str) -> LocalResponse<'_> {
        let name = self.app().settings.session_cookie_name();
        self.client
            .get(uri.to_string())
            .cookie(Cookie::new(name, token.to_string()))
            .dispatch()
    }
}

/// A peer address Rocket sees for a request (any port).
pub fn peer(ip: &str) -> std::net::SocketAddr {
    std::net::SocketAddr::new(ip.parse().unwrap(), 40000)
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `value="..."` of the input named `name`, unescaped.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(unescape(&rest[v..v + end]))
}

pub fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(r: &LocalResponse<'_>) -> Vec<String> {
    r.headers().get("Set-Cookie").map(str::to_string).collect()
}

pub fn set_cookie_named(r: &LocalResponse<'_>, name: &str) -> Option<String> {
    set_cookies(r)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// The value a `Set-Cookie` header sets (`name=VALUE; Attr...`).
pub fn cookie_value(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').map_or("", |(_, v)| v.trim())
}

/// Whether a response starts a session: a session cookie with a value, not one that clears it.
pub fn sets_session(set_cookies: &[String], name: &str) -> bool {
    set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{name}=")) && !cookie_value(c).is_empty())
}

/// Replaces every CSRF token in a page by a placeholder, to compare two pages' bodies.
pub fn without_csrf(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("name=\"csrf_token\" value=\"") {
        let start = at + "name=\"csrf_token\" value=\"".len();
        out.push_str(&rest[..start]);
        let end = rest[start..].find('"').unwrap();
        out.push_str("CSRF");
        rest = &rest[start + end..];
    }
    out.push_str(rest);
    out
}

/// A browser: its cookies (applied from every response's `Set-Cookie`) and its User-Agent.
#[derive(Default)]
pub struct Browser {
    cookies: std::cell::RefCell<std::collections::BTreeMap<String, String>>,
    pub user_agent: Option<String>,
}

impl Browser {
    pub fn new(user_agent: &str) -> Self {
        Browser {
            cookies: Default::default(),
            user_agent: Some(user_agent.to_string()),
        }
    }

    pub fn send<'c>(&self, mut req: LocalRequest<'c>) -> LocalResponse<'c> {
        for (name, value) in self.cookies.borrow().iter() {
            req = req.cookie(Cookie::new(name.clone(), value.clone()));
        }
        if let Some(ua) = &self.user_agent {
            req = req.header(Header::new("User-Agent", ua.clone()));
        }
        let r = req.dispatch();
        for c in set_cookies(&r) {
            let parsed = Cookie::parse_encoded(c).unwrap();
            let gone = parsed.max_age().is_some_and(|a| a.is_zero()) || parsed.value().is_empty();
            let mut jar = self.cookies.borrow_mut();
            if gone {
                jar.remove(parsed.name());
            } else {
                jar.insert(parsed.name().to_string(), parsed.value().to_string());
            }
        }
        r
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// Sets a cookie as if the server had (a copied or forged one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    /// Forgets one cookie (without telling the server).
    pub fn forget(&self, name: &str) {
        self.cookies.borrow_mut().remove(name);
    }

    /// Forgets every cookie, as a new private window would.
    pub fn clear(&self) {
        self.cookies.borrow_mut().clear();
    }

    pub fn get<'c>(&self, t: &'c TestApp, uri: &str) -> LocalResponse<'c> {
        self.send(t.client.get(uri.to_string()))
    }

    pub fn post<'c>(
        &self,
        t: &'c TestApp,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'c> {
        self.post_from(t, None, uri, fields)
    }

    /// A same-origin form post, from `ip` when given (the peer address Rocket sees).
    pub fn post_from<'c>(
        &self,
        t: &'c TestApp,
        ip: Option<&str>,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'c> {
        let origin = t.app().settings.public_origin.clone();
        let mut req = t
            .client
            .post(uri.to_string())
            .header(ContentType::Form)
            .header(Header::new("Origin", origin))
            .body(encode(fields));
        if let Some(ip) = ip {
            req = req.remote(peer(ip));
        }
        self.send(req)
    }

    pub fn csrf(&self, t: &TestApp, page: &str) -> String {
        let body = self.get(t, page).into_string().unwrap();
        field_value(&body, "csrf_token").expect("page has a csrf_token")
    }

    /// Posts a form with the CSRF token of the page at `page`.
    pub fn submit<'c>(
        &self,
        t: &'c TestApp,
        page: &str,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'c> {
        self.submit_from(t, None, page, uri, fields)
    }

    /// [`Browser::submit`] from `ip`.
    pub fn submit_from<'c>(
        &self,
        t: &'c TestApp,
        ip: Option<&str>,
        page: &str,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'c> {
        let csrf = self.csrf(t, page);
        let mut all = fields.to_vec();
        all.push(("csrf_token", &csrf));
        self.post_from(t, ip, uri, &all)
    }

    pub fn login<'c>(&self, t: &'c TestApp, user: &str, password: &str) -> LocalResponse<'c> {
        self.submit(
            t,
            "/login",
            "/login",
            &[("username", user), ("password", password)],
        )
    }

    pub fn register<'c>(
        &self,
        t: &'c TestApp,
        username: &str,
        email: &str,
        password: &str,
    ) -> LocalResponse<'c> {
        self.register_from(t, None, username, email, password)
    }

    /// [`Browser::register`] from `ip`.
    pub fn register_from<'c>(
        &self,
        t: &'c TestApp,
        ip: Option<&str>,
        username: &str,
        email: &str,
        password: &str,
    ) -> LocalResponse<'c> {
        self.submit_from(
            t,
            ip,
            "/register",
            "/register",
            &[
                ("username", username),
                ("email", email),
                ("password", password),
                ("password_confirm", password),
            ],
        )
    }

    pub fn session(&self) -> Option<String> {
        self.cookie("session")
    }
}

/// The exact security headers (SECURITY-BAR HD-1, HD-2) checked on every response any test
/// sees, by a response fairing attached after all of gatehouse's own: a test that happens to
/// hit an error page, a redirect or a JSON endpoint checks its headers too. Anything wrong is
/// collected and fails the test when its instance is dropped.
#[derive(Clone, Default)]
pub struct HeaderAudit(Arc<std::sync::Mutex<Vec<String>>>);

/// Written out here, not taken from the code under test: a weakened policy must not pass.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";
const PERMISSIONS: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Headers a response may carry beyond the security set: anything else (a `Server` banner,
/// CORS, a framework's own) is a finding.
const OTHER_HEADERS: &[&str] = &[
    "content-type",
    "set-cookie",
    "location",
    "retry-after",
    "allow",
    "etag",
    "remote-user",
    "remote-name",
    "remote-email",
    "remote-email-verified",
    "remote-groups",
    "remote-amr",
];

impl HeaderAudit {
    pub fn watch(&self, rocket: rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build> {
        let audit = self.clone();
        rocket.attach(rocket::fairing::AdHoc::on_response(
            "test: security headers",
            move |req, res| {
                let audit = audit.clone();
                Box::pin(async move {
                    let problems = audit_headers(req, res);
                    if !problems.is_empty() {
                        let mut found = audit.0.lock().unwrap_or_else(|e| e.into_inner());
                        found.push(format!(
                            "{} {}: {}",
                            req.method(),
                            req.uri().path(),
                            problems.join("; ")
                        ));
                    }
                })
            },
        ))
    }

    pub fn findings(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn assert_clean(&self) {
        let found = self.findings();
        assert!(
            found.is_empty(),
            "responses with wrong security headers:\n{}",
            found.join("\n")
        );
    }
}

fn audit_headers(req: &rocket::Request<'_>, res: &rocket::Response<'_>) -> Vec<String> {
    let settings = &req.rocket().state::<App>().expect("the app").settings;
    let csp = match &settings.cookie_domain {
        // Sign-in may post on to sibling hosts' URLs after a redirect.
        Some(d) => {
            let scheme = if settings.secure_cookies {
                "https"
            } else {
                "http"
            };
            format!("{CSP} {scheme}://{d} {scheme}://*.{d}")
        }
        None => CSP.to_string(),
    };
    let path = req.uri().path().as_str();
    // Only assets and public metadata that exist may be cached; an error never is.
    let found = matches!(res.status().code, 200 | 304);
    let cache = if found && path.starts_with("/static/") {
        &["public, max-age=31536000, immutable", "public, max-age=300"][..]
    } else if found && path.starts_with("/.well-known/") {
        &["public, max-age=300"][..]
    } else {
        &["no-store"][..]
    };
    // A mailed link's token is in its path: those pages send no Referer at all.
    let referrer = if path.starts_with("/password/reset/") || path.starts_with("/email/verify/") {
        "no-referrer"
    } else {
        "same-origin"
    };
    let mut expected: Vec<(&str, Vec<String>)> = vec![
        ("content-security-policy", vec![csp]),
        ("x-frame-options", vec!["DENY".into()]),
        ("x-content-type-options", vec!["nosniff".into()]),
        ("referrer-policy", vec![referrer.into()]),
        ("cross-origin-opener-policy", vec!["same-origin".into()]),
        ("cross-origin-resource-policy", vec!["same-origin".into()]),
        ("permissions-policy", vec![PERMISSIONS.into()]),
        (
            "cache-control",
            cache.iter().map(|s| s.to_string()).collect(),
        ),
    ];
    if settings.secure_cookies {
        expected.push(("strict-transport-security", vec![HSTS.into()]));
    }
    let mut problems = Vec::new();
    for (name, allowed) in &expected {
        let values: Vec<&str> = res.headers().get(name).collect();
        match values.as_slice() {
            [one] if allowed.iter().any(|a| a == one) => {}
            _ => problems.push(format!("{name} is {values:?}, expected one of {allowed:?}")),
        }
    }
    for h in res.headers().iter() {
        let name = h.name().as_str().to_ascii_lowercase();
        let known =
            expected.iter().any(|(n, _)| *n == name) || OTHER_HEADERS.contains(&name.as_str());
        if !known {
            problems.push(format!("unexpected header {name}: {}", h.value()));
        }
    }
    problems
}
