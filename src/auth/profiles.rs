//! What forward-auth tells an upstream about a user (name, email, groups), cached in memory so
//! a signed-in request costs no query. Entries are trusted for `session_revalidate_interval`,
//! the same staleness bound as sessions, and the cache is bounded in size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::{groups, users};
use crate::error::AppError;
use crate::App;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub username: String,
    pub email: String,
    pub groups: Vec<String>,
}

pub struct Profiles {
    entries: Mutex<HashMap<String, (Arc<Profile>, i64)>>,
    cap: usize,
}

impl Profiles {
    pub fn new(cap: usize) -> Self {
        Profiles {
            entries: Mutex::new(HashMap::new()),
            cap,
        }
    }

    /// The user's profile; `None` if the account is gone or disabled.
    pub async fn get(&self, app: &App, user_id: &str) -> Result<Option<Arc<Profile>>, AppError> {
        let now = app.clock.now();
        let max_age = app.settings.session_revalidate_interval;
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((p, fetched)) = entries.get(user_id) {
                if now - fetched < max_age {
                    return Ok(Some(p.clone()));
                }
            }
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
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match loaded {
            Some(p) => {
                let p = Arc::new(p);
                if entries.len() >= self.cap {
                    entries.retain(|_, (_, fetched)| now - *fetched < max_age);
                    if entries.len() >= self.cap {
                        entries.clear();
                    }
                }
                entries.insert(user_id.to_string(), (p.clone(), now));
                Ok(Some(p))
            }
            None => {
                entries.remove(user_id);
                Ok(None)
            }
        }
    }

    /// Forgets a user (after a change made on this instance).
    pub fn invalidate(&self, user_id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user_id);
    }
}
