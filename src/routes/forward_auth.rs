//! Forward-auth for reverse proxies (nginx `auth_request`, Traefik and Caddy forward_auth):
//! 200 with `Remote-*` headers when the session cookie is good, 401 with a `Location` to the
//! sign-in page when it is not, 403 when the access rules do not let this user at this host.

use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route, State};

use crate::auth::guard::AuthUser;
use crate::config::{AccessRule, Settings};
use crate::error::AppError;
use crate::web::next;
use crate::App;

/// The request the proxy is asking about.
pub struct Original {
    url: Option<String>,
    host: Option<String>,
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Original {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        let h = req.headers();
        let url = h.get_one("X-Original-URL").map(str::to_string).or_else(|| {
            let proto = h.get_one("X-Forwarded-Proto").unwrap_or("https");
            let host = h.get_one("X-Forwarded-Host")?;
            let uri = h.get_one("X-Forwarded-Uri").unwrap_or("/");
            Some(format!("{proto}://{host}{uri}"))
        });
        let host = url
            .as_deref()
            .and_then(|u| u.split_once("://"))
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
            .or_else(|| h.get_one("X-Forwarded-Host"))
            .map(|hp| strip_port(hp).to_ascii_lowercase());
        rocket::request::Outcome::Success(Original { url, host })
    }
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

/// Whether `user` may reach `host`. No rules: everyone signed in. Rules: the first rule
/// whose host matches decides; a host no rule matches is denied.
pub fn allowed(
    rules: &[AccessRule],
    host: Option<&str>,
    username: &str,
    groups: &[String],
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
            rule.users
                .iter()
                .any(|u| crate::validate::username_key(u) == key)
                || rule.groups.iter().any(|g| groups.contains(g))
        }
        None => false,
    }
}

pub enum Verdict {
    Allowed {
        username: String,
        email: String,
        groups: Vec<String>,
    },
    SignIn(String),
    Forbidden,
}

impl<'r> Responder<'r, 'static> for Verdict {
    fn respond_to(self, _req: &'r Request<'_>) -> response::Result<'static> {
        let mut r = Response::build();
        match self {
            Verdict::Allowed {
                username,
                email,
                groups,
            } => r
                .status(Status::Ok)
                .header(Header::new("Remote-User", username.clone()))
                .header(Header::new("Remote-Name", username))
                .header(Header::new("Remote-Email", email))
                .header(Header::new("Remote-Groups", groups.join(","))),
            Verdict::SignIn(location) => r
                .status(Status::Unauthorized)
                .header(Header::new("Location", location)),
            Verdict::Forbidden => r.status(Status::Forbidden),
        };
        r.ok()
    }
}

fn login_location(settings: &Settings, original: &Original) -> String {
    let login = format!("{}/login", settings.public_origin);
    let target = next::sanitize_for(settings, original.url.as_deref());
    if target == next::DEFAULT {
        login
    } else {
        format!("{login}?next={}", next::encode(&target))
    }
}

#[get("/auth/verify")]
async fn verify(
    app: &State<App>,
    user: Result<AuthUser, AppError>,
    original: Original,
) -> Result<Verdict, AppError> {
    let user = match user {
        Ok(u) => u,
        Err(AppError::Unauthorized) => {
            return Ok(Verdict::SignIn(login_location(&app.settings, &original)))
        }
        Err(e) => return Err(e),
    };
    let Some(profile) = app.profiles.get(app, user.user_id()).await? else {
        return Ok(Verdict::SignIn(login_location(&app.settings, &original)));
    };
    if !allowed(
        &app.settings.access_rules,
        original.host.as_deref(),
        &profile.username,
        &profile.groups,
    ) {
        return Ok(Verdict::Forbidden);
    }
    Ok(Verdict::Allowed {
        username: profile.username.clone(),
        email: profile.email.clone(),
        groups: profile.groups.clone(),
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
        }
    }

    #[test]
    fn rules_deny_by_default() {
        let rules = vec![
            rule("admin.example.com", &["Alice"], &[]),
            rule("*.example.com", &[], &["staff"]),
        ];
        let staff = vec!["staff".to_string()];
        assert!(allowed(&[], Some("anything"), "bob", &[]));
        assert!(allowed(&rules, Some("admin.example.com"), "alice", &[]));
        assert!(
            !allowed(&rules, Some("admin.example.com"), "bob", &staff),
            "first match decides"
        );
        assert!(allowed(&rules, Some("wiki.example.com"), "bob", &staff));
        assert!(!allowed(&rules, Some("wiki.example.com"), "bob", &[]));
        assert!(
            !allowed(&rules, Some("example.com"), "alice", &staff),
            "*. needs a subdomain"
        );
        assert!(!allowed(&rules, Some("other.org"), "alice", &staff));
        assert!(!allowed(&rules, None, "alice", &staff));
    }

    #[test]
    fn ports_are_not_part_of_the_host() {
        assert_eq!(strip_port("app.example.com:8443"), "app.example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("app"), "app");
    }
}
