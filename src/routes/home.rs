//! `/` and the health check.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::serde::json::{json, Value};
use rocket::{get, routes, Route, State};

use rocket::http::{Cookie, CookieJar, SameSite};

use crate::app::App;
use crate::db::Health;
use crate::error::AppError;
use crate::web::guard::AuthUser;
use crate::web::i18n::{self, Lang};

#[get("/")]
fn index(user: Option<AuthUser>) -> Redirect {
    match user {
        Some(_) => Redirect::to("/dashboard"),
        None => Redirect::to("/login"),
    }
}

/// 200 when the database answers and takes writes, 503 otherwise: what a load balancer should
/// route by. An instance whose database is full or read-only cannot sign anyone in, so it is
/// as unhealthy as one whose database is gone (the write is throttled, see `Db::health`).
#[get("/healthz")]
async fn healthz(app: &State<App>) -> (Status, Value) {
    match app.db.health(app.clock.now()).await {
        Health::Ok => (Status::Ok, json!({"status": "ok"})),
        Health::NotWritable => (
            Status::ServiceUnavailable,
            json!({"status": "unavailable", "database": "not writable"}),
        ),
        Health::Unreachable => (Status::ServiceUnavailable, json!({"status": "unavailable"})),
    }
}

/// The language switch: a display preference kept in a cookie (never in the token), then
/// back to the page it was clicked on. Nothing on the server changes.
#[get("/language/<code>?<next>")]
fn language(
    app: &State<App>,
    jar: &CookieJar<'_>,
    code: &str,
    next: Option<&str>,
) -> Result<Redirect, AppError> {
    let lang = Lang::from_code(code).ok_or(AppError::NotFound)?;
    jar.add(
        Cookie::build((i18n::COOKIE, lang.code()))
            .path("/")
            .http_only(true)
            .secure(app.settings.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(rocket::time::Duration::days(365)),
    );
    // Back to a page of this site only: unlike sign-in, nothing here has to send anyone to
    // another host under `cookie_domain`, so the switch must not become a redirector to them.
    Ok(Redirect::to(crate::web::next::sanitize(next)))
}

pub fn routes() -> Vec<Route> {
    routes![index, healthz, language]
}
