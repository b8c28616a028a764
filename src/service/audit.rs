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

use diesel::QueryResult;

use super::Origin;
use crate::app::App;
use crate::cache::refusals::{Noted, Pending, RefusalKey};
pub use crate::cache::refusals::{Refusals, MANY_ADDRESSES};
pub use crate::db::audit::{Event, NewEvent, Reason, StoredEvent};
use crate::db::{audit, write_tx, DbConn};
use crate::error::AppError;

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
    NewEvent::new(
        now,
        event,
        user_id,
        username,
        reason,
        &origin.audit_address(),
        session_id,
    )
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
        // Counted by the client as the throttle knows it (an IPv6 client is its network), so
        // a banned network cannot make a row for each of its addresses.
        let key = RefusalKey {
            event,
            reason,
            user_id: user_id.map(str::to_string),
            client_ip: super::throttle::origin_key(app, origin),
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
    let mut row = NewEvent::new(now, event, user_id, username, reason, &ip, session_id);
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
        (Event::LoginFailed, Some(Reason::WrongSecondFactor)) => "event-wrong-second-factor",
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
        (Event::EmailVerified, _) => "event-email-verified",
        (Event::EmailChangeRequested, _) => "event-email-change-requested",
        (Event::EmailChanged, _) => "event-email-changed",
        (Event::PasswordResetMailed, _) => "event-password-reset-mailed",
        (Event::SecondFactorEnabled, _) => "event-second-factor-enabled",
        (Event::SecondFactorDisabled, Some(Reason::ByAdministrator)) => "event-second-factor-reset",
        (Event::SecondFactorDisabled, _) => "event-second-factor-disabled",
        (Event::RecoveryCodesRegenerated, _) => "event-recovery-codes-regenerated",
    }
}
