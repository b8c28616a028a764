//! Sessions ended on this instance, refused at once without a database query.
//!
//! An entry only has to outlive the tokens that could still skip revalidation: any token
//! older than `session_revalidate_interval` is checked against the database anyway. So
//! entries expire at `min(token exp, now + revalidate interval + leeway)` and the list stays
//! small; a hard cap bounds it even under a flood of logouts.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct DenyList {
    entries: Mutex<HashMap<String, i64>>,
    cap: usize,
}

impl DenyList {
    pub fn new(cap: usize) -> Self {
        DenyList {
            entries: Mutex::new(HashMap::new()),
            cap,
        }
    }

    /// Refuse `sid` until `until` (Unix seconds).
    pub fn insert(&self, sid: &str, until: i64, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.cap {
            entries.retain(|_, u| *u > now);
        }
        if entries.len() >= self.cap {
            // Still full of live entries: drop the one that ends soonest. Its token will be
            // caught by revalidation within the interval instead.
            if let Some(k) = entries
                .iter()
                .min_by_key(|(_, u)| **u)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&k);
            }
        }
        let e = entries.entry(sid.to_string()).or_insert(until);
        *e = (*e).max(until);
    }

    pub fn contains(&self, sid: &str, now: i64) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(sid).is_some_and(|u| *u > now)
    }

    /// Drops expired entries; returns how many are left.
    pub fn prune(&self, now: i64) -> usize {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, u| *u > now);
        entries.len()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_pruned() {
        let d = DenyList::new(10);
        d.insert("a", 100, 0);
        assert!(d.contains("a", 99));
        assert!(!d.contains("a", 100));
        assert!(!d.contains("b", 0));
        assert_eq!(d.prune(100), 0);
    }

    #[test]
    fn size_is_bounded() {
        let d = DenyList::new(3);
        for (i, sid) in ["a", "b", "c", "d"].iter().enumerate() {
            d.insert(sid, 100 + i as i64, 0);
        }
        assert_eq!(d.len(), 3);
        assert!(!d.contains("a", 0), "the soonest-ending entry made room");
        assert!(d.contains("d", 0));
    }
}
