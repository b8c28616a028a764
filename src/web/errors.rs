//! Error pages: one renderer for handler errors and Rocket's catchers, and the 405 fallback
//! Rocket 0.5 lacks (it answers a wrong method with 404).

use std::io::Cursor;

use rocket::http::{ContentType, Header, Method, Status};
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder, Response};
use rocket::{catch, catchers, Catcher, Route};
use serde_json::json;

use crate::error::AppError;

/// Every handler error becomes a page here: an HTML page in the site's layout with the right
/// status, never internals; "not signed in" is a redirect to sign in.
impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        self.log();
        if matches!(self, AppError::Unauthorized) {
            return to_login(req).respond_to(req);
        }
        error_page(req, self.status(), &ErrorDetail::of(&self))
    }
}

/// What a failing guard leaves for the catcher that renders its status.
#[derive(Debug, Clone, Default)]
pub struct ErrorDetail {
    /// A message key (see `locales/`).
    pub message: Option<&'static str>,
    pub retry_after: Option<u64>,
    pub allow: Option<String>,
}

impl ErrorDetail {
    pub fn of(e: &AppError) -> Self {
        ErrorDetail {
            message: e.detail(),
            retry_after: e.retry_after(),
            allow: e.allow(),
        }
    }
}

/// For request guards: remember the details for the catcher, return the status to fail with.
pub fn fail<E>(req: &Request<'_>, e: E) -> (Status, E)
where
    E: std::borrow::Borrow<AppError>,
{
    let err: &AppError = e.borrow();
    let status = err.status();
    if status.code >= 500 {
        log::error!("request failed: {err}");
    }
    req.local_cache(|| ErrorDetail::of(err));
    (status, e)
}

/// The message keys for a status: its title and its default explanation.
fn keys(status: Status) -> (&'static str, &'static str) {
    match status.code {
        400 => ("error-400-title", "error-400"),
        401 => ("error-401-title", "error-401"),
        403 => ("error-403-title", "error-403"),
        404 => ("error-404-title", "error-404"),
        405 => ("error-405-title", "error-405"),
        408 => ("error-408-title", "error-408"),
        413 => ("error-413-title", "error-413"),
        415 => ("error-415-title", "error-415"),
        422 => ("error-422-title", "error-422"),
        429 => ("error-429-title", "error-429"),
        503 => ("error-503-title", "error-503"),
        500..=599 => ("error-500-title", "error-500"),
        _ => ("error-other-title", "error-other"),
    }
}

/// The error page in the site's layout. Needs no database and no session, so it renders
/// even when those are what failed.
pub fn error_page(
    req: &Request<'_>,
    status: Status,
    detail: &ErrorDetail,
) -> response::Result<'static> {
    let lang = super::i18n::Lang::of(req);
    let (title_key, message_key) = keys(status);
    let title = lang.t(title_key);
    let message = lang.t(detail.message.unwrap_or(message_key));
    let mut ctx = super::templates::base_context(req, lang);
    ctx.insert("page".into(), json!("error"));
    ctx.insert(
        "error".into(),
        json!({"code": status.code, "title": title, "message": message}),
    );
    let ctx = serde_json::Value::Object(ctx);
    let translated = super::templates::translated(lang, "error");
    let html = req
        .rocket()
        .state::<super::templates::Renderer>()
        .and_then(|r| r.render(&translated, ctx))
        .unwrap_or_else(|| fallback_html(status, &title, &message));
    let mut response = Response::build();
    response
        .status(status)
        .header(ContentType::HTML)
        .sized_body(html.len(), Cursor::new(html));
    if let Some(secs) = detail.retry_after {
        response.header(Header::new("Retry-After", secs.to_string()));
    }
    if let Some(allow) = &detail.allow {
        response.header(Header::new("Allow", allow.clone()));
    }
    response.ok()
}

