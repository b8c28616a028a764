//! Typed settings, read from `Rocket.toml` / `ROCKET_*` / `DATABASE_URL` and checked once at
//! start. A bad value stops the start with one line that names the key.
//!
//! Each setting is declared once, in [`Settings`]: its type, default and check side by side.
//! Deserializing, defaults, the per-key checks and `check-config`'s listing all come from that
//! declaration; only the rules between settings are written apart, in [`Settings::cross_check`].

mod alg;
pub(crate) mod checks;
mod declare;
mod listing;

use std::fmt;
use std::path::PathBuf;

use figment::providers::Env;
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use alg::Alg;
pub use checks::origin_host;
use checks::{at_least, each, seconds, within, TEN_YEARS};
use declare::settings;

/// The error that stops a start: always names the setting at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{key}`: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

settings! {
    /// The validated, effective settings. Cheap to share (`Arc<Settings>` lives in managed
    /// state). Build them with [`Settings::from_figment`], which checks them; `Serialize` is
    /// the printed view (`check-config`), so secrets serialize masked. Keys are in README's
    /// order (the contract's first), which is the order `check-config` prints.
    pub struct Settings {
        /// The figment profile they were read with (`debug`, `release`, ...); not a key.
        #[setting(default = String::new())]
        #[serde(skip_deserializing)]
        pub profile: String,

        /// `sqlite://PATH` (or a bare path) or `postgres://...`.
        #[setting(default = "sqlite://data/gatehouse.db".into(), check = checks::database_url)]
        #[serde(serialize_with = "checks::masked_url")]
        pub database_url: String,

        /// Signing keys and the CSRF key.
        #[setting(default = "data".into(), check = checks::not_empty)]
        pub data_dir: PathBuf,

        /// The origin users see, in canonical form (exactly what browsers send in `Origin`).
        #[setting(default = "http://127.0.0.1:8000".into(), check = checks::origin)]
        pub public_origin: String,

        /// `Secure` cookies with `__Host-`/`__Secure-` names, and HSTS. Off by default in the
        /// debug profile only (see `from_figment`).
        #[setting(default = true)]
        pub secure_cookies: bool,

        /// Below 10 only in the debug profile (`cross_check`).
        #[setting(default = 12, check = within(4..=31))]
        pub bcrypt_cost: u32,

        #[setting(default = Alg::EdDSA)]
        pub jwt_algorithm: Alg,

        #[setting(default = 1800, check = seconds(1..=TEN_YEARS))]
        pub session_idle_timeout: i64,

        #[setting(default = 43200, check = seconds(1..=TEN_YEARS))]
        pub session_absolute_timeout: i64,

        #[setting(default = 2_592_000, check = seconds(1..=TEN_YEARS))]
        pub remember_me_timeout: i64,

        #[setting(default = 60, check = seconds(1..=TEN_YEARS))]
        pub session_revalidate_interval: i64,

        #[setting(default = 5, check = at_least(1))]
        pub login_max_failures: u32,

        #[setting(default = 300, check = seconds(1..=TEN_YEARS))]
        pub login_failure_window: i64,

        #[setting(default = 300, check = seconds(1..=TEN_YEARS))]
        pub login_ban_time: i64,

        #[setting(default = 30, check = at_least(1))]
        pub login_ip_max_failures: u32,

        /// Addresses or CIDR ranges whose forwarding headers are believed.
        #[setting(default = Vec::new())]
        #[serde(deserialize_with = "checks::nets", serialize_with = "checks::net_strings")]
        pub trusted_proxies: Vec<IpNet>,

        #[setting(default = 20, check = at_least(1))]
        pub max_sessions_per_user: u32,

        #[setting(default = 20, check = at_least(1))]
        pub register_ip_max: u32,

        /// IPv6 clients are throttled by their network of this many bits (see
        /// `throttle::address_key`); 64 is one subscriber.
        #[setting(default = 64, check = within(1..=128))]
        pub throttle_ipv6_prefix: u8,

        #[setting(default = 3600, check = seconds(1..=TEN_YEARS))]
        pub register_window: i64,

        #[setting(default = 64)]
        pub bcrypt_max_queue: usize,

        /// Measured (docs/PERFORMANCE.md): the bcrypt pool's size (one thread per core)
        /// already bounds its share; on 2 cores under a sign-in flood, 0 keeps about half of
        /// both the pages' throughput and the bcrypt bound, higher values favour pages.
        #[setting(default = 0, check = within(0..=19))]
        pub bcrypt_nice: i32,

        #[setting(default = 8, check = within(1..=1024))]
        pub db_pool_size: u32,

        #[setting(default = 5, check = at_least(1))]
        pub db_connect_timeout: u64,

        /// Audit events older than this are deleted by upkeep. 400 days by default: a year
        /// of history plus a month to notice and investigate; at least a day, so an
        /// investigation never finds yesterday's trail already gone.
        #[setting(default = 400 * 86400, check = seconds(86400..=TEN_YEARS))]
        pub audit_retention: i64,

        #[setting(default = "templates".into())]
        pub template_dir: PathBuf,

        /// Share the session with subdomains (forward-auth across hosts). `None`: a host-only
        /// `__Host-` cookie. Must contain `public_origin`'s host (`cross_check`).
        #[setting(default = None, check = checks::cookie_domain)]
        pub cookie_domain: Option<String>,

        /// Forward-auth rules; with any, hosts no rule matches are denied.
        #[setting(default = Vec::new(), check = each(checks::access_rule))]
        pub access_rules: Vec<AccessRule>,

        /// Seconds a client has to send a request's head; also how long an idle keep-alive
        /// connection stays open. Read by the (patched) Rocket server from the same figment.
        /// Longer would let slow clients hold connections.
        #[setting(default = 10, check = seconds(1..=300))]
        pub request_header_timeout: u64,

        /// Seconds a client has to send a form's body once its head arrived.
        #[setting(default = 10, check = seconds(1..=300))]
        pub request_body_timeout: u64,

        /// Most connections served at once; see `web::connections`.
        #[setting(default = 1024, check = within(16..=1_000_000))]
        pub max_connections: u64,

        /// Most of those one client may hold (an IPv4 address, or an IPv6 network of
        /// `throttle_ipv6_prefix` bits); `trusted_proxies` are exempt.
        #[setting(default = 128, check = within(1..=1_000_000))]
        pub max_connections_per_client: u64,

        /// Where mail goes: `smtp://HOST:PORT` (a local relay, no TLS),
        /// `smtp+starttls://USER:PASS@HOST:587`, `smtps://USER:PASS@HOST:465`. Unset: no mail is
        /// sent, and the pages that would send mail say so.
        #[setting(default = None, check = checks::smtp_url)]
        #[serde(serialize_with = "checks::masked_optional_url")]
        pub smtp_url: Option<String>,

        /// The From of every mail. Unset: `gatehouse <no-reply@HOST>` with `public_origin`'s
        /// host (`from_figment` fills it in).
        #[setting(default = None, check = checks::mailbox)]
        pub mail_from: Option<String>,

        /// How long a password reset link works.
        #[setting(default = 1800, check = seconds(60..=7 * 86400))]
        pub password_reset_timeout: i64,

        /// How long an address verification link works.
        #[setting(default = 86400, check = seconds(300..=30 * 86400))]
        pub email_verification_timeout: i64,

        /// Refuse sign-in to accounts whose address is not verified yet (they are offered to
        /// have the link sent again). Needs `smtp_url`.
        #[setting(default = false)]
        pub require_verified_email: bool,
    }
}

