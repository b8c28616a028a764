//! The signed-in home page.

use rocket::http::Status;
use rocket::{get, routes, Route, State};
use serde_json::json;

use crate::auth::guard::AuthUser;
use crate::error::AppError;
use crate::web::page::{Ctx, Page};
use crate::App;

#[get("/dashboard")]
async fn dashboard(app: &State<App>, user: AuthUser, ctx: Ctx) -> Result<Page, AppError> {
    // From memory when fresh (filled at sign-in and at every revalidation): a page view
    // with a fresh token makes no database query at all.
    let view = app.session_views.get(app, user.sid()).await?;
    let absolute = view.as_ref().map(|v| v.absolute_expires_at);
    let remember = view.as_ref().is_some_and(|v| v.remember);
    let previous = view
        .as_ref()
        .and_then(|v| Some(json!({"at": v.previous_login_at?, "ip": v.previous_login_ip})));
    Ok(ctx.page(
        "dashboard",
        Status::Ok,
        json!({
            "session": {
                "started": user.claims.auth_time,
                "expires": user.claims.exp,
                "absolute_expires": absolute,
                "remember": remember,
            },
            "previous_login": previous,
        }),
    ))
}

pub fn routes() -> Vec<Route> {
    routes![dashboard]
}

/// The dashboard's template and context for a fixed user, without any authentication: the
/// benchmark's baseline ("a public page of the same build that renders the same template").
#[cfg(feature = "bench")]
#[get("/bench/page")]
fn bench_page(app: &State<App>, ctx: Ctx) -> Page {
    let now = app.clock.now();
    ctx.page(
        "dashboard",
        Status::Ok,
        json!({
            "user": {"name": "benchmark"},
            "session": {
                "started": now,
                "expires": now + 1800,
                "absolute_expires": now + 43200,
                "remember": false,
            },
            "previous_login": {"at": now - 3600, "ip": "127.0.0.1"},
        }),
    )
}

#[cfg(feature = "bench")]
pub fn bench_routes() -> Vec<Route> {
    routes![bench_page]
}
