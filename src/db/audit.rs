//! The audit trail's rows (`audit_events`) and their vocabulary. What is recorded, and when,
//! is `service::audit`.

use diesel::prelude::*;

use super::schema::audit_events;
use super::DbConn;

/// What happened, as stored in `audit_events.event`.
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
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
    PasswordResetMailed,
    SecondFactorEnabled,
    SecondFactorDisabled,
    RecoveryCodesRegenerated,
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
            Event::EmailVerified => "email_verified",
            Event::EmailChangeRequested => "email_change_requested",
            Event::EmailChanged => "email_changed",
            Event::PasswordResetMailed => "password_reset_mailed",
            Event::SecondFactorEnabled => "second_factor_enabled",
            Event::SecondFactorDisabled => "second_factor_disabled",
            Event::RecoveryCodesRegenerated => "recovery_codes_regenerated",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        ALL_EVENTS.iter().copied().find(|e| e.as_str() == s)
    }

    /// Refused before any real work, so cheap to repeat: counted, not stored one by one.
    pub fn is_refusal(self) -> bool {
        self == Event::LoginThrottled
    }
}

const ALL_EVENTS: [Event; 18] = [
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
    Event::EmailVerified,
    Event::EmailChangeRequested,
    Event::EmailChanged,
    Event::PasswordResetMailed,
    Event::SecondFactorEnabled,
    Event::SecondFactorDisabled,
    Event::RecoveryCodesRegenerated,
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
    PasswordReset,
    EmailNotVerified,
    WrongSecondFactor,
    RecoveryCodeUsed,
    SecondFactorExpired,
}

const ALL_REASONS: [Reason; 25] = [
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
    Reason::PasswordReset,
    Reason::EmailNotVerified,
    Reason::WrongSecondFactor,
    Reason::RecoveryCodeUsed,
    Reason::SecondFactorExpired,
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
            Reason::PasswordReset => "reset with a mailed link",
            Reason::EmailNotVerified => "address not verified",
            Reason::WrongSecondFactor => "wrong second-factor code",
            Reason::RecoveryCodeUsed => "with a recovery code",
            Reason::SecondFactorExpired => "second step too late",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        ALL_REASONS.iter().copied().find(|r| r.as_str() == s)
    }
}

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

impl NewEvent {
    /// One event's row, standing for one event.
    pub fn new(
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