/// One forward-auth rule: who may reach hosts matching `host` (`app.example.com` or
/// `*.example.com`). When any rule exists, hosts no rule matches are denied.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    pub host: String,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Only sessions started with a second factor (`amr` holds `mfa`) pass; others get 403.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_2fa: bool,
}

impl AccessRule {
    pub fn matches_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == self.host,
        }
    }
}

/// The figment every entry point reads: Rocket's own (Rocket.toml, `ROCKET_*`, profiles)
/// plus the Diesel convention `DATABASE_URL`.
pub fn figment() -> Figment {
    rocket::Config::figment().merge(Env::raw().only(&["database_url"]))
}

impl Settings {
    pub fn from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
        let profile = figment.profile().as_str().to_string();
        let mut figment = figment.clone();
        if profile == "debug" {
            // The one default that depends on the profile: plain-HTTP development.
            figment = figment.join(("secure_cookies", false));
        }
        let mut settings: Settings = figment.extract().map_err(|e| {
            // The top-level key, also when the fault is deeper (an access rule's field).
            let key = e.path.first().map_or("(configuration)", String::as_str);
            ConfigError::new(key, e.kind.to_string())
        })?;
        settings.profile = profile;
        settings.check_each()?;
        settings.cross_check()?;
        if settings.mail_from.is_none() {
            let host = checks::origin_host(&settings.public_origin);
            settings.mail_from = Some(format!("gatehouse <no-reply@{host}>"));
        }
        Ok(settings)
    }

    /// The rules between settings, once each has passed its own check.
    fn cross_check(&self) -> Result<(), ConfigError> {
        if self.bcrypt_cost < 10 && self.profile != "debug" {
            return Err(ConfigError::new(
                "bcrypt_cost",
                format!(
                    "{} is allowed only in the debug profile (this is `{}`); use 10 or more",
                    self.bcrypt_cost, self.profile
                ),
            ));
        }
        let (idle, absolute) = (self.session_idle_timeout, self.session_absolute_timeout);
        if idle > absolute {
            return Err(ConfigError::new(
                "session_idle_timeout",
                format!("{idle} is longer than session_absolute_timeout ({absolute})"),
            ));
        }
        let revalidate = self.session_revalidate_interval;
        if revalidate > idle {
            return Err(ConfigError::new(
                "session_revalidate_interval",
                format!("{revalidate} is longer than session_idle_timeout ({idle})"),
            ));
        }
        if let Some(domain) = &self.cookie_domain {
            let host = checks::origin_host(&self.public_origin);
            if host != domain && !host.ends_with(&format!(".{domain}")) {
                return Err(ConfigError::new(
                    "cookie_domain",
                    format!(
                        "public_origin's host {host:?} is not within {domain:?}; the cookie would never reach it"
                    ),
                ));
            }
        }
        if self.require_verified_email && self.smtp_url.is_none() {
            return Err(ConfigError::new(
                "require_verified_email",
                "needs smtp_url: without mail nobody could ever verify an address and sign in",
            ));
        }
        Ok(())
    }

    /// Every setting as `(key, value)`, in declaration order, secrets masked: what
    /// `check-config` prints.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        listing::entries(self).expect("Settings serializes as a struct of plain values")
    }

    /// Combinations that work but are unsafe, for `gatehouse check-config` and the start log.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.smtp_url.is_none() {
            w.push("smtp_url is not set: no mail is sent (no address verification, no password reset by mail; `gatehouse user set-password` resets passwords)".into());
        }
        let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| self.public_origin.starts_with(p));
        if self.profile == "release" && !self.secure_cookies {
            w.push("secure_cookies is off in the release profile: session cookies can travel over plain HTTP".into());
        }
        if self.secure_cookies && self.public_origin.starts_with("http://") && !local {
            w.push(format!(
                "secure_cookies is on but public_origin ({}) is plain HTTP: browsers will not send the cookies",
                self.public_origin
            ));
        }
        if !self.secure_cookies && self.public_origin.starts_with("https://") {
            w.push("public_origin is HTTPS but secure_cookies is off".into());
        }
        if self.bcrypt_cost < 10 {
            w.push(format!(
                "bcrypt_cost {} is for tests only; use 12 or more",
                self.bcrypt_cost
            ));
        }
        if self.jwt_algorithm == Alg::HS256 {
            w.push("jwt_algorithm HS256: every app that verifies tokens must hold the secret; prefer EdDSA and the public JWKS".into());
        }
        if self.trusted_proxies.iter().any(|n| n.prefix_len() == 0) {
            w.push(
                "trusted_proxies contains a /0 range: any client can set its own address".into(),
            );
        }
        if !self.access_rules.is_empty() && self.trusted_proxies.is_empty() {
            w.push(
                "access_rules are set but trusted_proxies is empty: forwarding headers are believed only from trusted proxies, so /auth/verify never learns the host and answers 403 to every signed-in user; list your reverse proxy in trusted_proxies".into(),
            );
        }
        w
    }

    /// Cookie names carry the `__Host-` prefix only where the browser will honour it (Secure,
    /// no Domain). A cookie shared with subdomains (`cookie_domain`) is `__Secure-` instead.
    pub fn session_cookie_name(&self) -> &'static str {
        match (self.secure_cookies, self.cookie_domain.is_some()) {
            (true, false) => "__Host-session",
            (true, true) => "__Secure-session",
            (false, _) => "session",
        }
    }

    pub fn csrf_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-csrf"
        } else {
            "csrf"
        }
    }

    /// The longest a token can live: refreshed tokens never outlast their session.
    pub fn idle_timeout(&self, remember: bool) -> i64 {
        if remember {
            self.remember_me_timeout
        } else {
            self.session_idle_timeout
        }
    }

    pub fn absolute_timeout(&self, remember: bool) -> i64 {
        if remember {
            self.remember_me_timeout
        } else {
            self.session_absolute_timeout
        }
    }
}

