//! Users: lookups by login name or email, creation, sign-in bookkeeping.

use diesel::prelude::*;

use super::schema::users;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: String,
    pub email_key: String,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub last_login_ip: Option<String>,
    pub previous_login_at: Option<i64>,
    pub previous_login_ip: Option<String>,
    /// When the owner proved the address is theirs (opened a link mailed to it).
    pub email_verified_at: Option<i64>,
    /// The language mail to the user is written in: the one they last used.
    pub lang: String,
    /// The TOTP secret, sealed (`seal::SealKey`, `data_dir/totp.key`); set while 2FA is on.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled_at: Option<i64>,
    /// The last time step a TOTP code was accepted for: a code works once.
    pub totp_last_step: Option<i64>,
}

impl User {
    /// A new account with a fresh opaque id, from already validated parts.
    pub fn new(
        username: &crate::validate::Username,
        email: &crate::validate::Email,
        password_hash: String,
        now: i64,
    ) -> User {
        User {
            id: crate::ids::new_id(),
            username: username.display.clone(),
            username_key: username.key.clone(),
            email: email.address.clone(),
            email_key: email.key.clone(),
            password_hash,
            created_at: now,
            updated_at: now,
            disabled_at: None,
            last_login_at: None,
            last_login_ip: None,
            previous_login_at: None,
            previous_login_ip: None,
            email_verified_at: None,
            lang: crate::i18n::Lang::En.code().to_string(),
            totp_secret: None,
            totp_enabled_at: None,
            totp_last_step: None,
        }
    }

    /// The language mail to this user is written in (English if theirs is not known).
    pub fn language(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::from_code(&self.lang).unwrap_or(crate::i18n::Lang::En)
    }

    /// Whether signing in takes a second step.
    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled_at.is_some()
    }

    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    pub fn is_enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
}

pub fn find_by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::id.eq(id))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// `login` is what someone typed into "username or email", already normalised by the caller.
pub fn find_by_username_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username_key.eq(key))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email_key.eq(key))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The account a login form or a command names: by email when it holds an `@`, else by
/// username (each by its unique key).
pub fn find_by_login(conn: &mut DbConn, login: &str) -> QueryResult<Option<User>> {
    if login.contains('@') {
        find_by_email_key(conn, &crate::validate::email_key(login))
    } else {
        find_by_username_key(conn, &crate::validate::username_key(login))
    }
}

pub fn username_taken(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::username_key.eq(key)),
    ))
    .get_result(conn)
}

pub fn email_taken(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::email_key.eq(key)),
    ))
    .get_result(conn)
}

pub fn insert(conn: &mut DbConn, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(|_| ())
}

/// The latest sign-in becomes the previous one, which the dashboard shows.
pub fn record_login(
    conn: &mut DbConn,
    id: &str,
    now: i64,
    ip: &str,
    lang: Option<&str>,
) -> QueryResult<()> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((
            users::previous_login_at.eq(users::last_login_at),
            users::previous_login_ip.eq(users::last_login_ip),
            users::last_login_at.eq(now),
            users::last_login_ip.eq(ip),
        ))
        .execute(conn)?;
    set_lang(conn, id, lang)
}

/// The language the user's mail is written in, when a sign-in says which they use.
pub fn set_lang(conn: &mut DbConn, id: &str, lang: Option<&str>) -> QueryResult<()> {
    if let Some(lang) = lang {
        diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(users::lang.ne(lang)),
        )
        .set(users::lang.eq(lang))
        .execute(conn)?;
    }
    Ok(())
}

/// Marks the user's address verified, if it is still `email` (`false`: it changed since the
/// link was mailed).
pub fn mark_email_verified(
    conn: &mut DbConn,
    id: &str,
    email: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::email.eq(email)),
    )
    .set((users::email_verified_at.eq(now), users::updated_at.eq(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Makes `email` the user's address, verified (a change confirmed by a link to it).
pub fn change_email(
    conn: &mut DbConn,
    id: &str,
    email: &crate::validate::Email,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((
            users::email.eq(&email.address),
            users::email_key.eq(&email.key),
            users::email_verified_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// [`record_login`] for a sign-in by password, as a compare-and-set: only if the account is
/// still enabled and its hash is still `verified_hash`, the one the sign-in checked the
/// password against. `false`: the password was changed (or the account disabled) while the
/// password was being checked, and the sign-in must fail. `upgrade` replaces the hash in the
/// same statement (a rehash at the current cost), so it can never overwrite a password set
/// meanwhile. One UPDATE does the compare: PostgreSQL re-checks its WHERE against a row
/// changed by a concurrent transaction, and the row stays locked until commit, so a
/// password change cannot slip between this and the session insert that follows.
pub fn record_login_if_unchanged(
    conn: &mut DbConn,
    id: &str,
    verified_hash: &str,
    upgrade: Option<&str>,
    now: i64,
    ip: &str,
) -> QueryResult<bool> {
    let unchanged = users::table
        .filter(users::id.eq(id))
        .filter(users::password_hash.eq(verified_hash))
        .filter(users::disabled_at.is_null());
    let login = (
        users::previous_login_at.eq(users::last_login_at),
        users::previous_login_ip.eq(users::last_login_ip),
        users::last_login_at.eq(now),
        users::last_login_ip.eq(ip),
    );
    let updated = match upgrade {
        Some(hash) => diesel::update(unchanged)
            .set((
                login,
                users::password_hash.eq(hash),
                users::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(unchanged).set(login).execute(conn)?,
    };
    Ok(updated == 1)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table
        .order(users::username_key.asc())
        .select(User::as_select())
        .load(conn)
}

pub fn set_disabled(conn: &mut DbConn, id: &str, at: Option<i64>) -> QueryResult<bool> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set(users::disabled_at.eq(at))
        .execute(conn)
        .map(|n| n == 1)
}

/// Deletes the user; their sessions go with them (ON DELETE CASCADE, and explicitly, so
/// SQLite databases opened without foreign keys behave the same).
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    use super::schema::{sessions, user_groups};
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
    diesel::delete(user_groups::table.filter(user_groups::user_id.eq(id))).execute(conn)?;
    diesel::delete(users::table.filter(users::id.eq(id)))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn set_password_hash(conn: &mut DbConn, id: &str, hash: &str, now: i64) -> QueryResult<()> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

/// Replaces the hash only if it is still `expected`, the one the user's current password was
/// checked against (a compare-and-set). `false`: it changed meanwhile, and nothing was
/// written.
pub fn replace_password_hash(
    conn: &mut DbConn,
    id: &str,
    expected: &str,
    hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::password_hash.eq(expected)),
    )
    .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Locks the user's row for the rest of the transaction if its hash is still `expected`
/// (on SQLite the write transaction holds the lock already). `false`: it changed meanwhile.
pub fn lock_if_password_unchanged(
    conn: &mut DbConn,
    id: &str,
    expected: &str,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::password_hash.eq(expected)),
    )
    .set(users::password_hash.eq(users::password_hash))
    .execute(conn)
    .map(|n| n == 1)
}
