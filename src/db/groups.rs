//! Group membership, for forward-auth access rules.

use diesel::prelude::*;

use super::schema::user_groups;
use super::DbConn;

/// Group names are short identifiers: letters, digits, `.`, `_`, `-`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub fn of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<String>> {
    user_groups::table
        .filter(user_groups::user_id.eq(user_id))
        .order(user_groups::group_name.asc())
        .select(user_groups::group_name)
        .load(conn)
}

/// Adds `user_id` to `group`; false if they were in it already.
pub fn add(conn: &mut DbConn, user_id: &str, group: &str, now: i64) -> QueryResult<bool> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        user_groups::table
            .filter(user_groups::user_id.eq(user_id))
            .filter(user_groups::group_name.eq(group)),
    ))
    .get_result(conn)?;
    if exists {
        return Ok(false);
    }
    diesel::insert_into(user_groups::table)
        .values((
            user_groups::user_id.eq(user_id),
            user_groups::group_name.eq(group),
            user_groups::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| true)
}

/// Removes `user_id` from `group`; false if they were not in it.
pub fn remove(conn: &mut DbConn, user_id: &str, group: &str) -> QueryResult<bool> {
    diesel::delete(
        user_groups::table
            .filter(user_groups::user_id.eq(user_id))
            .filter(user_groups::group_name.eq(group)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Every group with its member count, for `gatehouse group list`.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    user_groups::table
        .group_by(user_groups::group_name)
        .select((user_groups::group_name, diesel::dsl::count_star()))
        .order(user_groups::group_name.asc())
        .load(conn)
}
