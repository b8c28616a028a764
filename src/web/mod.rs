//! HTTP plumbing shared by the routes: pages, errors, headers, assets, client address.

pub mod assets;
pub mod client_ip;
pub mod connections;
pub mod errors;
pub mod flash;
pub mod forms;
pub mod guard;
pub mod headers;
pub mod i18n;
pub mod next;
pub mod page;
pub mod templates;

use std::convert::Infallible;

use rocket::request::{self, FromRequest, Request};

/// The `User-Agent` header, if any: shown on the devices page, never trusted.
pub struct UserAgent(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserAgent {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(UserAgent(
            req.headers().get_one("User-Agent").map(str::to_string),
        ))
    }
}
