//! The audit trail (SECURITY-BAR LG-8): every auth event as a structured log line and a row
//! in `audit_events`. What is recorded is chosen here, in one place, so no password, token
//! or CSRF value can slip in: callers pass ids, names, an [`Event`] and a [`Reason`] only.
//!
//! Refusals (a sign-in refused during a ban) are the exception to one row per event: a
//! banned client's 429 costs it nothing, so a flood of them must cost us nothing either (no
//! database write, no log line per request, or the flood fills the disk). The first refusal
//! of a (event, reason, account, address) within a ban is logged and stored at once; later
//! ones only bump a counter in memory, which upkeep (`tasks.rs`) adds to that row's `count`
//! and `last_at` every minute, with one log line saying how many more there were.

use std::collections::HashMap;
use std::sync::Mutex;

use diesel::QueryResult;

use super::Origin;
use crate::app::App;
pub use crate::db::audit::{NewEvent, StoredEvent};
use crate::db::{audit, write_tx, DbConn};
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Registered,
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    Logout,
    SessionRevoked,
    PasswordChanged,
    AccountDeleted,
    AccountDisabled,
    AccountEnabled,
    BansCleared,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Registered => "registered",
            Event::LoginSucceeded => "login_succeeded",
            Event::LoginFailed => "login_failed",
            Event::LoginThrottled => "login_throttled",
            Event::Logout => "logout",
            Event::SessionRevoked => "session_revoked",
            Event::PasswordChanged => "password_changed",
            Event::AccountDeleted => "account_deleted",
            Event::AccountDisabled => "account_disabled",
            Event::AccountEnabled => "account_enabled",
            Event::BansCleared => "bans_cleared",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        ALL_EVENTS.iter().copied().find(|e| e.as_str() == s)
    }

    /// Refused before any real work, so cheap to repeat: counted, not stored one by one.
    fn is_refusal(self) -> bool {
        self == Event::LoginThrottled
    }
}

const ALL_EVENTS: [Event; 11] = [
    Event::Registered,
    Event::LoginSucceeded,
    Event::LoginFailed,
    Event::LoginThrottled,
    Event::Logout,
    Event::SessionRevoked,
    Event::PasswordChanged,
    Event::AccountDeleted,
    Event::AccountDisabled,
    Event::AccountEnabled,
    Event::BansCleared,
];

/// Why an event happened, as stored in `audit_events.reason` (the strings are kept as they
/// were, so older rows read the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Ok,
    PasswordHashUpgraded,
    UnknownUser,
    AccountBanned,
    AccountDisabled,
    WrongPassword,
    PasswordChangedDuringSignIn,
    AddressBanned,
    WrongCurrentPassword,
    AccountBannedAtPasswordCheck,
    OneDevice,
    AllOtherDevices,
    DeletedByOwner,
    ByAdministrator,
    CreatedByAdministrator,
    DeletedByAdministrator,
    SetByAdministrator,
    AccountBanLifted,
    AddressBanLifted,
    AllBansLifted,
}

