//! Typed settings, read from `Rocket.toml` / `ROCKET_*` / `DATABASE_URL` and checked once at
//! start. A bad value stops the start with one line that names the key.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use figment::providers::Env;
use figment::Figment;
use ipnet::IpNet;
use serde::Deserialize;

use crate::auth::keys::Alg;

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

/// What the file and environment may say; `Settings` is what is left after checking it.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct Raw {
    database_url: String,
    data_dir: PathBuf,
    public_origin: String,
    secure_cookies: Option<bool>,
    bcrypt_cost: u32,
    jwt_algorithm: String,
    session_idle_timeout: u64,
    session_absolute_timeout: u64,
    remember_me_timeout: u64,
    session_revalidate_interval: u64,
    login_max_failures: u32,
    login_failure_window: u64,
    login_ban_time: u64,
    login_ip_max_failures: u32,
    throttle_ipv6_prefix: u32,
    trusted_proxies: Vec<String>,
    max_sessions_per_user: u32,
    register_ip_max: u32,
    register_window: u64,
    bcrypt_max_queue: usize,
    bcrypt_nice: i32,
    db_pool_size: u32,
    db_connect_timeout: u64,
    template_dir: PathBuf,
    cookie_domain: Option<String>,
    access_rules: Vec<AccessRule>,
    request_header_timeout: u64,
    request_body_timeout: u64,
    max_connections: u64,
    audit_retention: u64,
}

/// One forward-auth rule: who may reach hosts matching `host` (`app.example.com` or
/// `*.example.com`). When any rule exists, hosts no rule matches are denied.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    pub host: String,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
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

impl Default for Raw {
    fn default() -> Self {
        Raw {
            database_url: "sqlite://data/gatehouse.db".into(),
            data_dir: "data".into(),
            public_origin: "http://127.0.0.1:8000".into(),
            secure_cookies: None,
            bcrypt_cost: 12,
            jwt_algorithm: "EdDSA".into(),
            session_idle_timeout: 1800,
            session_absolute_timeout: 43200,
            remember_me_timeout: 2_592_000,
            session_revalidate_interval: 60,
            login_max_failures: 5,
            login_failure_window: 300,
            login_ban_time: 300,
            login_ip_max_failures: 30,
            throttle_ipv6_prefix: 64,
            trusted_proxies: Vec::new(),
            max_sessions_per_user: 20,
            register_ip_max: 20,
            register_window: 3600,
            bcrypt_max_queue: 64,
            // Measured (docs/PERFORMANCE.md): the bcrypt pool's size (one thread per core)
            // already bounds its share; on 2 cores under a sign-in flood, 0 keeps about half
            // of both the pages' throughput and the bcrypt bound, higher values favour pages.
            bcrypt_nice: 0,
            db_pool_size: 8,
            db_connect_timeout: 5,
            template_dir: "templates".into(),
            cookie_domain: None,
            access_rules: Vec::new(),
            request_header_timeout: 10,
            request_body_timeout: 10,
            max_connections: 1024,
            audit_retention: DEFAULT_AUDIT_RETENTION,
        }
    }
}

/// 400 days: a year of history plus a month to notice and investigate.
const DEFAULT_AUDIT_RETENTION: u64 = 400 * 86400;

/// The validated, effective settings. Cheap to share (`Arc<Settings>` lives in managed state).
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub public_origin: String,
    pub secure_cookies: bool,
    pub bcrypt_cost: u32,
    pub jwt_algorithm: Alg,
    pub session_idle_timeout: i64,
    pub session_absolute_timeout: i64,
    pub remember_me_timeout: i64,
    pub session_revalidate_interval: i64,
    pub login_max_failures: u32,
    pub login_failure_window: i64,
    pub login_ban_time: i64,
    pub login_ip_max_failures: u32,
    /// IPv6 clients are throttled by their network of this many bits (see
    /// `throttle::address_key`).
    pub throttle_ipv6_prefix: u8,
    pub trusted_proxies: Vec<IpNet>,
    pub max_sessions_per_user: u32,
    pub register_ip_max: u32,
    pub register_window: i64,
    pub bcrypt_max_queue: usize,
    pub bcrypt_nice: i32,
    pub db_pool_size: u32,
    pub db_connect_timeout: u64,
    pub template_dir: PathBuf,
    /// Share the session with subdomains (forward-auth across hosts). `None`: a host-only
    /// `__Host-` cookie.
    pub cookie_domain: Option<String>,
    pub access_rules: Vec<AccessRule>,
    /// Seconds a client has to send a request's head; also how long an idle keep-alive
    /// connection stays open. Read by the (patched) Rocket server from the same figment.
    pub request_header_timeout: u64,
    /// Seconds a client has to send a form's body once its head arrived.
    pub request_body_timeout: u64,
    /// Most connections served at once; see `web::connections`.
    pub max_connections: u64,
    /// Audit events older than this are deleted by upkeep.
    pub audit_retention: i64,
}

