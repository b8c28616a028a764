//! Links mailed to users, by the SHA-256 of their token (the token itself is only ever in
//! the mail).

use diesel::prelude::*;

use super::schema::email_tokens;
use super::DbConn;

pub mod purpose {
    /// Confirms `email` is the user's (their address, or the new one they asked for).
    pub const VERIFY: &str = "verify";
    pub const RESET: &str = "reset";
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = email_tokens)]
pub struct Token {
    pub token_hash: String,
    pub user_id: String,
    pub purpose: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert(conn: &mut DbConn, token: &Token) -> QueryResult<()> {
    diesel::insert_into(email_tokens::table)
        .values(token)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConn, token_hash: &str, purpose: &str) -> QueryResult<Option<Token>> {
    email_tokens::table
        .filter(email_tokens::token_hash.eq(token_hash))
        .filter(email_tokens::purpose.eq(purpose))
        .select(Token::as_select())
        .first(conn)
        .optional()
}

/// Marks a token used, if it still is not (`false`: it was, by a concurrent request).
pub fn use_once(conn: &mut DbConn, token_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        email_tokens::table
            .filter(email_tokens::token_hash.eq(token_hash))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Uses up the reset link `token_hash` of `user_id`, if it still works (in the caller's
/// transaction, with the password change it allows).
pub fn use_reset_link(
    conn: &mut DbConn,
    token_hash: &str,
    user_id: &str,
    now: i64,
) -> QueryResult<bool> {
    let Some(t) = find(conn, token_hash, purpose::RESET)? else {
        return Ok(false);
    };
    if t.user_id != user_id || t.expires_at <= now {
        return Ok(false);
    }
    use_once(conn, token_hash, now)
}

/// Voids every token of `purpose` the user holds (a newer one replaces them; a password
/// change voids reset links).
pub fn void_all(conn: &mut DbConn, user_id: &str, purpose: &str) -> QueryResult<usize> {
    diesel::delete(
        email_tokens::table
            .filter(email_tokens::user_id.eq(user_id))
            .filter(email_tokens::purpose.eq(purpose)),
    )
    .execute(conn)
}

/// Deletes tokens that expired before `before` (upkeep).
pub fn prune(conn: &mut DbConn, before: i64) -> QueryResult<usize> {
    diesel::delete(email_tokens::table.filter(email_tokens::expires_at.lt(before))).execute(conn)
}