const ALL_REASONS: [Reason; 20] = [
    Reason::Ok,
    Reason::PasswordHashUpgraded,
    Reason::UnknownUser,
    Reason::AccountBanned,
    Reason::AccountDisabled,
    Reason::WrongPassword,
    Reason::PasswordChangedDuringSignIn,
    Reason::AddressBanned,
    Reason::WrongCurrentPassword,
    Reason::AccountBannedAtPasswordCheck,
    Reason::OneDevice,
    Reason::AllOtherDevices,
    Reason::DeletedByOwner,
    Reason::ByAdministrator,
    Reason::CreatedByAdministrator,
    Reason::DeletedByAdministrator,
    Reason::SetByAdministrator,
    Reason::AccountBanLifted,
    Reason::AddressBanLifted,
    Reason::AllBansLifted,
];

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::PasswordHashUpgraded => "password hash upgraded",
            Reason::UnknownUser => "unknown user",
            Reason::AccountBanned => "account banned",
            Reason::AccountDisabled => "account disabled",
            Reason::WrongPassword => "wrong password",
            Reason::PasswordChangedDuringSignIn => "password changed during sign-in",
            Reason::AddressBanned => "address banned",
            Reason::WrongCurrentPassword => "wrong current password",
            Reason::AccountBannedAtPasswordCheck => "account banned (password check)",
            Reason::OneDevice => "one device",
            Reason::AllOtherDevices => "all other devices",
            Reason::DeletedByOwner => "deleted by its owner",
            Reason::ByAdministrator => "by an administrator",
            Reason::CreatedByAdministrator => "created by an administrator",
            Reason::DeletedByAdministrator => "deleted by an administrator",
            Reason::SetByAdministrator => "set by an administrator",
            Reason::AccountBanLifted => "account ban lifted by an administrator",
            Reason::AddressBanLifted => "address ban lifted by an administrator",
            Reason::AllBansLifted => "all bans lifted by an administrator",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        ALL_REASONS.iter().copied().find(|r| r.as_str() == s)
    }
}

/// One event's row: who (`user_id`, `username`), what, why, from where (an address, or
/// `cli` for the command line), in which session.
pub fn event(
    now: i64,
    event: Event,
    user_id: Option<&str>,
    username: Option<&str>,
    reason: Reason,
    origin: &Origin,
    session_id: Option<&str>,
) -> NewEvent {
    new_row(
        now,
        event,
        user_id,
        username,
        reason,
        &origin.audit_address(),
        session_id,
    )
}

fn new_row(
    now: i64,
    event: Event,
    user_id: Option<&str>,
    username: Option<&str>,
    reason: Reason,
    client_ip: &str,
    session_id: Option<&str>,
) -> NewEvent {
    NewEvent {
        created_at: now,
        event: event.as_str().to_string(),
        user_id: user_id.map(str::to_string),
        username: username.map(str::to_string),
        reason: reason.as_str().to_string(),
        client_ip: client_ip.to_string(),
        session_id: session_id.map(str::to_string),
        count: 1,
        last_at: None,
    }
}

fn log(e: &NewEvent) {
    let line = serde_json::json!({
        "audit": e.event,
        "time": e.created_at,
        "user_id": e.user_id,
        "username": e.username,
        "reason": e.reason,
        "client_ip": e.client_ip,
        "session_id": e.session_id,
    });
    log::info!(target: "gatehouse::audit", "{line}");
}

/// Logs and stores one event inside the caller's transaction, so the event lands with the
/// change it describes (or not at all).
pub fn store(conn: &mut DbConn, event: &NewEvent) -> QueryResult<()> {
    log(event);
    audit::insert(conn, event).map(|_| ())
}

/// Logs and stores one event. Storing is best effort: an audit row must never be the reason
/// a sign-in fails, but a failure to store it is logged loudly. A refusal within a ban that
/// already has its row is only counted (see the module comment).
pub async fn record(
    app: &App,
    event: Event,
    user_id: Option<&str>,
    username: Option<&str>,
    reason: Reason,
    origin: &Origin,
    session_id: Option<&str>,
) {
    let now = app.clock.now();
    let ip = origin.audit_address();
    let tally = if event.is_refusal() {
        let key = RefusalKey {
            event,
            reason,
            user_id: user_id.map(str::to_string),
            client_ip: ip.clone(),
        };
        match app
            .refusals
            .note(key, username, now, app.settings.login_ban_time)
        {
            Noted::Counted => return,
            Noted::First { tally, key } => Some((tally, key)),
        }
    } else {
        None
    };
    let mut row = new_row(now, event, user_id, username, reason, &ip, session_id);
    if let Some((_, key)) = &tally {
        // Past the itemising cap, a refusal is counted with others of its reason.
        row.user_id = key.user_id.clone();
        row.username = row.user_id.as_ref().and(row.username.take());
        row.client_ip = key.client_ip.clone();
    }
    log(&row);
    let stored = app.db.run(move |conn| Ok(audit::insert(conn, &row)?)).await;
    if let Err(e) = &stored {
        log::error!("audit event not stored: {e}");
    }
    if let Some((tally, _)) = tally {
        app.refusals.stored(tally, stored.ok());
    }
}

