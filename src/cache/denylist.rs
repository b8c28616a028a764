//! Sessions ended on this instance, refused at once without a database query.
//!
//! An entry only has to outlive the tokens that could still skip revalidation: any token
//! older than `session_revalidate_interval` is checked against the database anyway. So
//! entries expire at `min(token exp, now + revalidate interval + leeway)` and the list stays
//! small; a hard cap bounds it even under a flood of logouts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

/// Checked on every signed-in request and usually empty: the check then reads one counter
/// and takes no lock; otherwise readers share the lock.
pub struct DenyList {
    entries: RwLock<HashMap<String, i64>>,
    /// `entries.len()`, stored before the write lock is released.
    len: AtomicUsize,
    cap: usize,
}

impl DenyList {
    pub fn new(cap: usize) -> Self {
        DenyList {
            entries: RwLock::new(HashMap::new()),
            len: AtomicUsize::new(0),
            cap,
        }
    }

    /// Refuse `sid` until `until` (Unix seconds).
    pub fn insert(&self, sid: &str, until: i64, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
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
        self.len.store(entries.len(), Ordering::Release);
    }

    pub fn contains(&self, sid: &str, now: i64) -> bool {
        // `insert` stores the length before it returns, so a request that starts after a
        // sign-out has returned sees it (Acquire pairs with that Release store).
        if self.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(sid).is_some_and(|u| *u > now)
    }

    /// Drops expired entries; returns how many are left.
    pub fn prune(&self, now: i64) -> usize {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, u| *u > now);
        self.len.store(entries.len(), Ordering::Release);
        entries.len()
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
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
