//! Session rows: one per sign-in, `id` = the JWT `sid`.

use diesel::prelude::*;

use super::schema::{sessions, users};
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub remember: bool,
    pub user_agent: String,
    pub client_ip: String,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// How the user signed in: RFC 8176 `amr` values, comma-separated (`pwd`; `pwd,otp,mfa`).
    pub amr: String,
}

impl Session {
    /// Live: not revoked, not idle too long, not past its absolute limit.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

pub fn insert(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(|_| ())
}

/// The session and its user in one query: what a revalidation needs.
pub fn find_with_user(
    conn: &mut DbConn,
    sid: &str,
) -> QueryResult<Option<(Session, super::users::User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(sid))
        .select((Session::as_select(), super::users::User::as_select()))
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, sid: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::id.eq(sid))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// Marks activity and slides the idle expiry, never past the absolute one. Only a live row
/// is touched, so a concurrent revoke always wins.
pub fn touch(conn: &mut DbConn, sid: &str, now: i64, idle_expires_at: i64) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(sid))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::last_seen_at.eq(now),
        sessions::idle_expires_at.eq(idle_expires_at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// A user's live sessions, oldest first.
pub fn live_for_user(conn: &mut DbConn, user_id: &str, now: i64) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::idle_expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .order((sessions::created_at.asc(), sessions::id.asc()))
        .select(Session::as_select())
        .load(conn)
}

/// Revokes every live session of a user except `keep`; returns the revoked ids.
pub fn revoke_all_for_user(
    conn: &mut DbConn,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
    reason: &str,
) -> QueryResult<Vec<String>> {
    let ids: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(keep.unwrap_or("")))
        .select(sessions::id)
        .load(conn)?;
    diesel::update(sessions::table.filter(sessions::id.eq_any(&ids)))
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(ids)
}

/// Revokes one session; returns whether it was live before.
pub fn revoke(conn: &mut DbConn, sid: &str, now: i64, reason: &str) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(sid))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Deletes rows nobody can use any more. Revoked rows go too: the deny list and the audit
/// trail, not this table, remember revocations.
pub fn prune(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::absolute_expires_at
                .le(now)
                .or(sessions::idle_expires_at.le(now))
                .or(sessions::revoked_at.is_not_null()),
        ),
    )
    .execute(conn)
}
