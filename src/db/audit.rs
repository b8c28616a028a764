//! The audit trail's rows (`audit_events`). What is recorded, and when, is `service::audit`.

use diesel::prelude::*;

use super::schema::audit_events;
use super::DbConn;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewEvent {
    pub created_at: i64,
    pub event: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub reason: String,
    pub client_ip: String,
    pub session_id: Option<String>,
    /// How many events this row stands for (repeated refusals, see `service::audit`).
    pub count: i64,
    /// The latest of them, when there is more than one.
    pub last_at: Option<i64>,
}

/// A stored event, as the account page shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct StoredEvent {
    pub id: i64,
    pub created_at: i64,
    pub event: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub reason: String,
    pub client_ip: String,
    pub session_id: Option<String>,
    pub count: i64,
    pub last_at: Option<i64>,
}

/// Stores one event; its row id.
pub fn insert(conn: &mut DbConn, event: &NewEvent) -> QueryResult<i64> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .returning(audit_events::id)
        .get_result(conn)
}

/// Adds `count` more events to row `id`, the latest at `last_at`.
pub fn add_to_count(
    conn: &mut DbConn,
    id: i64,
    count: i64,
    last_at: Option<i64>,
) -> QueryResult<()> {
    diesel::update(audit_events::table.find(id))
        .set((
            audit_events::count.eq(audit_events::count + count),
            audit_events::last_at.eq(last_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Deletes up to `limit` events from before `before`; how many went.
pub fn delete_older_than(conn: &mut DbConn, before: i64, limit: i64) -> QueryResult<usize> {
    let old: Vec<i64> = audit_events::table
        .filter(audit_events::created_at.lt(before))
        .select(audit_events::id)
        .limit(limit)
        .load(conn)?;
    if old.is_empty() {
        return Ok(0);
    }
    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(old))).execute(conn)
}

/// The user's own latest events, newest first.
pub fn recent_for_user(
    conn: &mut DbConn,
    user_id: &str,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    audit_events::table
        .filter(audit_events::user_id.eq(user_id))
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)
}
