//! Sign-in refusals counted in memory between two upkeep passes, so a banned client's flood
//! costs no database write and no log line per request (`service::audit` writes the counts).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::audit::{Event, NewEvent, Reason};

/// What a refusal is counted under: one row per key per ban.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefusalKey {
    pub event: Event,
    pub reason: Reason,
    pub user_id: Option<String>,
    pub client_ip: String,
}

/// Stands for "refusals from more addresses than are itemised" in `client_ip`.
pub const MANY_ADDRESSES: &str = "*";

impl RefusalKey {
    /// Past the cap: first the addresses of a refusal are counted together (the account
    /// they were refused for is kept, so an account ban is never lost in a flood from
    /// elsewhere), then, if even that is over the cap, the accounts too.
    fn folded(&self) -> RefusalKey {
        RefusalKey {
            event: self.event,
            reason: self.reason,
            user_id: if self.client_ip == MANY_ADDRESSES {
                None
            } else {
                self.user_id.clone()
            },
            client_ip: MANY_ADDRESSES.to_string(),
        }
    }

    fn is_folded(&self) -> bool {
        self.client_ip == MANY_ADDRESSES && self.user_id.is_none()
    }

    /// 0: itemised by address; 1: an account's, its addresses folded; 2: all folded. Each of
    /// the first two levels holds at most `cap` tallies, so a flood of addresses cannot
    /// crowd out the accounts' tallies.
    fn level(&self) -> usize {
        match (self.client_ip == MANY_ADDRESSES, self.user_id.is_some()) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    /// The first refusal's row is being written.
    Writing,
    Stored(i64),
    /// Its write failed (a full disk, an outage): upkeep writes it with the whole count.
    Unstored,
}

#[derive(Debug)]
struct Tally {
    key: RefusalKey,
    username: Option<String>,
    first_at: i64,
    last_at: i64,
    /// Refusals not yet in the row's `count`.
    pending: i64,
    row: Row,
}

#[derive(Default)]
struct Tallies {
    all: HashMap<u64, Tally>,
    /// The tally each key is counted in during its current ban.
    open: HashMap<RefusalKey, u64>,
    next: u64,
    /// Tallies held per folding level (`RefusalKey::level`).
    count: [usize; 3],
}

impl Tallies {
    fn held(&self, level: usize) -> usize {
        self.count[level]
    }
}

/// Refusals counted in memory between two upkeep passes. Bounded: at most `cap` tallies by
/// address and `cap` by account (open, or closed but not yet written); beyond that, a new
/// key is counted in one tally per
/// reason whose `client_ip` is [`MANY_ADDRESSES`].
pub struct Refusals {
    tallies: Mutex<Tallies>,
    cap: usize,
}

/// What [`Refusals::note`] decided.
pub enum Noted {
    /// The first of its ban: write its row (with `key`, which may be folded) and report back.
    First { tally: u64, key: RefusalKey },
    /// Counted; nothing to write now.
    Counted,
}

/// One row's worth of counted refusals, for upkeep to write.
#[derive(Debug, Clone)]
pub struct Pending {
    tally: u64,
    /// `None`: insert a row (its first write failed).
    pub row: Option<i64>,
    pub count: i64,
    pub event: NewEvent,
}

impl Refusals {
    pub fn new(cap: usize) -> Self {
        Refusals {
            tallies: Mutex::new(Tallies::default()),
            cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tallies> {
        self.tallies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tallies held in memory (for tests and the bound).
    pub fn len(&self) -> usize {
        self.lock().all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one refusal. A tally lasts one ban (`ban_time` from its first refusal): a
    /// refusal after that belongs to a later ban and gets a row of its own.
    pub fn note(&self, key: RefusalKey, username: Option<&str>, now: i64, ban_time: i64) -> Noted {
        let mut t = self.lock();
        let mut key = key;
        loop {
            if let Some(&id) = t.open.get(&key) {
                if let Some(tally) = t.all.get_mut(&id) {
                    if now < tally.first_at + ban_time {
                        tally.pending += 1;
                        tally.last_at = tally.last_at.max(now);
                        return Noted::Counted;
                    }
                }
                // That ban is over: its tally stays until upkeep has written it.
                t.open.remove(&key);
            }
            if key.is_folded() || t.held(key.level()) < self.cap {
                break;
            }
            key = key.folded();
        }
        let id = t.next;
        t.next += 1;
        t.open.insert(key.clone(), id);
        t.count[key.level()] += 1;
        let username = if key.is_folded() {
            None
        } else {
            username.map(str::to_string)
        };
        t.all.insert(
            id,
            Tally {
                key: key.clone(),
                username,
                first_at: now,
                last_at: now,
                pending: 0,
                row: Row::Writing,
            },
        );
        Noted::First { tally: id, key }
    }

    /// The first refusal's row was written (`Some(id)`) or not.
    pub fn stored(&self, tally: u64, row: Option<i64>) {
        let mut t = self.lock();
        if let Some(tally) = t.all.get_mut(&tally) {
            match row {
                Some(id) => tally.row = Row::Stored(id),
                None => {
                    tally.row = Row::Unstored;
                    tally.pending += 1;
                }
            }
        }
    }

    /// Takes what is to be written, and forgets tallies whose ban is over and whose counts
    /// are all written.
    pub fn take(&self, now: i64, ban_time: i64) -> Vec<Pending> {
        let mut guard = self.lock();
        let t = &mut *guard;
        let mut out = Vec::new();
        let mut done = Vec::new();
        for (&id, tally) in t.all.iter_mut() {
            let open = t.open.get(&tally.key) == Some(&id);
            if open && now >= tally.first_at + ban_time {
                t.open.remove(&tally.key);
            }
            let open = open && now < tally.first_at + ban_time;
            let row = match tally.row {
                Row::Writing => continue,
                Row::Stored(row) => Some(row),
                Row::Unstored => None,
            };
            if tally.pending == 0 {
                if !open {
                    done.push(id);
                }
                continue;
            }
            let mut event = NewEvent::new(
                tally.first_at,
                tally.key.event,
                tally.key.user_id.as_deref(),
                tally.username.as_deref(),
                tally.key.reason,
                &tally.key.client_ip,
                None,
            );
            event.count = tally.pending;
            event.last_at = Some(tally.last_at);
            out.push(Pending {
                tally: id,
                row,
                count: tally.pending,
                event,
            });
            tally.pending = 0;
            if row.is_none() {
                tally.row = Row::Writing;
            }
        }
        for id in done {
            if let Some(gone) = t.all.remove(&id) {
                t.count[gone.key.level()] -= 1;
            }
        }
        out
    }

    /// Upkeep wrote `p` (`Ok`, with the row it inserted if any) or could not (`Err`: the
    /// counts go back, to be written next time).
    pub fn finish(&self, p: &Pending, written: Result<Option<i64>, ()>) {
        let mut t = self.lock();
        let Some(tally) = t.all.get_mut(&p.tally) else {
            return;
        };
        match written {
            Ok(Some(id)) => tally.row = Row::Stored(id),
            Ok(None) => {}
            Err(()) => {
                tally.pending += p.count;
                if p.row.is_none() {
                    tally.row = Row::Unstored;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> RefusalKey {
        RefusalKey {
            event: Event::LoginThrottled,
            reason: Reason::AddressBanned,
            user_id: None,
            client_ip: ip.to_string(),
        }
    }

    #[test]
    fn tallies_are_bounded_whatever_the_number_of_addresses() {
        let r = Refusals::new(100);
        for i in 0..10_000 {
            let ip = format!("2001:db8::{i:x}");
            for _ in 0..3 {
                if let Noted::First { tally, .. } = r.note(key(&ip), None, 1000, 300) {
                    r.stored(tally, Some(i64::from(i)));
                }
            }
        }
        // 100 addresses counted apart, the rest together under one folded tally.
        assert_eq!(r.len(), 101);
        let pending = r.take(1000, 300);
        let folded: Vec<_> = pending
            .iter()
            .filter(|p| p.event.client_ip == MANY_ADDRESSES)
            .collect();
        assert_eq!(folded.len(), 1);
        // 9,900 addresses: the first refusal of all of them made the folded row, the rest
        // are counted in it.
        assert_eq!(folded[0].count, 9_900 * 3 - 1);
        // Once the ban is over and everything is written, memory is given back.
        for p in &pending {
            r.finish(p, Ok(None));
        }
        assert!(r.take(1300, 300).is_empty());
        assert!(r.is_empty());
    }

    #[test]
    fn past_the_cap_an_account_refusal_keeps_its_account() {
        let r = Refusals::new(2);
        for i in 0..5 {
            let _ = r.note(key(&format!("192.0.2.{i}")), None, 10, 300);
        }
        // A refusal for an account, from yet another address, while the cap is full.
        let account = RefusalKey {
            event: Event::LoginThrottled,
            reason: Reason::AccountBanned,
            user_id: Some("root-id".into()),
            client_ip: "203.0.113.5".into(),
        };
        let Noted::First { key, .. } = r.note(account, Some("root"), 11, 300) else {
            panic!("a new tally");
        };
        assert_eq!(
            key.user_id.as_deref(),
            Some("root-id"),
            "the account is kept"
        );
        assert_eq!(key.client_ip, MANY_ADDRESSES);
    }

    #[test]
    fn a_failed_write_keeps_the_count_for_the_next_pass() {
        let r = Refusals::new(10);
        let Noted::First { tally, .. } = r.note(key("192.0.2.1"), None, 10, 300) else {
            panic!("first");
        };
        r.stored(tally, None);
        assert!(matches!(
            r.note(key("192.0.2.1"), None, 11, 300),
            Noted::Counted
        ));
        let p = r.take(12, 300);
        assert_eq!((p.len(), p[0].row, p[0].count), (1, None, 2));
        // While a write is in flight, nothing else writes the same row.
        assert!(matches!(
            r.note(key("192.0.2.1"), None, 12, 300),
            Noted::Counted
        ));
        assert!(r.take(12, 300).is_empty());
        r.finish(&p[0], Err(()));
        let again = r.take(13, 300);
        assert_eq!((again[0].row, again[0].count), (None, 3));
        r.finish(&again[0], Ok(Some(42)));
        assert!(matches!(
            r.note(key("192.0.2.1"), None, 14, 300),
            Noted::Counted
        ));
        let next = r.take(14, 300);
        assert_eq!((next[0].row, next[0].count), (Some(42), 1));
    }
}
