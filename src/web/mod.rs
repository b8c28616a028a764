//! HTTP plumbing shared by the routes: pages, errors, headers, assets, client address.

pub mod assets;
pub mod client_ip;
pub mod connections;
pub mod cookies;
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

use crate::service::Origin;

/// Where a request comes from, as the service layer records it: the client's address (as
/// `trusted_proxies` resolve it) and its `User-Agent` (shown on the devices page, never
/// trusted).
pub struct Client(pub Origin);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Client {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        let ip = client_ip::ClientIp::of(req);
        let ua = req.headers().get_one("User-Agent");
        request::Outcome::Success(Client(Origin::web(ip.0, ua, i18n::Lang::of(req))))
    }
}
