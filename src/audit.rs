//! The audit trail (SECURITY-BAR LG-8): every auth event as a structured log line and a row
//! in `audit_events`. What is recorded is chosen here, in one place, so no password, token
//! or CSRF value can slip in: callers pass ids, names and fixed reason strings only.

use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::web::client_ip::ClientIp;
use crate::App;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        }
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
}

impl NewEvent {
    pub fn new(
        now: i64,
        event: Event,
        user_id: Option<&str>,
        username: Option<&str>,
        reason: &str,
        client_ip: &str,
        session_id: Option<&str>,
    ) -> Self {
        NewEvent {
            created_at: now,
            event: event.as_str().to_string(),
            user_id: user_id.map(str::to_string),
            username: username.map(str::to_string),
            reason: reason.to_string(),
            client_ip: client_ip.to_string(),
            session_id: session_id.map(str::to_string),
        }
    }

    fn log(&self) {
        let line = serde_json::json!({
            "audit": self.event,
            "time": self.created_at,
            "user_id": self.user_id,
            "username": self.username,
            "reason": self.reason,
            "client_ip": self.client_ip,
            "session_id": self.session_id,
        });
        log::info!(target: "gatehouse::audit", "{line}");
    }
}

/// Logs and stores one event on a connection the caller holds (the CLI, or inside a
/// transaction, so the event lands with the change it describes).
pub fn store(conn: &mut crate::db::DbConn, event: &NewEvent) -> QueryResult<()> {
    event.log();
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)
        .map(|_| ())
}

/// Logs and stores one event. Storing is best effort: an audit row must never be the reason
/// a sign-in fails, but a failure to store it is logged loudly.
pub async fn record(
    app: &App,
    event: Event,
    user_id: Option<&str>,
    username: Option<&str>,
    reason: &'static str,
    ip: ClientIp,
    session_id: Option<&str>,
) {
    let row = NewEvent::new(
        app.clock.now(),
        event,
        user_id,
        username,
        reason,
        &ip.to_string(),
        session_id,
    );
    let stored = app.db.run(move |conn| Ok(store(conn, &row)?)).await;
    if let Err(e) = stored {
        log::error!("audit event not stored: {e}");
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
}

/// The user's own latest events, newest first.
pub fn recent_for_user(
    conn: &mut crate::db::DbConn,
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

/// The message key for what an event means to its user.
pub fn describe(event: &str, reason: &str) -> &'static str {
    match (event, reason) {
        ("registered", _) => "event-registered",
        ("login_succeeded", _) => "event-login-succeeded",
        ("login_failed", "wrong current password") => "event-wrong-current-password",
        ("login_failed", _) => "event-login-failed",
        ("login_throttled", _) => "event-login-throttled",
        ("logout", _) => "event-logout",
        ("session_revoked", "all other devices") => "event-session-revoked-all",
        ("session_revoked", _) => "event-session-revoked",
        ("password_changed", _) => "event-password-changed",
        ("account_disabled", _) => "event-account-disabled",
        ("account_enabled", _) => "event-account-enabled",
        ("account_deleted", _) => "event-account-deleted",
        ("bans_cleared", _) => "event-bans-cleared",
        _ => "event-other",
    }
}
