//! The signed-in home page.

use rocket::http::Status;
use rocket::{get, routes, Route, State};
use serde_json::json;

use crate::app::App;
use crate::error::AppError;
use crate::service::{email, sessions};
use crate::web::guard::AuthUser;
use crate::web::i18n::{self, DateFormats};
use crate::web::page::{Ctx, Page};

/// What the dashboard shows, formatted here rather than in the template: this is the
/// busiest page, and Tera function calls and filters cost more than the formatting itself.
pub struct Shown<'a> {
    pub name: &'a str,
    pub started: i64,
    pub expires: i64,
    pub absolute: Option<i64>,
    pub remember: bool,
    pub previous: Option<(i64, Option<&'a str>)>,
    pub email_unverified: bool,
}

fn dashboard_page(dates: &DateFormats, ctx: &Ctx, shown: Shown<'_>) -> Page {
    let lang = ctx.lang;
    let last_login = shown.previous.map(|(at, ip)| {
        lang.t_args(
            "dashboard-last-login",
            &[
                ("when", dates.format(lang, at).into()),
                ("ip", ip.unwrap_or("").to_string().into()),
            ],
        )
    });
    ctx.page(
        "dashboard",
        Status::Ok,
        json!({
            "greeting": lang.t_args("dashboard-welcome", &[("name", shown.name.to_string().into())]),
            "last_login": last_login,
            // Flat names: Tera re-escapes a dotted path (`session.started.iso`) on every
            // lookup, which made these lookups a quarter of the page's cost.
            "started_iso": i18n::iso(shown.started),
            "started_text": dates.format(lang, shown.started),
            "expires_iso": i18n::iso(shown.expires),
            "expires_text": dates.format(lang, shown.expires),
            "absolute_iso": shown.absolute.map(i18n::iso),
            "absolute_text": shown.absolute.map(|a| dates.format(lang, a)),
            "remember": shown.remember,
            "email_unverified": shown.email_unverified,
        }),
    )
}

#[get("/dashboard")]
async fn dashboard(
    app: &State<App>,
    dates: &State<DateFormats>,
    user: AuthUser,
    ctx: Ctx,
) -> Result<Page, AppError> {
    // From memory when fresh (filled at sign-in and at every revalidation): a page view
    // with a fresh token makes no database query at all.
    let view = sessions::view(app, user.sid()).await?;
    let cached_verified = view.as_ref().is_none_or(|v| v.email_verified);
    let email_unverified = email::still_unverified(app, user.user_id(), cached_verified).await?;
    Ok(dashboard_page(
        dates,
        &ctx,
        Shown {
            name: user.name(),
            started: user.claims.auth_time,
            expires: user.claims.exp,
            absolute: view.as_ref().map(|v| v.absolute_expires_at),
            remember: view.as_ref().is_some_and(|v| v.remember),
            previous: view
                .as_ref()
                .and_then(|v| Some((v.previous_login_at?, v.previous_login_ip.as_deref()))),
            email_unverified,
        },
    ))
}

pub fn routes() -> Vec<Route> {
    routes![dashboard]
}

/// The dashboard's template and context for a fixed user, without any authentication: the
/// benchmark's baseline ("a public page of the same build that renders the same template").
#[cfg(feature = "bench")]
#[get("/bench/page")]
fn bench_page(app: &State<App>, dates: &State<DateFormats>, ctx: Ctx) -> Page {
    let now = app.clock.now();
    let mut page = dashboard_page(
        dates,
        &ctx,
        Shown {
            name: "benchmark",
            started: now,
            expires: now + 1800,
            absolute: Some(now + 43200),
            remember: false,
            previous: Some((now - 3600, Some("127.0.0.1"))),
            email_unverified: false,
        },
    );
    page.set_user("benchmark", "AAAAAAAAAAAAAAAAAAAAAA");
    page
}

#[cfg(feature = "bench")]
pub fn bench_routes() -> Vec<Route> {
    routes![bench_page]
}
