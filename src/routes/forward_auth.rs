//! Forward-auth for reverse proxies (nginx `auth_request`, Traefik and Caddy forward_auth):
//! 200 with `Remote-*` headers when the session cookie is good, 401 with a `Location` to the
//! sign-in page when it is not (302 with `?redirect=true`), 403 when the access rules do not
//! let this user at this host, or when the proxy's forwarding headers cannot be believed.

use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route, State};

use crate::app::App;
use crate::config::{AccessRule, Settings};
use crate::error::AppError;
use crate::service::profiles;
use crate::web::guard::AuthUser;
use crate::web::next;

/// The headers gatehouse reads to learn which request a proxy is asking about. Each proxy
/// overwrites the ones it sets and passes the client's others through unchanged, so none of
/// them may be believed just because it is there.
const ORIGINAL_URL: &str = "X-Original-URL";
const FORWARDED_HOST: &str = "X-Forwarded-Host";
const FORWARDED_PROTO: &str = "X-Forwarded-Proto";
const FORWARDED_URI: &str = "X-Forwarded-Uri";

/// The request the proxy is asking about.
#[derive(Debug, PartialEq, Eq)]
pub enum Original {
    /// A trusted proxy named it.
    Known {
        /// The full URL, for the way back after sign-in.
        url: String,
        /// Lowercase, without port: what `access_rules` are matched against.
        host: String,
    },
    /// Nobody we trust said (no forwarding headers, or they came from a peer that is not one
    /// of `trusted_proxies`): no host, so access rules deny, and sign-in has no way back.
    Unknown,
    /// The headers contradict each other or are malformed: some of them were not set by the
    /// proxy, and nothing here tells which. Never a 200.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A forwarding header came more than once: a proxy that sets one sends it once.
    Repeated(&'static str),
    /// Not a host (a list, userinfo, a path, ...), or a scheme other than http(s).
    Malformed(&'static str),
    /// `X-Forwarded-Host` and `X-Original-URL` name different hosts.
    Conflict,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Repeated(h) => write!(f, "{h} is repeated"),
            Refusal::Malformed(h) => write!(f, "{h} is malformed"),
            Refusal::Conflict => write!(f, "{FORWARDED_HOST} and {ORIGINAL_URL} disagree"),
        }
    }
}

/// The forwarding headers as they arrived, every occurrence of each.
#[derive(Default)]
pub struct Forwarded<'a> {
    pub original_url: Vec<&'a str>,
    pub host: Vec<&'a str>,
    pub proto: Vec<&'a str>,
    pub uri: Vec<&'a str>,
}

impl Forwarded<'_> {
    /// Which request a trusted proxy asks about. One precedence for every proxy, which a
    /// header the proxy did not set cannot override:
    ///
    /// - the `X-Forwarded-Host`/`-Proto`/`-Uri` set is the source whenever `X-Forwarded-Host`
    ///   is present (Traefik and Caddy always overwrite it, the documented nginx block sets
    ///   it from its own server name);
    /// - `X-Original-URL` only without `X-Forwarded-Host` (nginx blocks from older docs);
    /// - both present and naming different hosts: refused. One of them came from the client
    ///   (through Traefik or Caddy, a client's `X-Original-URL`; through an older nginx
    ///   block, a client's `X-Forwarded-Host`), and gatehouse cannot tell which;
    /// - any of them repeated, or a host that is a list or not a host: refused.
    pub fn judge(&self) -> Original {
        match self.target() {
            Ok(Some((url, host))) => Original::Known { url, host },
            Ok(None) => Original::Unknown,
            Err(r) => Original::Refused(r),
        }
    }

    fn target(&self) -> Result<Option<(String, String)>, Refusal> {
        let original_url = single(&self.original_url, ORIGINAL_URL)?;
        let forwarded_host = single(&self.host, FORWARDED_HOST)?;
        let proto = single(&self.proto, FORWARDED_PROTO)?;
        let uri = single(&self.uri, FORWARDED_URI)?;
        let url_authority = original_url
            .map(|u| authority_of(u).ok_or(Refusal::Malformed(ORIGINAL_URL)))
            .transpose()?;
        let Some(authority) = forwarded_host else {
            return Ok(original_url
                .zip(url_authority)
                .map(|(url, authority)| (url.to_string(), host_of(authority))));
        };
        if !is_authority(authority) {
            return Err(Refusal::Malformed(FORWARDED_HOST));
        }
        let host = host_of(authority);
        if url_authority.is_some_and(|other| host_of(other) != host) {
            return Err(Refusal::Conflict);
        }
        let scheme = match proto.map(str::to_ascii_lowercase).as_deref() {
            // Traefik and Caddy always send it; without it, assume what production uses.
            None | Some("https") => "https",
            Some("http") => "http",
            Some(_) => return Err(Refusal::Malformed(FORWARDED_PROTO)),
        };
        let uri = uri.unwrap_or("/");
        Ok(Some((format!("{scheme}://{authority}{uri}"), host)))
    }
}

