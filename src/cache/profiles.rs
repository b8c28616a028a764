//! What forward-auth tells an upstream about a user (name, email, groups), by user id. See
//! the module docs of `cache` for how long an entry is trusted; `service::profiles` fills it.

use std::sync::Arc;

use super::fresh::FreshMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub username: String,
    pub email: String,
    /// Whether the owner has opened a link mailed to `email`.
    pub email_verified: bool,
    pub groups: Vec<String>,
}

pub struct Profiles(FreshMap<Profile>);

impl Profiles {
    pub fn new(cap: usize) -> Self {
        Profiles(FreshMap::new(cap))
    }

    pub fn get(&self, user_id: &str, now: i64, max_age: i64) -> Option<Arc<Profile>> {
        self.0.get(user_id, now, max_age)
    }

    pub fn put(&self, user_id: &str, profile: Profile, now: i64, max_age: i64) -> Arc<Profile> {
        self.0.put(user_id, profile, now, max_age)
    }

    pub fn forget(&self, user_id: &str) {
        self.0.remove(user_id);
    }
}
