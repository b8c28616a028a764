//! What the dashboard shows about a session beyond its token (absolute expiry, "remember me",
//! the previous sign-in), cached in memory so a signed-in page view costs no query. Filled
//! when a session starts and whenever it is revalidated; entries are trusted for
//! `session_revalidate_interval`, like everything else cached per instance. Bounded.

use std::sync::Arc;

use super::fresh::FreshMap;
use crate::db::sessions;
use crate::error::AppError;
use crate::App;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub absolute_expires_at: i64,
    pub remember: bool,
    pub previous_login_at: Option<i64>,
    pub previous_login_ip: Option<String>,
}

pub struct SessionViews(FreshMap<SessionView>);

impl SessionViews {
    pub fn new(cap: usize) -> Self {
        SessionViews(FreshMap::new(cap))
    }

    pub fn put(&self, sid: &str, view: SessionView, now: i64, max_age: i64) {
        self.0.put(sid, view, now, max_age);
    }

    /// The view of `sid`: from memory when fresh, else from the database.
    pub async fn get(&self, app: &App, sid: &str) -> Result<Option<Arc<SessionView>>, AppError> {
        let now = app.clock.now();
        let max_age = app.settings.session_revalidate_interval;
        if let Some(view) = self.0.get(sid, now, max_age) {
            return Ok(Some(view));
        }
        let id = sid.to_string();
        let row = app
            .db
            .run(move |conn| Ok(sessions::find_with_user(conn, &id)?))
            .await?;
        Ok(row.map(|(s, u)| {
            let view = SessionView {
                absolute_expires_at: s.absolute_expires_at,
                remember: s.remember,
                previous_login_at: u.previous_login_at,
                previous_login_ip: u.previous_login_ip,
            };
            self.0.put(sid, view, now, max_age)
        }))
    }
}
