//! The second factor's rows: the TOTP columns of `users`, recovery codes, and sign-ins
//! waiting for their second step. Every "use once" is one conditional UPDATE, so two
//! instances (or two tabs) cannot both use the same code or the same pending sign-in.

use diesel::prelude::*;

use super::schema::{pending_signins, recovery_codes, users};
use super::DbConn;

/// Turns TOTP on with `sealed` as the secret, if it is not on already; `step`: the step of
/// the code that confirmed it (used, so the same code cannot sign in).
pub fn enable_totp(
    conn: &mut DbConn,
    user_id: &str,
    sealed: &[u8],
    step: i64,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled_at.is_null()),
    )
    .set((
        users::totp_secret.eq(Some(sealed)),
        users::totp_enabled_at.eq(Some(now)),
        users::totp_last_step.eq(Some(step)),
        users::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Turns the second factor off: the secret and every recovery code go.
pub fn disable(conn: &mut DbConn, user_id: &str, now: i64) -> QueryResult<bool> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(pending_signins::table.filter(pending_signins::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled_at.is_not_null()),
    )
    .set((
        users::totp_secret.eq(None::<Vec<u8>>),
        users::totp_enabled_at.eq(None::<i64>),
        users::totp_last_step.eq(None::<i64>),
        users::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records `step` as used, if it is later than the last one used: a code works once, on
/// every instance.
pub fn use_step(conn: &mut DbConn, user_id: &str, step: i64) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled_at.is_not_null())
            .filter(
                users::totp_last_step
                    .is_null()
                    .or(users::totp_last_step.lt(step)),
            ),
    )
    .set(users::totp_last_step.eq(Some(step)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Replaces the user's recovery codes with `hashes`.
pub fn replace_codes(
    conn: &mut DbConn,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::code_hash.eq(hash),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Every recovery code row of the user: hash, made, used (for `gatehouse export`).
pub fn all_codes(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<(String, i64, Option<i64>)>> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .select((
            recovery_codes::code_hash,
            recovery_codes::created_at,
            recovery_codes::used_at,
        ))
        .load(conn)
}

/// One recovery code row as exported (`gatehouse import`).
pub fn insert_code(
    conn: &mut DbConn,
    user_id: &str,
    hash: &str,
    created_at: i64,
    used_at: Option<i64>,
) -> QueryResult<()> {
    diesel::insert_into(recovery_codes::table)
        .values((
            recovery_codes::code_hash.eq(hash),
            recovery_codes::user_id.eq(user_id),
            recovery_codes::created_at.eq(created_at),
            recovery_codes::used_at.eq(used_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Uses a recovery code, if it is the user's and unused.
pub fn use_code(conn: &mut DbConn, user_id: &str, hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        recovery_codes::table
            .find(hash)
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Recovery codes the user has not used.
pub fn codes_left(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pending_signins)]
pub struct Pending {
    pub id_hash: String,
    pub user_id: String,
    /// The hash the password matched: a password changed since voids the pending sign-in.
    pub password_hash: String,
    /// The password's hash at today's cost, stored in its place when the sign-in completes.
    pub upgrade: Option<String>,
    pub remember: bool,
    pub next: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert_pending(conn: &mut DbConn, pending: &Pending) -> QueryResult<()> {
    diesel::insert_into(pending_signins::table)
        .values(pending)
        .execute(conn)
        .map(|_| ())
}

/// The pending sign-in `id_hash` names, if it is unused and unexpired.
pub fn find_pending(conn: &mut DbConn, id_hash: &str, now: i64) -> QueryResult<Option<Pending>> {
    pending_signins::table
        .find(id_hash)
        .filter(pending_signins::used_at.is_null())
        .filter(pending_signins::expires_at.gt(now))
        .select(Pending::as_select())
        .first(conn)
        .optional()
}

/// Uses up a pending sign-in (its second step succeeded), if nobody did first.
pub fn finish_pending(conn: &mut DbConn, id_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        pending_signins::table
            .find(id_hash)
            .filter(pending_signins::used_at.is_null()),
    )
    .set(pending_signins::used_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Deletes pending sign-ins that expired before `before` (upkeep).
pub fn prune_pending(conn: &mut DbConn, before: i64) -> QueryResult<usize> {
    diesel::delete(pending_signins::table.filter(pending_signins::expires_at.lt(before)))
        .execute(conn)
}
