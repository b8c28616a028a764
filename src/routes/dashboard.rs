//! The signed-in home page.

use rocket::http::Status;
use rocket::{get, routes, Route, State};
use serde_json::json;

use crate::auth::guard::AuthUser;
use crate::db::sessions;
use crate::error::AppError;
use crate::web::page::{Ctx, Page};
use crate::App;

#[get("/dashboard")]
async fn dashboard(app: &State<App>, user: AuthUser, ctx: Ctx) -> Result<Page, AppError> {
    let sid = user.sid().to_string();
    let row = app
        .db
        .run(move |conn| Ok(sessions::find_with_user(conn, &sid)?))
        .await?;
    let (session, profile) = row.unzip();
    let absolute = session.as_ref().map(|s| s.absolute_expires_at);
    let remember = session.as_ref().is_some_and(|s| s.remember);
    let previous =
        profile.and_then(|p| Some(json!({"at": p.previous_login_at?, "ip": p.previous_login_ip})));
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