fn single<'a>(values: &[&'a str], name: &'static str) -> Result<Option<&'a str>, Refusal> {
    match values {
        [] => Ok(None),
        [one] => Ok(Some(one.trim())),
        _ => Err(Refusal::Repeated(name)),
    }
}

/// `http(s)://AUTHORITY...` -> AUTHORITY. Only the authority is checked here; the whole URL
/// goes through the sign-in redirect checks before it is ever used.
fn authority_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    is_authority(authority).then_some(authority)
}

/// `host` or `host:port` (IPv6 in brackets), nothing else: no userinfo, no list, no path.
fn is_authority(s: &str) -> bool {
    let (host, port) = match s.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, rest)) => {
                if addr.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                (None, rest)
            }
            None => return false,
        },
        None => {
            let (h, p) = s.split_at(s.find(':').unwrap_or(s.len()));
            (Some(h), p)
        }
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.len() <= 253
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    });
    let port_ok = match port.strip_prefix(':') {
        Some(p) => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    host_ok && port_ok
}

/// What rules match: lowercase, no port, and no DNS root dot (`app.example.com.` is the same
/// name, and proxies may choose a site by either spelling).
fn host_of(authority: &str) -> String {
    let host = strip_port(authority);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 1]);
    }
    host.split(':').next().unwrap_or(host)
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Original {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        if !crate::web::client_ip::from_trusted_proxy(req) {
            // A client talking to us directly says what it likes; only our proxies' word
            // counts, as for X-Forwarded-For.
            return rocket::request::Outcome::Success(Original::Unknown);
        }
        let h = req.headers();
        let forwarded = Forwarded {
            original_url: h.get(ORIGINAL_URL).collect(),
            host: h.get(FORWARDED_HOST).collect(),
            proto: h.get(FORWARDED_PROTO).collect(),
            uri: h.get(FORWARDED_URI).collect(),
        };
        rocket::request::Outcome::Success(forwarded.judge())
    }
}

/// Whether `user` may reach `host`. No rules: everyone signed in. Rules: the first rule
/// whose host matches decides (and with `require_2fa`, only a session started with a second
/// factor passes); a host no rule matches is denied.
pub fn allowed(
    rules: &[AccessRule],
    host: Option<&str>,
    username: &str,
    groups: &[String],
    multi_factor: bool,
) -> bool {
    if rules.is_empty() {
        return true;
    }
    let Some(host) = host else {
        return false;
    };
    let key = crate::validate::username_key(username);
    match rules.iter().find(|r| r.matches_host(host)) {
        Some(rule) => {
            (multi_factor || !rule.require_2fa)
                && (rule
                    .users
                    .iter()
                    .any(|u| crate::validate::username_key(u) == key)
                    || rule.groups.iter().any(|g| groups.contains(g)))
        }
        None => false,
    }
}

pub enum Verdict {
    Allowed {
        username: String,
        email: String,
        email_verified: bool,
        groups: Vec<String>,
        /// How the session's user signed in (RFC 8176 values, comma-separated).
        amr: String,
    },
    /// To the sign-in page: a 401 with `Location` (nginx's `auth_request` accepts only 2xx,
    /// 401 and 403 and redirects by itself), or, for proxies that hand gatehouse's answer to
    /// the browser as it is (Traefik, Caddy), a 302 the browser follows.
    SignIn {
        location: String,
        redirect: bool,
    },
    Forbidden,
}

impl<'r> Responder<'r, 'static> for Verdict {
    fn respond_to(self, _req: &'r Request<'_>) -> response::Result<'static> {
        let mut r = Response::build();
        match self {
            Verdict::Allowed {
                username,
                email,
                email_verified,
                groups,
                amr,
            } => r
                .status(Status::Ok)
                .header(Header::new("Remote-User", username.clone()))
                .header(Header::new("Remote-Name", username))
                .header(Header::new("Remote-Email", email))
                // An address nobody has proven is only what the user typed: an app that
                // matches accounts by email must check this first.
                .header(Header::new(
                    "Remote-Email-Verified",
                    if email_verified { "true" } else { "false" },
                ))
                .header(Header::new("Remote-Groups", groups.join(",")))
                // `pwd`, or `pwd,otp,mfa` after a second factor: an app can ask for more.
                .header(Header::new("Remote-Amr", amr)),
            Verdict::SignIn { location, redirect } => r
                .status(if redirect {
                    Status::Found
                } else {
                    Status::Unauthorized
                })
                .header(Header::new("Location", location)),
            Verdict::Forbidden => r.status(Status::Forbidden),
        };
        r.ok()
    }
}

