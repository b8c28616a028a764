//! `/` and the health check.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::serde::json::{json, Value};
use rocket::{get, routes, Route, State};

use crate::auth::guard::AuthUser;
use crate::App;

#[get("/")]
fn index(user: Option<AuthUser>) -> Redirect {
    match user {
        Some(_) => Redirect::to("/dashboard"),
        None => Redirect::to("/login"),
    }
}

/// 200 when the database answers, 503 otherwise: what a load balancer should route by.
#[get("/healthz")]
async fn healthz(app: &State<App>) -> (Status, Value) {
    match app.db.run(|conn| Ok(crate::db::ping(conn)?)).await {
        Ok(()) => (Status::Ok, json!({"status": "ok"})),
        Err(_) => (Status::ServiceUnavailable, json!({"status": "unavailable"})),
    }
}

pub fn routes() -> Vec<Route> {
    routes![index, healthz]
}
