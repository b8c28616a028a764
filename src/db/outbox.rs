//! The outbox's rows: mail waiting to go out (and password reset requests waiting to be
//! looked at), claimed with a lease so that of several instances exactly one sends each.

use diesel::prelude::*;

use super::schema::outbox;
use super::DbConn;

/// What a row holds.
pub mod kind {
    /// A message (`payload`: the sealed [`crate::mail::Message`]).
    pub const MAIL: &str = "mail";
    /// A password reset asked for (`payload`: the sealed request); looked up by the worker, so
    /// the page answers before anything depends on whether the address has an account.
    pub const RESET_REQUEST: &str = "reset_request";
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewRow<'a> {
    pub created_at: i64,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub payload: Option<Vec<u8>>,
    pub next_attempt_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct Row {
    pub id: i64,
    pub created_at: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub payload: Option<Vec<u8>>,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    pub sent_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub last_error: Option<String>,
}

pub fn insert(conn: &mut DbConn, row: &NewRow<'_>) -> QueryResult<i64> {
    diesel::insert_into(outbox::table)
        .values(row)
        .returning(outbox::id)
        .get_result(conn)
}

/// Claims up to `limit` rows that are due and not held by another worker (its lease ran
/// out), holding them until `lease_until`. In the caller's write transaction: on PostgreSQL
/// the candidates are locked `FOR UPDATE SKIP LOCKED`, so two instances pick different rows;
/// on SQLite the write transaction already excludes the other writers. The lease itself is a
/// conditional update, so a row is never claimed twice even without the lock.
pub fn claim(conn: &mut DbConn, now: i64, lease_until: i64, limit: i64) -> QueryResult<Vec<Row>> {
    let due = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .filter(outbox::next_attempt_at.le(now))
        .filter(
            outbox::lease_until
                .is_null()
                .or(outbox::lease_until.lt(now)),
        )
        .order(outbox::id.asc())
        .limit(limit)
        .select(outbox::id);
    let ids: Vec<i64> = match conn {
        DbConn::Pg(pg) => due.for_update().skip_locked().load(pg)?,
        DbConn::Sqlite(sqlite) => due.load(sqlite)?,
    };
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let taken = diesel::update(
            outbox::table.find(id).filter(
                outbox::lease_until
                    .is_null()
                    .or(outbox::lease_until.lt(now)),
            ),
        )
        .set(outbox::lease_until.eq(lease_until))
        .execute(conn)?;
        if taken == 1 {
            claimed.push(
                outbox::table
                    .find(id)
                    .select(Row::as_select())
                    .first(conn)?,
            );
        }
    }
    Ok(claimed)
}

/// Sent: the message itself is erased (it may carry a live link); the row stays as a record.
pub fn sent(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::sent_at.eq(now),
            outbox::payload.eq(None::<Vec<u8>>),
            outbox::lease_until.eq(None::<i64>),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Not sent this time: tried again at `next_attempt_at`.
pub fn retry_later(
    conn: &mut DbConn,
    id: i64,
    next_attempt_at: i64,
    error: &str,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::lease_until.eq(None::<i64>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Given up on: kept (without its message) for `gatehouse mail queue` to show.
pub fn failed(conn: &mut DbConn, id: i64, now: i64, error: &str) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::failed_at.eq(now),
            outbox::payload.eq(None::<Vec<u8>>),
            outbox::lease_until.eq(None::<i64>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)
        .map(|_| ())
}

/// What waits or has failed, oldest first (not what was sent).
pub fn pending_and_failed(conn: &mut DbConn) -> QueryResult<Vec<Row>> {
    outbox::table
        .filter(outbox::sent_at.is_null())
        .order(outbox::id.asc())
        .select(Row::as_select())
        .load(conn)
}

/// The earliest time a waiting row can be claimed, if any waits: when it is due, or for a row
/// another worker holds, when that lease runs out.
pub fn next_due(conn: &mut DbConn, now: i64) -> QueryResult<Option<i64>> {
    let waiting = || {
        outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null())
    };
    let free: Option<i64> = waiting()
        .filter(
            outbox::lease_until
                .is_null()
                .or(outbox::lease_until.lt(now)),
        )
        .select(diesel::dsl::min(outbox::next_attempt_at))
        .first(conn)?;
    let held: Option<i64> = waiting()
        .filter(outbox::lease_until.ge(now))
        .select(diesel::dsl::min(outbox::lease_until))
        .first(conn)?;
    // A lease is over once `lease_until < now`.
    Ok(match (free, held.map(|l| l + 1)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Deletes rows sent or given up on before `before` (upkeep).
pub fn prune(conn: &mut DbConn, before: i64) -> QueryResult<usize> {
    diesel::delete(
        outbox::table.filter(outbox::sent_at.lt(before).or(outbox::failed_at.lt(before))),
    )
    .execute(conn)
}
