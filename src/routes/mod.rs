//! The HTTP routes, one module per area.

pub mod account;
pub mod auth;
pub mod dashboard;
pub mod email;
pub mod forward_auth;
pub mod home;
pub mod password;
pub mod register;
pub mod second_factor;
pub mod wellknown;

use rocket::Route;

pub fn all() -> Vec<Route> {
    let mut r = Vec::new();
    r.extend(home::routes());
    r.extend(auth::routes());
    r.extend(register::routes());
    r.extend(dashboard::routes());
    r.extend(account::routes());
    r.extend(password::routes());
    r.extend(email::routes());
    r.extend(second_factor::routes());
    r.extend(wellknown::routes());
    r.extend(forward_auth::routes());
    #[cfg(feature = "bench")]
    r.extend(dashboard::bench_routes());
    r.extend(crate::web::assets::routes());
    r.extend(crate::web::errors::fallback_routes());
    r
}
