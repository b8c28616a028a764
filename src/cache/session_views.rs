//! What the dashboard shows about a session beyond its token (absolute expiry, "remember me",
//! the previous sign-in), by session id: filled when a session starts and whenever it is
//! revalidated (`service::sessions`). See the module docs of `cache` for how long it is
//! trusted.

use std::sync::Arc;

use super::fresh::FreshMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub absolute_expires_at: i64,
    pub remember: bool,
    pub previous_login_at: Option<i64>,
    pub previous_login_ip: Option<String>,
    /// As of when the view was filled; a `false` is checked again before it is shown.
    pub email_verified: bool,
}

pub struct SessionViews(FreshMap<SessionView>);

impl SessionViews {
    pub fn new(cap: usize) -> Self {
        SessionViews(FreshMap::new(cap))
    }

    pub fn get(&self, sid: &str, now: i64, max_age: i64) -> Option<Arc<SessionView>> {
        self.0.get(sid, now, max_age)
    }

    pub fn put(&self, sid: &str, view: SessionView, now: i64, max_age: i64) -> Arc<SessionView> {
        self.0.put(sid, view, now, max_age)
    }
}
