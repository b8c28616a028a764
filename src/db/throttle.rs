//! The throttle's rows: `throttle_events` (one row per counted attempt) and `bans`. What is
//! counted, and when a ban is due, is decided by `service::throttle`; these are its queries.

use diesel::prelude::*;

use super::schema::{bans, throttle_events};
use super::DbConn;

/// What a ban is on. Stored as `bans.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanKind {
    Account,
    Ip,
    Device,
}

impl BanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BanKind::Account => "account",
            BanKind::Ip => "ip",
            BanKind::Device => "device",
        }
    }

    pub fn parse(s: &str) -> Option<BanKind> {
        match s {
            "account" => Some(BanKind::Account),
            "ip" => Some(BanKind::Ip),
            "device" => Some(BanKind::Device),
            _ => None,
        }
    }

    /// The `throttle_events.kind` whose count leads to this ban.
    pub fn event(self) -> &'static str {
        match self {
            BanKind::Account => "login_account",
            BanKind::Ip => "login_ip",
            BanKind::Device => "login_device",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bans)]
pub struct Ban {
    pub kind: String,
    pub key: String,
    pub until: i64,
    pub created_at: i64,
    pub reason: String,
}

/// What the database says about one counted key.
#[derive(Debug, Clone, Copy)]
pub struct Recent {
    /// Events within the window, in flight ones included.
    pub count: i64,
    pub oldest: Option<i64>,
    /// When the key's ban lifts, if it has one.
    pub ban_until: Option<i64>,
}

/// One statement: the events of `event`/`key` after `since`, and the key's ban of `ban_kind`
/// in force at `now` (a kind no ban has, `""`, for counts that ban nothing) as a subquery.
pub fn recent(
    conn: &mut DbConn,
    event: &str,
    key: &str,
    ban_kind: &str,
    since: i64,
    now: i64,
) -> QueryResult<Recent> {
    let ban = bans::table
        .filter(bans::kind.eq(ban_kind))
        .filter(bans::key.eq(key))
        .filter(bans::until.gt(now))
        .select(bans::until)
        .single_value();
    let (count, oldest, ban_until) = throttle_events::table
        .filter(throttle_events::kind.eq(event))
        .filter(throttle_events::key.eq(key))
        .filter(throttle_events::created_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(throttle_events::created_at),
            ban,
        ))
        .get_result(conn)?;
    Ok(Recent {
        count,
        oldest,
        ban_until,
    })
}

/// Counts one attempt; its row id.
pub fn insert_event(conn: &mut DbConn, event: &str, key: &str, now: i64) -> QueryResult<i64> {
    diesel::insert_into(throttle_events::table)
        .values((
            throttle_events::kind.eq(event),
            throttle_events::key.eq(key),
            throttle_events::created_at.eq(now),
        ))
        .returning(throttle_events::id)
        .get_result(conn)
}

/// Deletes the events of `event`/`key` up to and including row `id` (a success resets the
/// count of what it succeeded for, but not attempts counted after it).
pub fn delete_events_through(
    conn: &mut DbConn,
    event: &str,
    key: &str,
    id: i64,
) -> QueryResult<usize> {
    diesel::delete(
        throttle_events::table
            .filter(throttle_events::kind.eq(event))
            .filter(throttle_events::key.eq(key))
            .filter(throttle_events::id.le(id)),
    )
    .execute(conn)
}

pub fn delete_events(conn: &mut DbConn, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(throttle_events::table.filter(throttle_events::id.eq_any(ids))).execute(conn)
}

/// Deletes the events of `event`/`key` but for the newest `keep`.
pub fn keep_newest_events(
    conn: &mut DbConn,
    event: &str,
    key: &str,
    keep: i64,
) -> QueryResult<usize> {
    let kept: Vec<i64> = throttle_events::table
        .filter(throttle_events::kind.eq(event))
        .filter(throttle_events::key.eq(key))
        .order(throttle_events::id.desc())
        .limit(keep)
        .select(throttle_events::id)
        .load(conn)?;
    let spent = throttle_events::table
        .filter(throttle_events::kind.eq(event))
        .filter(throttle_events::key.eq(key));
    match kept.last() {
        Some(oldest_kept) => {
            diesel::delete(spent.filter(throttle_events::id.lt(oldest_kept))).execute(conn)
        }
        None => diesel::delete(spent).execute(conn),
    }
}

/// PostgreSQL at READ COMMITTED lets two transactions count the same key at once and both
/// add a row; an advisory lock per key (held to the end of the transaction) makes them take
/// turns. One statement takes them all, in ascending order (PostgreSQL evaluates a select
/// list left to right), so two attempts never wait on each other crosswise. It must be a
/// statement of its own: the counting statement's snapshot has to start after the wait.
/// SQLite needs nothing: `write_tx` begins with `BEGIN IMMEDIATE`, which already serialises
/// writers.
pub fn lock_keys(conn: &mut DbConn, locks: &[i64]) -> QueryResult<()> {
    let DbConn::Pg(pg) = conn else {
        return Ok(());
    };
    let mut locks = locks.to_vec();
    locks.sort_unstable();
    locks.dedup();
    if locks.is_empty() {
        return Ok(());
    }
    let calls: Vec<String> = (1..=locks.len())
        .map(|i| format!("pg_advisory_xact_lock(${i})"))
        .collect();
    let mut query = diesel::sql_query(format!("SELECT {}", calls.join(", "))).into_boxed();
    for lock in locks {
        query = query.bind::<diesel::sql_types::BigInt, _>(lock);
    }
    query.execute(pg).map(|_| ())
}

pub fn put_ban(conn: &mut DbConn, ban: &Ban) -> QueryResult<()> {
    // An expired row for the same key may still be there: replace it.
    diesel::delete(
        bans::table
            .filter(bans::kind.eq(&ban.kind))
            .filter(bans::key.eq(&ban.key)),
    )
    .execute(conn)?;
    diesel::insert_into(bans::table)
        .values(ban)
        .execute(conn)
        .map(|_| ())
}

/// Every ban still in force, soonest to lift first.
pub fn list_bans(conn: &mut DbConn, now: i64) -> QueryResult<Vec<Ban>> {
    bans::table
        .filter(bans::until.gt(now))
        .order(bans::until.asc())
        .select(Ban::as_select())
        .load(conn)
}

/// Lifts the ban of `kind`/`key` and deletes the failures counted towards it (`event`).
pub fn clear_ban(conn: &mut DbConn, kind: &str, event: &str, key: &str) -> QueryResult<usize> {
    diesel::delete(
        throttle_events::table
            .filter(throttle_events::kind.eq(event))
            .filter(throttle_events::key.eq(key)),
    )
    .execute(conn)?;
    diesel::delete(
        bans::table
            .filter(bans::kind.eq(kind))
            .filter(bans::key.eq(key)),
    )
    .execute(conn)
}

/// Lifts every ban and deletes every counted event but those of `keep_event`.
pub fn clear_all_bans(conn: &mut DbConn, keep_event: &str) -> QueryResult<usize> {
    diesel::delete(throttle_events::table.filter(throttle_events::kind.ne(keep_event)))
        .execute(conn)?;
    diesel::delete(bans::table).execute(conn)
}

/// Deletes events older than any window that counts them, and lifted bans.
pub fn prune(conn: &mut DbConn, now: i64, oldest_window: i64) -> QueryResult<usize> {
    let events = diesel::delete(
        throttle_events::table.filter(throttle_events::created_at.le(now - oldest_window)),
    )
    .execute(conn)?;
    let lifted = diesel::delete(bans::table.filter(bans::until.le(now))).execute(conn)?;
    Ok(events + lifted)
}
