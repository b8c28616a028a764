//! Tokens whose signature and claims already checked out, so a repeat visit skips the
//! signature check (60 us for Ed25519). Keyed by the whole token string.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Verified tokens remembered; a few MB at most.
const CAP: usize = 4096;

pub struct VerifiedTokens<V> {
    entries: quick_cache::sync::Cache<String, Arc<V>>,
    /// Bumped whenever the set of keys changes, so a verification that used the old set
    /// cannot put its token back after the set was emptied.
    generation: AtomicU64,
}

impl<V> Default for VerifiedTokens<V> {
    fn default() -> Self {
        VerifiedTokens {
            entries: quick_cache::sync::Cache::new(CAP),
            generation: AtomicU64::new(0),
        }
    }
}

impl<V> VerifiedTokens<V> {
    pub fn get(&self, token: &str) -> Option<Arc<V>> {
        self.entries.get(token)
    }

    /// The key set a verification starting now checks against.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers a token verified against the key set of `generation`. If the set has
    /// changed since, the entry may have landed after `keys_changed` emptied the cache, so it
    /// is taken out again (the caller's answer stands: it was right when its request began).
    pub fn remember(&self, token: &str, claims: &Arc<V>, generation: u64) {
        self.entries.insert(token.to_string(), claims.clone());
        if self.generation() != generation {
            self.entries.remove(token);
        }
    }

    /// A key was added or retired: no token verified before may skip the check any more.
    /// The generation moves first: see `remember`.
    pub fn keys_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }
}