fn login_location(settings: &Settings, original: &Original) -> String {
    let login = format!("{}/login", settings.public_origin);
    let url = match original {
        Original::Known { url, .. } => Some(url.as_str()),
        Original::Unknown | Original::Refused(_) => None,
    };
    let target = next::sanitize_for(settings, url);
    if target == next::DEFAULT {
        login
    } else {
        format!("{login}?next={}", next::encode(&target))
    }
}

#[get("/auth/verify?<redirect>")]
async fn verify(
    redirect: Option<bool>,
    app: &State<App>,
    user: Result<AuthUser, AppError>,
    original: Original,
) -> Result<Verdict, AppError> {
    if let Original::Refused(why) = &original {
        // 403 rather than 400: nginx's auth_request turns any status but 2xx, 401 and 403
        // into a 500 for the visitor.
        log::warn!("forward-auth request refused: {why}");
        return Ok(Verdict::Forbidden);
    }
    let sign_in = || Verdict::SignIn {
        location: login_location(&app.settings, &original),
        redirect: redirect == Some(true),
    };
    let user = match user {
        Ok(u) => u,
        Err(AppError::Unauthorized) => return Ok(sign_in()),
        Err(e) => return Err(e),
    };
    let Some(profile) = profiles::profile(app, user.user_id()).await? else {
        return Ok(sign_in());
    };
    let host = match &original {
        Original::Known { host, .. } => Some(host.as_str()),
        Original::Unknown | Original::Refused(_) => None,
    };
    if !allowed(
        &app.settings.access_rules,
        host,
        &profile.username,
        &profile.groups,
        user.claims.multi_factor(),
    ) {
        return Ok(Verdict::Forbidden);
    }
    let amr = if user.claims.amr.is_empty() {
        crate::auth::token::amr::PASSWORD.to_string()
    } else {
        user.claims.amr.join(",")
    };
    Ok(Verdict::Allowed {
        username: profile.username.clone(),
        email: profile.email.clone(),
        email_verified: profile.email_verified,
        groups: profile.groups.clone(),
        amr,
    })
}