/// The figment every entry point reads: Rocket's own (Rocket.toml, `ROCKET_*`, profiles)
/// plus the Diesel convention `DATABASE_URL`.
pub fn figment() -> Figment {
    rocket::Config::figment().merge(Env::raw().only(&["database_url"]))
}

impl Settings {
    pub fn from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
        let profile = figment.profile().as_str().to_string();
        let raw: Raw = figment.extract().map_err(|e| {
            let key = e
                .path
                .last()
                .cloned()
                .unwrap_or_else(|| "(configuration)".into());
            ConfigError::new(&key, e.kind.to_string())
        })?;
        let debug = profile == "debug";

        let public_origin =
            parse_origin(&raw.public_origin).map_err(|r| ConfigError::new("public_origin", r))?;
        if raw.database_url.trim().is_empty() {
            return Err(ConfigError::new("database_url", "must not be empty"));
        }
        crate::db::Backend::from_url(&raw.database_url)
            .map_err(|r| ConfigError::new("database_url", r))?;
        if raw.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "must not be empty"));
        }
        if !(4..=31).contains(&raw.bcrypt_cost) {
            return Err(ConfigError::new(
                "bcrypt_cost",
                format!("{} is outside bcrypt's range 4..=31", raw.bcrypt_cost),
            ));
        }
        if raw.bcrypt_cost < 10 && !debug {
            return Err(ConfigError::new(
                "bcrypt_cost",
                format!(
                    "{} is allowed only in the debug profile (this is `{profile}`); use 10 or more",
                    raw.bcrypt_cost
                ),
            ));
        }
        let jwt_algorithm: Alg = raw
            .jwt_algorithm
            .parse()
            .map_err(|r: String| ConfigError::new("jwt_algorithm", r))?;

        let positive = |key: &str, v: u64| -> Result<i64, ConfigError> {
            if v == 0 || v > 10 * 365 * 86400 {
                Err(ConfigError::new(
                    key,
                    format!("{v} must be between 1 and 315360000 seconds"),
                ))
            } else {
                Ok(v as i64)
            }
        };
        let idle = positive("session_idle_timeout", raw.session_idle_timeout)?;
        let absolute = positive("session_absolute_timeout", raw.session_absolute_timeout)?;
        let remember = positive("remember_me_timeout", raw.remember_me_timeout)?;
        let revalidate = positive(
            "session_revalidate_interval",
            raw.session_revalidate_interval,
        )?;
        let window = positive("login_failure_window", raw.login_failure_window)?;
        let ban = positive("login_ban_time", raw.login_ban_time)?;
        let register_window = positive("register_window", raw.register_window)?;
        if raw.register_ip_max == 0 {
            return Err(ConfigError::new("register_ip_max", "must be at least 1"));
        }
        if idle > absolute {
            return Err(ConfigError::new(
                "session_idle_timeout",
                format!("{idle} is longer than session_absolute_timeout ({absolute})"),
            ));
        }
        if revalidate > idle {
            return Err(ConfigError::new(
                "session_revalidate_interval",
                format!("{revalidate} is longer than session_idle_timeout ({idle})"),
            ));
        }
        if raw.login_max_failures == 0 {
            return Err(ConfigError::new("login_max_failures", "must be at least 1"));
        }
        if raw.login_ip_max_failures == 0 {
            return Err(ConfigError::new(
                "login_ip_max_failures",
                "must be at least 1",
            ));
        }
        let throttle_ipv6_prefix = u8::try_from(raw.throttle_ipv6_prefix)
            .ok()
            .filter(|p| (1..=128).contains(p))
            .ok_or_else(|| {
                ConfigError::new(
                    "throttle_ipv6_prefix",
                    format!(
                        "{} is outside 1..=128 (bits of an IPv6 address; 64 is one subscriber)",
                        raw.throttle_ipv6_prefix
                    ),
                )
            })?;
        if raw.max_sessions_per_user == 0 {
            return Err(ConfigError::new(
                "max_sessions_per_user",
                "must be at least 1",
            ));
        }
        if raw.db_pool_size == 0 || raw.db_pool_size > 1024 {
            return Err(ConfigError::new(
                "db_pool_size",
                "must be between 1 and 1024",
            ));
        }
        if raw.db_connect_timeout == 0 {
            return Err(ConfigError::new("db_connect_timeout", "must be at least 1"));
        }
        let cookie_domain = match raw.cookie_domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(
                parse_cookie_domain(d, &public_origin)
                    .map_err(|r| ConfigError::new("cookie_domain", r))?,
            ),
        };
        let mut access_rules = raw.access_rules;
        for rule in &mut access_rules {
            rule.host = rule.host.trim().to_ascii_lowercase();
            let bare = rule.host.strip_prefix("*.").unwrap_or(&rule.host);
            if bare.is_empty() || bare.contains('*') || bare.contains('/') || bare.contains(':') {
                return Err(ConfigError::new(
                    "access_rules",
                    format!("host {:?} must be a host name or *.domain", rule.host),
                ));
            }
            if rule.users.is_empty() && rule.groups.is_empty() {
                return Err(ConfigError::new(
                    "access_rules",
                    format!(
                        "the rule for {:?} allows nobody: give users or groups",
                        rule.host
                    ),
                ));
            }
        }
        if !(0..=19).contains(&raw.bcrypt_nice) {
            return Err(ConfigError::new(
                "bcrypt_nice",
                format!("{} is outside 0..=19", raw.bcrypt_nice),
            ));
        }
        let request_header_timeout =
            positive("request_header_timeout", raw.request_header_timeout)?;
        if request_header_timeout > 300 {
            return Err(ConfigError::new(
                "request_header_timeout",
                format!("{request_header_timeout} is over 300 seconds: slow clients would hold connections"),
            ));
        }
        let request_body_timeout = positive("request_body_timeout", raw.request_body_timeout)?;
        if request_body_timeout > 300 {
            return Err(ConfigError::new(
                "request_body_timeout",
                format!("{request_body_timeout} is over 300 seconds: slow clients would hold connections"),
            ));
        }
        if !(16..=1_000_000).contains(&raw.max_connections) {
            return Err(ConfigError::new(
                "max_connections",
                format!("{} is outside 16..=1000000", raw.max_connections),
            ));
        }
        // At least a day, so an investigation never finds yesterday's trail already gone.
        if !(86400..=315_360_000).contains(&raw.audit_retention) {
            return Err(ConfigError::new(
                "audit_retention",
                format!(
                    "{} must be between 86400 (a day) and 315360000 seconds",
                    raw.audit_retention
                ),
            ));
        }
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|p| parse_net(p).map_err(|r| ConfigError::new("trusted_proxies", r)))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Settings {
            secure_cookies: raw.secure_cookies.unwrap_or(!debug),
            profile,
            database_url: raw.database_url,
            data_dir: raw.data_dir,
            public_origin,
            bcrypt_cost: raw.bcrypt_cost,
            jwt_algorithm,
            session_idle_timeout: idle,
            session_absolute_timeout: absolute,
            remember_me_timeout: remember,
            session_revalidate_interval: revalidate,
            login_max_failures: raw.login_max_failures,
            login_failure_window: window,
            login_ban_time: ban,
            login_ip_max_failures: raw.login_ip_max_failures,
            throttle_ipv6_prefix,
            trusted_proxies,
            max_sessions_per_user: raw.max_sessions_per_user,
            register_ip_max: raw.register_ip_max,
            register_window,
            bcrypt_max_queue: raw.bcrypt_max_queue,
            bcrypt_nice: raw.bcrypt_nice,
            db_pool_size: raw.db_pool_size,
            db_connect_timeout: raw.db_connect_timeout,
            template_dir: raw.template_dir,
            cookie_domain,
            access_rules,
            request_header_timeout: request_header_timeout as u64,
            request_body_timeout: request_body_timeout as u64,
            max_connections: raw.max_connections,
            audit_retention: raw.audit_retention as i64,
        })
    }

    /// Combinations that work but are unsafe, for `gatehouse check-config` and the start log.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
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
    /// The effective settings, for `check-config` and the start log; nothing here is secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "profile                     = {}", self.profile)?;
        writeln!(
            f,
            "database_url                = {}",
            crate::db::mask_url(&self.database_url)
        )?;
        writeln!(
            f,
            "data_dir                    = {}",
            self.data_dir.display()
        )?;
        writeln!(f, "public_origin               = {}", self.public_origin)?;
        writeln!(f, "secure_cookies              = {}", self.secure_cookies)?;
        writeln!(f, "bcrypt_cost                 = {}", self.bcrypt_cost)?;
        writeln!(f, "jwt_algorithm               = {}", self.jwt_algorithm)?;
        writeln!(
            f,
            "session_idle_timeout        = {}",
            self.session_idle_timeout
        )?;
        writeln!(
            f,
            "session_absolute_timeout    = {}",
            self.session_absolute_timeout
        )?;
        writeln!(
            f,
            "remember_me_timeout         = {}",
            self.remember_me_timeout
        )?;
        writeln!(
            f,
            "session_revalidate_interval = {}",
            self.session_revalidate_interval
        )?;
        writeln!(
            f,
            "login_max_failures          = {}",
            self.login_max_failures
        )?;
        writeln!(
            f,
            "login_failure_window        = {}",
            self.login_failure_window
        )?;
        writeln!(f, "login_ban_time              = {}", self.login_ban_time)?;
        writeln!(
            f,
            "login_ip_max_failures       = {}",
            self.login_ip_max_failures
        )?;
        writeln!(
            f,
            "throttle_ipv6_prefix        = {}",
            self.throttle_ipv6_prefix
        )?;
        let proxies: Vec<String> = self.trusted_proxies.iter().map(|p| p.to_string()).collect();
        writeln!(f, "trusted_proxies             = {:?}", proxies)?;
        writeln!(
            f,
            "max_sessions_per_user       = {}",
            self.max_sessions_per_user
        )?;
        writeln!(f, "register_ip_max             = {}", self.register_ip_max)?;
        writeln!(f, "register_window             = {}", self.register_window)?;
        writeln!(f, "bcrypt_max_queue            = {}", self.bcrypt_max_queue)?;
        writeln!(f, "bcrypt_nice                 = {}", self.bcrypt_nice)?;
        writeln!(f, "db_pool_size                = {}", self.db_pool_size)?;
        writeln!(
            f,
            "db_connect_timeout          = {}",
            self.db_connect_timeout
        )?;
        writeln!(
            f,
            "request_header_timeout      = {}",
            self.request_header_timeout
        )?;
        writeln!(
            f,
            "request_body_timeout        = {}",
            self.request_body_timeout
        )?;
        writeln!(f, "max_connections             = {}", self.max_connections)?;
        write!(f, "audit_retention             = {}", self.audit_retention)
    }
}

