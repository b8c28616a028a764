//! The in-memory map behind the per-instance caches (forward-auth profiles, dashboard session
//! views): an entry is trusted for `max_age` seconds (the session revalidation interval, so
//! nothing cached is staler than a token), and the map never holds more than `cap` entries.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

type Entries<V> = HashMap<String, (Arc<V>, i64)>;

/// Read on every signed-in page, written about once per session and interval: readers share
/// the lock, so the web workers never queue behind each other here.
pub struct FreshMap<V> {
    entries: RwLock<Entries<V>>,
    cap: usize,
}

impl<V> FreshMap<V> {
    pub fn new(cap: usize) -> Self {
        FreshMap {
            entries: RwLock::new(HashMap::new()),
            cap: cap.max(1),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries<V>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries<V>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `key` if it was stored less than `max_age` seconds before `now`.
    pub fn get(&self, key: &str, now: i64, max_age: i64) -> Option<Arc<V>> {
        let entries = self.read();
        let (value, at) = entries.get(key)?;
        (now - at < max_age).then(|| value.clone())
    }

    /// Stores `value` as of `now`. When full, stale entries go first; if all are fresh, all go
    /// (a burst of new keys must not grow memory, and a miss only costs one query).
    pub fn put(&self, key: &str, value: V, now: i64, max_age: i64) -> Arc<V> {
        let value = Arc::new(value);
        let mut entries = self.write();
        if entries.len() >= self.cap && !entries.contains_key(key) {
            entries.retain(|_, (_, at)| now - *at < max_age);
            if entries.len() >= self.cap {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (value.clone(), now));
        value
    }

    pub fn remove(&self, key: &str) {
        self.write().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_trusted_for_max_age_only() {
        let m = FreshMap::new(10);
        m.put("a", 1, 100, 60);
        assert_eq!(m.get("a", 159, 60).as_deref(), Some(&1));
        assert_eq!(m.get("a", 160, 60), None);
        assert_eq!(m.get("b", 100, 60), None);
        m.remove("a");
        assert_eq!(m.get("a", 100, 60), None);
    }

    #[test]
    fn a_full_map_drops_stale_entries_first_and_never_exceeds_its_cap() {
        let m = FreshMap::new(2);
        m.put("old", 1, 0, 60);
        m.put("new", 2, 100, 60);
        m.put("third", 3, 100, 60);
        assert_eq!(
            m.get("new", 100, 60).as_deref(),
            Some(&2),
            "the fresh one stays"
        );
        assert_eq!(m.get("third", 100, 60).as_deref(), Some(&3));
        m.put("new", 4, 101, 60);
        assert_eq!(
            m.get("third", 101, 60).as_deref(),
            Some(&3),
            "replacing a key evicts nothing"
        );
        m.put("fourth", 5, 101, 60);
        assert_eq!(
            m.read().len(),
            1,
            "all fresh and full: cleared, then the new one"
        );
        assert_eq!(m.get("fourth", 101, 60).as_deref(), Some(&5));
    }
}
