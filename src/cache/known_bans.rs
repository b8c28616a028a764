//! Bans this instance has seen, so a banned client's flood is refused without a query.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::throttle::BanKind;

/// Most bans remembered; beyond that the database alone answers.
const CAP: usize = 100_000;

/// (kind, key) -> (until, when the database last said so).
#[derive(Default)]
pub struct KnownBans(Mutex<HashMap<(BanKind, String), (i64, i64)>>);

impl KnownBans {
    pub fn remember(&self, kind: BanKind, key: &str, until: i64, now: i64) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= CAP {
            known.retain(|_, (u, _)| *u > now);
        }
        if known.len() < CAP {
            known.insert((kind, key.to_string()), (until, now));
        }
    }

    /// The ban on (kind, key) was lifted here: stop refusing at once on this instance.
    pub fn forget(&self, kind: BanKind, key: &str) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.remove(&(kind, key.to_string()));
    }

    /// When the ban on (kind, key) lifts, if this instance saw it less than `max_age` ago.
    pub fn until(&self, kind: BanKind, key: &str, now: i64, max_age: i64) -> Option<i64> {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(&(kind, key.to_string()))
            .filter(|(until, checked)| *until > now && now - *checked < max_age)
            .map(|(until, _)| *until)
    }
}