pub fn routes() -> Vec<Route> {
    routes![verify]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(host: &str, users: &[&str], groups: &[&str]) -> AccessRule {
        AccessRule {
            host: host.into(),
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            require_2fa: false,
        }
    }

    #[test]
    fn require_2fa_lets_only_second_factor_sessions_through() {
        let mut strict = rule("admin.example.com", &["alice"], &[]);
        strict.require_2fa = true;
        let rules = vec![strict, rule("wiki.example.com", &["alice"], &[])];
        assert!(!allowed(
            &rules,
            Some("admin.example.com"),
            "alice",
            &[],
            false
        ));
        assert!(allowed(
            &rules,
            Some("admin.example.com"),
            "alice",
            &[],
            true
        ));
        assert!(!allowed(
            &rules,
            Some("admin.example.com"),
            "bob",
            &[],
            true
        ));
        assert!(allowed(
            &rules,
            Some("wiki.example.com"),
            "alice",
            &[],
            false
        ));
    }

    #[test]
    fn rules_deny_by_default() {
        let rules = vec![
            rule("admin.example.com", &["Alice"], &[]),
            rule("*.example.com", &[], &["staff"]),
        ];
        let staff = vec!["staff".to_string()];
        assert!(allowed(&[], Some("anything"), "bob", &[], false));
        assert!(allowed(
            &rules,
            Some("admin.example.com"),
            "alice",
            &[],
            false
        ));
        assert!(
            !allowed(&rules, Some("admin.example.com"), "bob", &staff, false),
            "first match decides"
        );
        assert!(allowed(
            &rules,
            Some("wiki.example.com"),
            "bob",
            &staff,
            false
        ));
        assert!(!allowed(
            &rules,
            Some("wiki.example.com"),
            "bob",
            &[],
            false
        ));
        assert!(
            !allowed(&rules, Some("example.com"), "alice", &staff, false),
            "*. needs a subdomain"
        );
        assert!(!allowed(&rules, Some("other.org"), "alice", &staff, false));
        assert!(!allowed(&rules, None, "alice", &staff, false));
    }

    fn judge(url: &[&str], host: &[&str], proto: &[&str], uri: &[&str]) -> Original {
        Forwarded {
            original_url: url.to_vec(),
            host: host.to_vec(),
            proto: proto.to_vec(),
            uri: uri.to_vec(),
        }
        .judge()
    }

    fn known(url: &str, host: &str) -> Original {
        Original::Known {
            url: url.into(),
            host: host.into(),
        }
    }

    #[test]
    fn the_forwarded_set_is_the_source() {
        // What Traefik and Caddy send, and the documented nginx block.
        assert_eq!(
            judge(&[], &["Wiki.Example.com:8443"], &["https"], &["/a?b=1,2"]),
            known("https://Wiki.Example.com:8443/a?b=1,2", "wiki.example.com")
        );
        assert_eq!(
            judge(&[], &["wiki.example.com"], &["HTTP"], &[]),
            known("http://wiki.example.com/", "wiki.example.com")
        );
        assert_eq!(
            judge(&[], &["wiki.example.com.:8443"], &[], &[]),
            known("https://wiki.example.com.:8443/", "wiki.example.com")
        );
        assert_eq!(
            judge(&[], &["[::1]:8080"], &["http"], &["/"]),
            known("http://[::1]:8080/", "[::1]")
        );
        // nginx blocks from older docs: X-Original-URL alone.
        assert_eq!(
            judge(&["https://wiki.example.com/x?y"], &[], &[], &[]),
            known("https://wiki.example.com/x?y", "wiki.example.com")
        );
        // Without X-Forwarded-Host, a stray -Proto or -Uri says nothing about the host.
        assert_eq!(
            judge(&["https://wiki.example.com/x"], &[], &["http"], &["/admin"]),
            known("https://wiki.example.com/x", "wiki.example.com")
        );
        assert_eq!(judge(&[], &[], &["https"], &["/x"]), Original::Unknown);
        assert_eq!(judge(&[], &[], &[], &[]), Original::Unknown);
    }

    #[test]
    fn two_sources_must_agree_on_the_host() {
        // A client's X-Original-URL through Traefik or Caddy, or a client's X-Forwarded-Host
        // through an nginx block from older docs: either way one of them is the client's.
        assert_eq!(
            judge(
                &["https://wiki.example.com/"],
                &["admin.example.com"],
                &["https"],
                &["/secret"]
            ),
            Original::Refused(Refusal::Conflict)
        );
        // Agreeing on the host (ports and case aside) is harmless: rules match hosts.
        assert_eq!(
            judge(
                &["https://ADMIN.example.com:443/x"],
                &["admin.example.com"],
                &["https"],
                &["/secret"]
            ),
            known("https://admin.example.com/secret", "admin.example.com")
        );
    }

    #[test]
    fn repeated_lists_and_garbage_are_refused() {
        let refused = |o: Original| matches!(o, Original::Refused(_));
        assert!(refused(judge(&[], &["a.example", "b.example"], &[], &[])));
        assert!(refused(judge(&[], &["b.example, a.example"], &[], &[])));
        assert!(refused(judge(
            &["https://a.example/", "https://b.example/"],
            &[],
            &[],
            &[]
        )));
        assert!(refused(judge(&[], &["a.example"], &["https", "http"], &[])));
        assert!(refused(judge(&[], &["a.example"], &["https, http"], &[])));
        assert!(refused(judge(&[], &["a.example"], &[], &["/", "/x"])));
        assert!(refused(judge(&[], &["a.example"], &["javascript"], &[])));
        for bad_host in [
            "",
            "a.example/x",
            "user@a.example",
            "a.example:x",
            "a.example:",
            "a example",
            "[::1",
            "[nonsense]:80",
            "a.example?",
        ] {
            assert!(refused(judge(&[], &[bad_host], &[], &[])), "{bad_host}");
        }
        for bad_url in [
            "wiki.example.com/",
            "javascript://wiki.example.com/",
            "https://user@wiki.example.com/",
            "https:///x",
            "https://wiki.example.com:x/",
        ] {
            assert!(refused(judge(&[bad_url], &[], &[], &[])), "{bad_url}");
        }
    }

    #[test]
    fn ports_are_not_part_of_the_host() {
        assert_eq!(strip_port("app.example.com:8443"), "app.example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("app"), "app");
    }
}
