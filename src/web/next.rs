//! Post-login redirect targets (SECURITY-BAR LG-7): same-origin paths only. Anything that a
//! browser could read as another origin (`//evil`, `/\evil`, `https:evil`, `javascript:`,
//! encoded or tab-split variants of those) falls back to the dashboard. With `cookie_domain`
//! set, absolute `http(s)` URLs to hosts within that domain are allowed too (forward-auth
//! sends people back to the app they came from), and nothing else.

use rocket::http::uri::{Absolute, Origin};
use rocket::http::RawStr;

use crate::config::Settings;

/// Where sign-in may send people back to.
pub fn sanitize_for(settings: &Settings, next: Option<&str>) -> String {
    let Some(next) = next else {
        return DEFAULT.to_string();
    };
    if is_safe(next) {
        return next.to_string();
    }
    absolute_target(settings, next).unwrap_or_else(|| DEFAULT.to_string())
}

/// An absolute URL allowed as a target: our own origin (kept as a path), or a host within
/// `cookie_domain` (https only when cookies are Secure).
fn absolute_target(settings: &Settings, next: &str) -> Option<String> {
    if next.len() > MAX_LEN
        || next
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return None;
    }
    let uri = Absolute::parse(next).ok()?;
    let scheme = uri.scheme().to_ascii_lowercase();
    let authority = uri.authority()?;
    if authority.user_info().is_some() || !(scheme == "https" || scheme == "http") {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    // Browsers decode `%` in a host before resolving it: only plain host names are targets.
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'))
    {
        return None;
    }
    let path = uri.path().as_str();
    let path_and_query = match uri.query() {
        Some(q) => format!(
            "{}?{}",
            if path.is_empty() { "/" } else { path },
            q.as_str()
        ),
        None => {
            if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            }
        }
    };
    if !is_safe(&path_and_query) {
        return None;
    }
    let origin = match authority.port() {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    if origin == settings.public_origin {
        return Some(path_and_query);
    }
    let domain = settings.cookie_domain.as_deref()?;
    let within = host == domain || host.ends_with(&format!(".{domain}"));
    let scheme_ok = scheme == "https" || !settings.secure_cookies;
    (within && scheme_ok).then(|| format!("{origin}{path_and_query}"))
}

pub const DEFAULT: &str = "/dashboard";
const MAX_LEN: usize = 2048;

/// `next` if it is a plain same-origin path (with optional query), else [`DEFAULT`]: for
/// redirects that never leave this site, whatever `cookie_domain` allows sign-in to do.
pub fn sanitize(next: Option<&str>) -> String {
    match next {
        Some(n) if is_safe(n) => n.to_string(),
        _ => DEFAULT.to_string(),
    }
}

fn is_safe(next: &str) -> bool {
    if next.is_empty() || next.len() > MAX_LEN {
        return false;
    }
    // Check the raw text and its percent-decoded form: a browser or a proxy may decode once.
    if next.chars().any(char::is_whitespace) || !looks_like_local_path(next) {
        return false;
    }
    let decoded = RawStr::new(next).percent_decode_lossy();
    // A second decoding guards against double-encoded `%252F%252F` tricks.
    let twice = RawStr::new(decoded.as_ref()).percent_decode_lossy();
    looks_like_local_path(&decoded) && looks_like_local_path(&twice) && Origin::parse(next).is_ok()
}

fn looks_like_local_path(s: &str) -> bool {
    let mut chars = s.chars();
    if chars.next() != Some('/') {
        return false;
    }
    if matches!(chars.next(), Some('/' | '\\')) {
        return false;
    }
    // Browsers strip tabs and newlines from URLs and treat `\` as `/`: refuse them anywhere.
    !s.chars()
        .any(|c| c == '\\' || c.is_control() || c == '\u{FFFD}')
}

/// Percent-encodes a target for use as a query value (`/login?next=...`): everything but
/// RFC 3986's unreserved characters.
pub fn encode(target: &str) -> String {
    let mut out = String::with_capacity(target.len() * 3);
    for b in target.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass() {
        for ok in ["/dashboard", "/account", "/account/sessions?x=1", "/a%20b"] {
            assert_eq!(sanitize(Some(ok)), ok, "{ok}");
        }
    }

    #[test]
    fn anything_else_falls_back() {
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "/%2F%2Fevil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%252F%252Fevil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/evil.example",
            " /dashboard",
            "evil.example",
            "/foo\\bar",
            "/%E0%A4%A",
        ] {
            assert_eq!(sanitize(Some(bad)), DEFAULT, "{bad:?} was accepted");
        }
        assert_eq!(sanitize(None), DEFAULT);
        assert_eq!(sanitize(Some(&format!("/{}", "a".repeat(3000)))), DEFAULT);
    }

    #[test]
    fn encoding_round_trips_through_a_query() {
        assert_eq!(encode("/dashboard"), "%2Fdashboard");
        assert_eq!(encode("/a?b=c&d"), "%2Fa%3Fb%3Dc%26d");
    }
}
