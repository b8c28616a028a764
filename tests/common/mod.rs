//! Shared test harness: an isolated gatehouse per test (its own temp dir, SQLite file, keys
//! and clock), plus helpers that drive the HTML forms the way a browser does.
#![allow(dead_code)]

use std::sync::Arc;

use figment::Figment;
use gatehouse::clock::ManualClock;
use gatehouse::App;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";
pub const ORIGIN: &str = "http://127.0.0.1:8000";

pub struct TestApp {
    pub client: Client,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
}

/// The figment a test instance runs with: Rocket.toml's debug profile, a private temp dir,
/// bcrypt cost 4.
pub fn figment(dir: &std::path::Path) -> Figment {
    gatehouse::config::figment()
        .merge((
            "database_url",
            format!("sqlite://{}", dir.join("gatehouse.db").display()),
        ))
        .merge(("data_dir", dir.join("data").display().to_string()))
        .merge(("bcrypt_cost", 4))
        .merge(("public_origin", ORIGIN))
        .merge(("log_level", "off"))
}

pub fn start() -> TestApp {
    start_with(|f| f)
}

pub fn start_with(configure: impl FnOnce(Figment) -> Figment) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, Arc::new(ManualClock::new()), configure)
}

/// Starts an instance on an existing directory (a "restart" when one ran there before).
pub fn start_in(
    dir: TempDir,
    clock: Arc<ManualClock>,
    configure: impl FnOnce(Figment) -> Figment,
) -> TestApp {
    let figment = configure(figment(dir.path()));
    let rocket = gatehouse::rocket_with_clock(figment, clock.clone()).expect("gatehouse starts");
    let client = Client::tracked(rocket).expect("valid rocket");
    // Tokens minted in the second an instance starts are revalidated once (they might predate
    // it); step past that second so tests see the steady state.
    clock.advance(1);
    TestApp { client, clock, dir }
}

impl TestApp {
    pub fn app(&self) -> &App {
        self.client.rocket().state::<App>().unwrap()
    }

    /// Stops this instance and starts another on the same data (keys, database).
    pub fn restart(self) -> TestApp {
        let TestApp { client, dir, clock } = self;
        drop(client);
        start_in(dir, clock, |f| f)
    }

    pub fn get(&self, uri: &str) -> LocalResponse<'_> {
        self.client.get(uri.to_string()).dispatch()
    }

    /// The CSRF token of the page's form (the first `csrf_token` field in it).
    pub fn csrf(&self, uri: &str) -> String {
        let body = self.get(uri).into_string().unwrap();
        field_value(&body, "csrf_token").expect("page has a csrf_token")
    }

    pub fn post_form(&self, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        self.client
            .post(uri.to_string())
            .header(ContentType::Form)
            .header(Header::new("Origin", ORIGIN))
            .body(encode(fields))
            .dispatch()
    }

    pub fn register(&self, username: &str, email: &str, password: &str) -> LocalResponse<'_> {
        let csrf = self.csrf("/register");
        self.post_form(
            "/register",
            &[
                ("username", username),
                ("email", email),
                ("password", password),
                ("password_confirm", password),
                ("csrf_token", &csrf),
            ],
        )
    }

    pub fn login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        let csrf = self.csrf("/login");
        self.post_form(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
    }

    /// Registers `name` and leaves this client signed in as them.
    pub fn signed_up(&self, name: &str) {
        let r = self.register(name, &format!("{name}@example.com"), PASSWORD);
        assert_eq!(
            r.status(),
            Status::SeeOther,
            "registration of {name} failed"
        );
    }

    pub fn logout(&self) -> LocalResponse<'_> {
        let csrf = self.csrf("/dashboard");
        self.post_form("/logout", &[("csrf_token", &csrf)])
    }

    pub fn session_cookie(&self) -> Option<Cookie<'static>> {
        self.client
            .cookies()
            .get(self.app().settings.session_cookie_name())
            .map(|c| c.clone().into_owned())
    }

    /// A request carrying the given session token, as an attacker replaying or forging one
    /// would send it. Use where the tracked jar holds no session cookie of its own.
    pub fn get_with_token(&self, uri: &str, token: &str) -> LocalResponse<'_> {
        let name = self.app().settings.session_cookie_name();
        self.client
            .get(uri.to_string())
            .cookie(Cookie::new(name, token.to_string()))
            .dispatch()
    }
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
