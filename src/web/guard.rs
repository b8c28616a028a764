//! The request guard for signed-in users. A fresh token costs a signature check and no
//! database query; a token older than `session_revalidate_interval` is checked against its
//! session row and replaced in the same response. Anything that fails to verify is simply
//! "not signed in": never a 500.

use std::sync::Arc;

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use super::cookies;
use crate::app::App;
use crate::auth::token::Claims;
use crate::error::AppError;
use crate::service::sessions;

/// A signed-in user. Use `AuthUser` on pages that need one (signed-out visitors are sent to
/// `/login?next=...`) and `Option<AuthUser>` where a page shows either state.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub claims: Arc<Claims>,
}

impl AuthUser {
    pub fn user_id(&self) -> &str {
        &self.claims.sub
    }

    pub fn name(&self) -> &str {
        &self.claims.name
    }

    pub fn sid(&self) -> &str {
        &self.claims.sid
    }
}

/// The guard's verdict, computed once per request and cached.
#[derive(Debug, Clone)]
enum Verdict {
    SignedIn(AuthUser),
    SignedOut,
    Unavailable,
}

async fn authenticate(req: &Request<'_>) -> Verdict {
    let Some(app) = req.rocket().state::<App>() else {
        return Verdict::SignedOut;
    };
    let settings = &app.settings;
    let jar = req.cookies();
    let Some(cookie) = jar.get(settings.session_cookie_name()) else {
        return Verdict::SignedOut;
    };
    let now = app.clock.now();
    let claims = match app.tokens.verify(cookie.value(), now) {
        Ok(c) => c,
        Err(e) => {
            log::debug!("session cookie refused: {e}");
            cookies::clear_session(jar, settings);
            return Verdict::SignedOut;
        }
    };
    if app.denylist.contains(&claims.sid, now) {
        cookies::clear_session(jar, settings);
        return Verdict::SignedOut;
    }
    let fresh = now - claims.iat < settings.session_revalidate_interval;
    // `>`: a token minted in the very second this process started may predate it.
    if fresh && claims.iat > app.started_at {
        return Verdict::SignedIn(AuthUser { claims });
    }
    match sessions::revalidate(app, &claims).await {
        Ok(Some(fresh)) => {
            cookies::set_session(jar, settings, &fresh);
            Verdict::SignedIn(AuthUser {
                claims: Arc::new(fresh.claims),
            })
        }
        Ok(None) => {
            // Ended elsewhere (another instance, the CLI, expiry): refuse it here from now on.
            sessions::deny(app, &claims.sid, claims.exp);
            cookies::clear_session(jar, settings);
            Verdict::SignedOut
        }
        Err(e) => {
            log::error!("cannot revalidate a session: {e}");
            Verdict::Unavailable
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AppError> {
        let verdict = req
            .local_cache_async(async { authenticate(req).await })
            .await;
        match verdict {
            Verdict::SignedIn(user) => Outcome::Success(user.clone()),
            Verdict::SignedOut => Outcome::Error((Status::Unauthorized, AppError::Unauthorized)),
            Verdict::Unavailable => Outcome::Error(super::errors::fail(req, AppError::Unavailable)),
        }
    }
}