/// `scheme://host[:port]` with nothing after it; returned in its canonical form, which is
/// exactly what browsers send in `Origin`.
fn parse_origin(s: &str) -> Result<String, String> {
    let bad = || format!("{s:?} is not an origin like https://login.example.com");
    let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty()
        || rest.chars().any(|c| {
            matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace() || c.is_control()
        })
    {
        return Err(bad());
    }
    let rest = rest.to_ascii_lowercase();
    // An IPv6 host ends in `]`, so a last `:` whose tail holds `]` is not a port separator.
    let host_port = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.is_empty() {
                return Err(bad());
            }
            let default = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
            if default {
                host.to_string()
            } else {
                format!("{host}:{port}")
            }
        }
        _ => rest,
    };
    Ok(format!("{scheme}://{host_port}"))
}

/// A registrable-looking domain that `public_origin`'s host is part of; returned lowercased
/// without a leading dot.
fn parse_cookie_domain(d: &str, public_origin: &str) -> Result<String, String> {
    let d = d.trim_start_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let valid = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !valid {
        return Err(format!("{d:?} is not a domain like example.com"));
    }
    let host = public_origin
        .split_once("://")
        .map(|(_, h)| h.split(':').next().unwrap_or(h))
        .unwrap_or("");
    if host != d && !host.ends_with(&format!(".{d}")) {
        return Err(format!(
            "public_origin's host {host:?} is not within {d:?}; the cookie would never reach it"
        ));
    }
    Ok(d)
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_canonical() {
        assert_eq!(
            parse_origin("HTTPS://Login.Example.com/").unwrap(),
            "https://login.example.com"
        );
        assert_eq!(
            parse_origin("https://a.example:443").unwrap(),
            "https://a.example"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8000").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            parse_origin("http://[::1]:8000").unwrap(),
            "http://[::1]:8000"
        );
        for bad in [
            "example.com",
            "ftp://x",
            "https://",
            "https://x/path",
            "https://x?q",
            "https://u@x",
            "https://x:99999",
            "https://x:abc",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn proxies_accept_addresses_and_ranges() {
        assert!(parse_net("10.0.0.0/8")
            .unwrap()
            .contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        assert!(parse_net("::1").is_ok());
        assert!(parse_net("nonsense").is_err());
    }
}
