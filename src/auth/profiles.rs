//! What forward-auth tells an upstream about a user (name, email, groups), cached in memory so
//! a signed-in request costs no query. Entries are trusted for `session_revalidate_interval`,
//! the same staleness bound as sessions, and the cache is bounded in size.

use std::sync::Arc;

use super::fresh::FreshMap;
use crate::db::{groups, users};
use crate::error::AppError;
use crate::App;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub username: String,
    pub email: String,
    pub groups: Vec<String>,
}

pub struct Profiles(FreshMap<Profile>);

impl Profiles {
    pub fn new(cap: usize) -> Self {
        Profiles(FreshMap::new(cap))
    }

    /// The user's profile; `None` if the account is gone or disabled.
    pub async fn get(&self, app: &App, user_id: &str) -> Result<Option<Arc<Profile>>, AppError> {
        let now = app.clock.now();
        let max_age = app.settings.session_revalidate_interval;
        if let Some(p) = self.0.get(user_id, now, max_age) {
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
                    username: u.username,
                    email: u.email,
                    groups,
                }))
            })
            .await?;
        match loaded {
            Some(p) => Ok(Some(self.0.put(user_id, p, now, max_age))),
            None => {
                self.0.remove(user_id);
                Ok(None)
            }
        }
    }
}
