//! The checks named beside each setting in `config.rs`, and the conversions its serde
//! attributes use. A check may normalise the value in place; its `Err` is the reason shown
//! after ``invalid setting `key`:``.
#![allow(
    clippy::ptr_arg,
    reason = "every check takes `&mut FieldType`, whether or not it normalises"
)]

use std::fmt::Display;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use super::{AccessRule, ConfigError};

/// Ten years: the longest any duration setting may be.
pub(super) const TEN_YEARS: i64 = 10 * 365 * 86400;

/// Runs one field's check; a failure names the field.
pub(super) fn run<T>(
    key: &str,
    value: &mut T,
    check: impl FnOnce(&mut T) -> Result<(), String>,
) -> Result<(), ConfigError> {
    check(value).map_err(|reason| ConfigError::new(key, reason))
}

/// A number in `range`.
pub(super) fn within<T: PartialOrd + Display>(
    range: RangeInclusive<T>,
) -> impl FnOnce(&mut T) -> Result<(), String> {
    move |v| match range.contains(v) {
        true => Ok(()),
        false => Err(format!(
            "{v} is outside {}..={}",
            range.start(),
            range.end()
        )),
    }
}

/// A duration in whole seconds within `range`.
pub(super) fn seconds<T: PartialOrd + Display>(
    range: RangeInclusive<T>,
) -> impl FnOnce(&mut T) -> Result<(), String> {
    move |v| match range.contains(v) {
        true => Ok(()),
        false => Err(format!(
            "{v} must be between {} and {} seconds",
            range.start(),
            range.end()
        )),
    }
}

/// A count of at least `min`.
pub(super) fn at_least<T: PartialOrd + Display>(
    min: T,
) -> impl FnOnce(&mut T) -> Result<(), String> {
    move |v| match *v >= min {
        true => Ok(()),
        false => Err(format!("must be at least {min}")),
    }
}

/// `check` on every element of a list.
pub(super) fn each<T>(
    check: impl Fn(&mut T) -> Result<(), String>,
) -> impl FnOnce(&mut Vec<T>) -> Result<(), String> {
    move |items| items.iter_mut().try_for_each(check)
}

pub(super) fn not_empty(path: &mut PathBuf) -> Result<(), String> {
    match path.as_os_str().is_empty() {
        true => Err("must not be empty".into()),
        false => Ok(()),
    }
}

/// A URL one of the database backends accepts.
pub(super) fn database_url(url: &mut String) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("must not be empty".into());
    }
    crate::db::Backend::from_url(url).map(drop)
}

/// `scheme://host[:port]` with nothing after it; left in its canonical form, which is
/// exactly what browsers send in `Origin`.
pub(super) fn origin(s: &mut String) -> Result<(), String> {
    *s = parse_origin(s)?;
    Ok(())
}

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

/// A registrable-looking domain, lowercased without a leading dot; blank means unset.
/// Whether `public_origin` lies within it is checked once both are known.
pub(super) fn cookie_domain(domain: &mut Option<String>) -> Result<(), String> {
    let Some(d) = domain.as_deref().map(str::trim) else {
        return Ok(());
    };
    if d.is_empty() {
        *domain = None;
        return Ok(());
    }
    let d = d.trim_start_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let valid = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !valid {
        return Err(format!("{d:?} is not a domain like example.com"));
    }
    *domain = Some(d);
    Ok(())
}

/// The host of a canonical origin, without its port.
pub fn origin_host(origin: &str) -> &str {
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => host,
        _ => authority,
    }
}

/// A host name or `*.domain`, lowercased; and someone it lets in.
pub(super) fn access_rule(rule: &mut AccessRule) -> Result<(), String> {
    rule.host = rule.host.trim().to_ascii_lowercase();
    let bare = rule.host.strip_prefix("*.").unwrap_or(&rule.host);
    if bare.is_empty() || bare.contains('*') || bare.contains('/') || bare.contains(':') {
        return Err(format!(
            "host {:?} must be a host name or *.domain",
            rule.host
        ));
    }
    // Proxies send the host in its ASCII (punycode) form: a Unicode rule would never match,
    // silently.
    if !bare
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!(
            "host {:?} must be written in ASCII (letters, digits, '-', '.'; punycode for \
             international names: xn--...)",
            rule.host
        ));
    }
    if rule.users.is_empty() && rule.groups.is_empty() {
        return Err(format!(
            "the rule for {:?} allows nobody: give users or groups",
            rule.host
        ));
    }
    Ok(())
}

/// Addresses and CIDR ranges, read as strings.
pub(super) fn nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| parse_net(s).map_err(D::Error::custom))
        .collect()
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
}

/// Printed as they would be written.
pub(super) fn net_strings<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(nets.iter().map(ToString::to_string))
}

/// Printed with any password replaced.
pub(super) fn masked_url<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::db::mask_url(url))
}

pub(super) fn masked_optional_url<S: Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => masked_url(url, s),
        None => s.serialize_none(),
    }
}

/// `smtp://HOST[:PORT]`, `smtp+starttls://[USER:PASS@]HOST[:PORT]` or
/// `smtps://[USER:PASS@]HOST[:PORT]`; blank means unset.
pub(super) fn smtp_url(url: &mut Option<String>) -> Result<(), String> {
    let Some(u) = url.as_deref().map(str::trim) else {
        return Ok(());
    };
    if u.is_empty() {
        *url = None;
        return Ok(());
    }
    let bad = || {
        format!("{:?} is not smtp://HOST:PORT, smtp+starttls://USER:PASS@HOST:587 or smtps://USER:PASS@HOST:465", crate::db::mask_url(u))
    };
    let (scheme, rest) = u.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "smtp" | "smtp+starttls" | "smtps") {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if !port.contains(']') => {
            port.parse::<u16>().map_err(|_| bad())?;
            h
        }
        _ => host_port,
    };
    if host.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    *url = Some(u.to_string());
    Ok(())
}

/// A From address like `gatehouse <no-reply@example.com>`; blank means unset.
pub(super) fn mailbox(from: &mut Option<String>) -> Result<(), String> {
    let Some(f) = from.as_deref().map(str::trim) else {
        return Ok(());
    };
    if f.is_empty() {
        *from = None;
        return Ok(());
    }
    f.parse::<lettre::message::Mailbox>().map_err(|e| {
        format!("{f:?} is not an address like `gatehouse <no-reply@example.com>`: {e}")
    })?;
    *from = Some(f.to_string());
    Ok(())
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
    fn origin_hosts_drop_the_port() {
        assert_eq!(
            origin_host("https://login.example.com"),
            "login.example.com"
        );
        assert_eq!(origin_host("http://127.0.0.1:8000"), "127.0.0.1");
        assert_eq!(origin_host("http://[::1]:8000"), "[::1]");
        assert_eq!(origin_host("http://[::1]"), "[::1]");
    }

    #[test]
    fn proxies_accept_addresses_and_ranges() {
        assert!(parse_net("10.0.0.0/8")
            .unwrap()
            .contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        assert!(parse_net("::1").is_ok());
        assert!(parse_net("nonsense").is_err());
    }

    #[test]
    fn range_checks_say_what_is_allowed() {
        let mut v = 0u32;
        assert_eq!(within(1..=5)(&mut v), Err("0 is outside 1..=5".into()));
        assert_eq!(
            seconds(1..=300)(&mut 301i64),
            Err("301 must be between 1 and 300 seconds".into())
        );
        assert!(at_least(1u32)(&mut 1).is_ok());
        assert_eq!(at_least(1u32)(&mut 0), Err("must be at least 1".into()));
    }
}
