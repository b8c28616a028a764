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
    let session = app
        .db
        .run(move |conn| Ok(sessions::find(conn, &sid)?))
        .await?;
    let absolute = session.as_ref().map(|s| s.absolute_expires_at);
    let remember = session.as_ref().is_some_and(|s| s.remember);
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
        }),
    ))
}

pub fn routes() -> Vec<Route> {
    routes![dashboard]
}
