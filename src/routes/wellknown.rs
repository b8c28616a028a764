//! Public metadata for apps that verify gatehouse tokens themselves.

use rocket::http::{ContentType, Header};
use rocket::serde::json::{json, Value};
use rocket::{get, routes, Responder, Route, State};

use crate::app::App;

/// Short enough that a rotation reaches clients quickly; clients refetch on an unknown `kid`.
const MAX_AGE: &str = "public, max-age=300";

#[derive(Responder)]
pub struct Cacheable {
    body: String,
    content_type: ContentType,
    cache: Header<'static>,
}

fn cacheable(v: Value) -> Cacheable {
    Cacheable {
        body: v.to_string(),
        content_type: ContentType::JSON,
        cache: Header::new("Cache-Control", MAX_AGE),
    }
}

/// RFC 7517 JWK set of every key that may have signed a live token: public parts only, each
/// with `kid`, `alg` and `use`. Empty for HS256 (a shared secret is never published).
#[get("/.well-known/jwks.json")]
fn jwks(app: &State<App>) -> Cacheable {
    let keys: Vec<Value> = app
        .tokens
        .keys()
        .keys()
        .iter()
        .filter_map(|k| k.public_jwk())
        .collect();
    cacheable(json!({ "keys": keys }))
}

/// What a client needs to trust our sessions.
#[get("/.well-known/gatehouse.json")]
fn metadata(app: &State<App>) -> Cacheable {
    let s = &app.settings;
    cacheable(json!({
        "issuer": app.tokens.issuer(),
        "audience": app.tokens.audience(),
        "jwks_uri": format!("{}/.well-known/jwks.json", s.public_origin),
        "algorithms": [s.jwt_algorithm.to_string()],
        "cookie_name": s.session_cookie_name(),
        "cookie_domain": s.cookie_domain,
        "login_url": format!("{}/login", s.public_origin),
        "forward_auth_url": format!("{}/auth/verify", s.public_origin),
    }))
}

pub fn routes() -> Vec<Route> {
    routes![jwks, metadata]
}