impl fmt::Display for Settings {
    /// One `key = value` line per setting, keys aligned, secrets masked (see [`Self::entries`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries();
        let width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (i, (key, value)) in entries.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{key:<width$} = {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the declared defaults (no Rocket.toml, no environment), plus `configure`.
    fn settings(
        profile: &str,
        configure: impl FnOnce(Figment) -> Figment,
    ) -> Result<Settings, ConfigError> {
        Settings::from_figment(&configure(Figment::new().select(profile)))
    }

    #[test]
    fn declared_defaults_pass_their_own_checks_in_every_profile() {
        for profile in ["debug", "release", "staging"] {
            let s = settings(profile, |f| f).unwrap();
            assert_eq!(s.profile, profile);
            assert_eq!(s.secure_cookies, profile != "debug", "{profile}");
            let entries = s.entries();
            assert_eq!(entries[0], ("profile", profile.to_string()));
            assert!(entries
                .iter()
                .any(|(k, v)| *k == "cookie_domain" && v == "(unset)"));
        }
        let s = settings("debug", |f| f.merge(("secure_cookies", true))).unwrap();
        assert!(s.secure_cookies, "set beats the profile's default");
    }

    #[test]
    fn the_cookie_domain_must_hold_the_origins_host() {
        let with = |origin: &str, domain: &str| {
            settings("release", |f| {
                f.merge(("public_origin", origin))
                    .merge(("cookie_domain", domain))
            })
        };
        let s = with("https://login.example.com:8443", ".Example.COM").unwrap();
        assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
        assert_eq!(
            with("https://example.com", "example.com")
                .unwrap()
                .cookie_domain
                .as_deref(),
            Some("example.com")
        );
        assert!(with("https://example.com", " ")
            .unwrap()
            .cookie_domain
            .is_none());
        for (origin, domain) in [
            ("https://login.example.com", "other.com"),
            ("https://badexample.com", "example.com"),
            ("http://[::1]:8000", "example.com"),
        ] {
            let e = with(origin, domain).unwrap_err();
            assert_eq!(e.key, "cookie_domain", "{origin} {domain}: {e}");
        }
    }

    #[test]
    fn access_rule_hosts_are_lowercased_and_must_name_someone() {
        let rule = |host: &str, users: &[&str]| {
            settings("debug", |f| {
                f.merge((
                    "access_rules",
                    vec![AccessRule {
                        host: host.into(),
                        users: users.iter().map(|u| u.to_string()).collect(),
                        groups: Vec::new(),
                        require_2fa: false,
                    }],
                ))
            })
        };
        let s = rule(" *.Example.com ", &["erik"]).unwrap();
        assert_eq!(s.access_rules[0].host, "*.example.com");
        for bad in [
            "",
            "*.",
            "a.*.example.com",
            "example.com:443",
            "example.com/x",
        ] {
            assert_eq!(
                rule(bad, &["erik"]).unwrap_err().key,
                "access_rules",
                "{bad}"
            );
        }
        assert_eq!(rule("example.com", &[]).unwrap_err().key, "access_rules");
    }
}