/// Used only if the template itself is missing or broken: still a page, still no internals.
fn fallback_html(status: Status, title: &str, message: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {title}</title></head>\
         <body><main><h1>{title}</h1><p>{msg}</p><p><a href=\"/\">Home</a></p></main></body></html>",
        code = status.code,
        title = escape(title),
        msg = escape(message)
    )
}

/// Where a signed-out visitor to a protected page goes: the login page, coming back after.
pub fn to_login(req: &Request<'_>) -> Redirect {
    let app = req.rocket().state::<crate::app::App>();
    if let (Method::Get, Some(app)) = (req.method(), app) {
        let target = req.uri().to_string();
        let next = super::next::sanitize_for(&app.settings, Some(&target));
        Redirect::to(format!("/login?next={}", super::next::encode(&next)))
    } else {
        Redirect::to("/login")
    }
}

/// The guard found no valid session. A cookie that did not verify is cleared here (Rocket
/// drops cookie changes made before a catcher runs), so the browser stops sending it.
#[catch(401)]
fn unauthorized(req: &Request<'_>) -> Redirect {
    if let Some(app) = req.rocket().state::<crate::app::App>() {
        if req
            .cookies()
            .get(app.settings.session_cookie_name())
            .is_some()
        {
            super::cookies::clear_session(req.cookies(), &app.settings);
        }
    }
    to_login(req)
}

/// The catcher's page: whatever detail the failing guard left behind.
struct CaughtPage(Status);

impl<'r> Responder<'r, 'static> for CaughtPage {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let detail = req.local_cache(ErrorDetail::default).clone();
        error_page(req, self.0, &detail)
    }
}

#[catch(default)]
fn any(status: Status, _req: &Request<'_>) -> CaughtPage {
    CaughtPage(status)
}

pub fn catchers() -> Vec<Catcher> {
    catchers![unauthorized, any]
}

/// Does a route pattern like `/account/sessions/<id>/revoke` match `path`?
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.trim_matches('/').split('/');
    let mut path = path.trim_matches('/').split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), _) if p.starts_with('<') && p.ends_with("..>") => return true,
            (Some(p), Some(s)) if p == s || (p.starts_with('<') && !s.is_empty()) => continue,
            _ => return false,
        }
    }
}

/// The lowest-priority route for every path and method: 405 with `Allow` if the path exists
/// under other methods, 404 otherwise.
fn fallback(req: &Request<'_>) -> AppError {
    let path = req.uri().path().as_str();
    let mut allowed: Vec<&'static str> = req
        .rocket()
        .routes()
        .filter(|r| r.rank < FALLBACK_RANK)
        .filter(|r| pattern_matches(r.uri.path(), path))
        .map(|r| r.method.as_str())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    if allowed.is_empty() || allowed.contains(&req.method().as_str()) {
        AppError::NotFound
    } else {
        if allowed.contains(&"GET") {
            allowed.push("HEAD");
        }
        AppError::MethodNotAllowed(allowed.join(", "))
    }
}

const FALLBACK_RANK: isize = 1000;

#[derive(Clone)]
struct Fallback;

#[rocket::async_trait]
impl rocket::route::Handler for Fallback {
    async fn handle<'r>(
        &self,
        req: &'r Request<'_>,
        _data: rocket::Data<'r>,
    ) -> rocket::route::Outcome<'r> {
        rocket::route::Outcome::from(req, fallback(req))
    }
}

pub fn fallback_routes() -> Vec<Route> {
    [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
    ]
    .into_iter()
    .map(|m| Route::ranked(FALLBACK_RANK, m, "/<_..>", Fallback))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;

    #[test]
    fn patterns() {
        assert!(pattern_matches("/", "/"));
        assert!(pattern_matches("/login", "/login"));
        assert!(!pattern_matches("/login", "/login/x"));
        assert!(pattern_matches("/a/<id>/b", "/a/123/b"));
        assert!(!pattern_matches("/a/<id>/b", "/a//b"));
        assert!(pattern_matches("/static/<f..>", "/static/x/y.css"));
    }
}
