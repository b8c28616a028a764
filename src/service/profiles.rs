//! What forward-auth tells an upstream about a user, from memory when fresh (see
//! `cache::profiles`), else from the database.

use std::sync::Arc;

use crate::app::App;
use crate::cache::profiles::Profile;
use crate::db::{groups, users};
use crate::error::AppError;

/// The user's profile; `None` if the account is gone or disabled.
pub async fn profile(app: &App, user_id: &str) -> Result<Option<Arc<Profile>>, AppError> {
    let now = app.clock.now();
    let max_age = app.settings.session_revalidate_interval;
    if let Some(p) = app.profiles.get(user_id, now, max_age) {
        return Ok(Some(p));
    }
    let id = user_id.to_string();
    let loaded = app
        .db
        .run(move |conn| {
            let Some(u) = users::find_by_id(conn, &id)?.filter(|u| u.is_enabled()) else {
                return Ok(None);
            };
            let groups = groups::of_user(conn, &id)?;
            Ok(Some(Profile {
                email_verified: u.email_verified(),
                username: u.username,
                email: u.email,
                groups,
            }))
        })
        .await?;
    match loaded {
        Some(p) => Ok(Some(app.profiles.put(user_id, p, now, max_age))),
        None => {
            app.profiles.forget(user_id);
            Ok(None)
        }
    }
}