/// What a refusal is counted under: one row per key per ban.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RefusalKey {
    event: Event,
    reason: Reason,
    user_id: Option<String>,
    client_ip: String,
}

/// Stands for "refusals from more addresses than are itemised" in `client_ip`.
pub const MANY_ADDRESSES: &str = "*";

impl RefusalKey {
    fn folded(&self) -> RefusalKey {
        RefusalKey {
            event: self.event,
            reason: self.reason,
            user_id: None,
            client_ip: MANY_ADDRESSES.to_string(),
        }
    }

    fn is_folded(&self) -> bool {
        self.client_ip == MANY_ADDRESSES && self.user_id.is_none()
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
}

/// Refusals counted in memory between two upkeep passes. Bounded: at most `cap` tallies
/// (open, or closed but not yet written); beyond that, a new key is counted in one tally per
/// reason whose `client_ip` is [`MANY_ADDRESSES`].
pub struct Refusals {
    tallies: Mutex<Tallies>,
    cap: usize,
}

/// What [`Refusals::note`] decided.
enum Noted {
    /// The first of its ban: write its row (with `key`, which may be folded) and report back.
    First { tally: u64, key: RefusalKey },
    /// Counted; nothing to write now.
    Counted,
}

/// One row's worth of counted refusals, for upkeep to write.
#[derive(Debug, Clone)]
struct Pending {
    tally: u64,
    /// `None`: insert a row (its first write failed).
    row: Option<i64>,
    count: i64,
    event: NewEvent,
}

/// Rows written by [`flush_refusals`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Rows whose `count` grew.
    pub updated: usize,
    /// Rows written late (their first write had failed).
    pub inserted: usize,
    /// Refusals added to rows in all.
    pub refusals: i64,
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
    fn note(&self, key: RefusalKey, username: Option<&str>, now: i64, ban_time: i64) -> Noted {
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
            if t.all.len() < self.cap || key.is_folded() {
                break;
            }
            key = key.folded();
        }
        let id = t.next;
        t.next += 1;
        t.open.insert(key.clone(), id);
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
    fn stored(&self, tally: u64, row: Option<i64>) {
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
    fn take(&self, now: i64, ban_time: i64) -> Vec<Pending> {
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
            let mut event = new_row(
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
            t.all.remove(&id);
        }
        out
    }

    /// Upkeep wrote `p` (`Ok`, with the row it inserted if any) or could not (`Err`: the
    /// counts go back, to be written next time).
    fn finish(&self, p: &Pending, written: Result<Option<i64>, ()>) {
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

/// Rows per write transaction when flushing, so a big flush never holds the write lock long.
const FLUSH_BATCH: usize = 200;

/// Adds the refusals counted since the last pass to their rows (upkeep, every minute, and at
/// shutdown), each with one log line. What cannot be written now is kept for the next pass.
pub async fn flush_refusals(app: &App) -> Result<Flushed, AppError> {
    let pending = app
        .refusals
        .take(app.clock.now(), app.settings.login_ban_time);
    let mut flushed = Flushed::default();
    let mut failure = None;
    for batch in pending.chunks(FLUSH_BATCH) {
        let work = batch.to_vec();
        let written = app
            .db
            .run(move |conn| {
                Ok(write_tx(conn, |c| {
                    work.iter()
                        .map(|p| write_pending(c, p))
                        .collect::<QueryResult<Vec<_>>>()
                })?)
            })
            .await;
        match written {
            Ok(rows) => {
                for (p, row) in batch.iter().zip(rows) {
                    app.refusals.finish(p, Ok(row));
                    log_repeated(&p.event, p.count);
                    flushed.refusals += p.count;
                    match row {
                        Some(_) => flushed.inserted += 1,
                        None => flushed.updated += 1,
                    }
                }
            }
            Err(e) => {
                for p in batch {
                    app.refusals.finish(p, Err(()));
                }
                failure = Some(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(flushed),
    }
}

fn write_pending(conn: &mut DbConn, p: &Pending) -> QueryResult<Option<i64>> {
    match p.row {
        Some(id) => {
            audit::add_to_count(conn, id, p.count, p.event.last_at)?;
            Ok(None)
        }
        None => audit::insert(conn, &p.event).map(Some),
    }
}

/// One line for many refusals: how many more there were, and over what span.
fn log_repeated(event: &NewEvent, count: i64) {
    let line = serde_json::json!({
        "audit": event.event,
        "time": event.created_at,
        "last": event.last_at,
        "repeated": count,
        "user_id": event.user_id,
        "username": event.username,
        "reason": event.reason,
        "client_ip": event.client_ip,
    });
    log::info!(target: "gatehouse::audit", "{line}");
}

/// Rows deleted per statement when pruning: each delete is its own short transaction, so a
/// large backlog never holds SQLite's write lock for long (about 15 ms for 200 rows on the
/// 2-core test machine).
const PRUNE_BATCH: i64 = 200;
/// The pause between two batches. SQLite's writers waiting for the lock retry at least every
/// 100 ms (its busy handler's longest sleep), so a shorter gap could starve them.
const PRUNE_PAUSE: std::time::Duration = std::time::Duration::from_millis(120);
/// Most batches per upkeep pass (about half a minute); a larger backlog is worked through over
/// the following passes.
const PRUNE_MAX_BATCHES: usize = 250;

/// Deletes events older than `audit_retention`, in batches. Returns how many went.
pub async fn prune(app: &App, now: i64) -> Result<usize, AppError> {
    let before = now - app.settings.audit_retention;
    let mut total = 0;
    for _ in 0..PRUNE_MAX_BATCHES {
        let deleted = app
            .db
            .run(move |conn| Ok(audit::delete_older_than(conn, before, PRUNE_BATCH)?))
            .await?;
        total += deleted;
        if (deleted as i64) < PRUNE_BATCH {
            break;
        }
        // Let waiting writers (sign-ins) take the lock between two batches.
        rocket::tokio::time::sleep(PRUNE_PAUSE).await;
    }
    Ok(total)
}

/// The user's own latest events, newest first.
pub async fn recent_for_user(
    app: &App,
    user_id: &str,
    limit: i64,
) -> Result<Vec<StoredEvent>, AppError> {
    let id = user_id.to_string();
    app.db
        .run(move |conn| Ok(audit::recent_for_user(conn, &id, limit)?))
        .await
}

/// The message key for what a stored event means to its user.
pub fn message_key(e: &StoredEvent) -> &'static str {
    let Some(event) = Event::parse(&e.event) else {
        return "event-other";
    };
    let reason = Reason::parse(&e.reason);
    match (event, reason) {
        (Event::Registered, _) => "event-registered",
        (Event::LoginSucceeded, _) => "event-login-succeeded",
        (Event::LoginFailed, Some(Reason::WrongCurrentPassword)) => "event-wrong-current-password",
        (Event::LoginFailed, _) => "event-login-failed",
        (Event::LoginThrottled, _) => "event-login-throttled",
        (Event::Logout, _) => "event-logout",
        (Event::SessionRevoked, Some(Reason::AllOtherDevices)) => "event-session-revoked-all",
        (Event::SessionRevoked, _) => "event-session-revoked",
        (Event::PasswordChanged, _) => "event-password-changed",
        (Event::AccountDisabled, _) => "event-account-disabled",
        (Event::AccountEnabled, _) => "event-account-enabled",
        (Event::AccountDeleted, _) => "event-account-deleted",
        (Event::BansCleared, _) => "event-bans-cleared",
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
