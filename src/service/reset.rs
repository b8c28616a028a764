//! Password reset by mail. Asking answers the same, with the same status and the same work,
//! whether or not the address has an account: the request is only queued, and the outbox
//! worker looks the address up and mails a link if there is an account. The link
//! (`{public_origin}/password/reset/{token}`: 256 random bits, stored as a hash) works once,
//! for `password_reset_timeout`; a newer link or any password change voids it. Viewing the
//! page never uses it up (mail scanners open links). Completing it ends every session, lifts
//! the account's ban, does not sign anyone in, is audited and mailed as a notice.

use diesel::QueryResult;

use super::account::{self, NewPasswordProblem};
use super::audit::{self, Event, Reason};
use super::email::{self, checked_address};
use super::outbox::{self, ResetRequest};
use super::throttle::{self, mail_limits};
use super::Origin;
use crate::app::App;
use crate::auth::password::{check_policy, estimate};
use crate::db::email_tokens::{self, purpose, Token};
use crate::db::outbox::Row;
use crate::db::users::{self, User};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;
use crate::ids::{new_secret_token, secret_token_hash};
use crate::mail::compose::{compose, Context, Mail};
use crate::mail::SendError;

/// What asking for a reset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Queued: mailed if the address has an account (the visitor is told the same either way).
    Queued,
    /// Not an address mail can go to: a message key.
    Invalid(&'static str),
    MailOff,
}

/// Someone asks for a reset link for `address`. Counted per client and per address (429
/// beyond `mail_limits`), then queued: nothing here depends on whether the address has an
/// account.
pub async fn ask(app: &App, address: &str, origin: &Origin) -> Result<Asked, AppError> {
    if !app.sends_mail() {
        return Ok(Asked::MailOff);
    }
    let email = match checked_address(address) {
        Ok(email) => email,
        Err(key) => return Ok(Asked::Invalid(key)),
    };
    let client = throttle::origin_key(app, origin);
    let (ip_event, ip_limit) = mail_limits::RESET_PER_CLIENT;
    let (address_event, address_limit) = mail_limits::RESET_PER_ADDRESS;
    throttle::count(
        app,
        &[
            (ip_event, &client, ip_limit, mail_limits::WINDOW),
            (
                address_event,
                &email.key,
                address_limit,
                mail_limits::WINDOW,
            ),
        ],
    )
    .await?;
    let now = app.clock.now();
    let request = ResetRequest {
        email: email.key,
        ip: origin.audit_address(),
        user_agent: origin.user_agent.clone(),
        at: now,
    };
    let app_copy = app.clone();
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                outbox::enqueue_reset_request(c, &app_copy, &request, now)
            })?)
        })
        .await?;
    outbox::wake(app);
    Ok(Asked::Queued)
}

/// The worker's part: the address looked up, and for an enabled account a new link (older
/// ones void) mailed in the user's language, in one transaction with marking the request
/// done. An address without an account leaves no trace but the done request.
pub(crate) async fn handle_request(app: &App, row: &Row) -> Result<(), AppError> {
    let request = row
        .payload
        .as_deref()
        .and_then(|sealed| app.mail_key.open(sealed))
        .and_then(|plain| serde_json::from_slice::<ResetRequest>(&plain).ok());
    let Some(request) = request else {
        log::error!(
            "outbox row {} cannot be opened with this instance's mail key",
            row.id
        );
        return outbox::finish(
            app,
            row.id,
            Err(SendError::Permanent(
                "cannot be opened with the mail key".into(),
            )),
        )
        .await;
    };
    let now = app.clock.now();
    let (app_copy, id) = (app.clone(), row.id);
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                if let Some(user) =
                    users::find_by_email_key(c, &request.email)?.filter(User::is_enabled)
                {
                    queue_link(c, &app_copy, &user, &request, now)?;
                }
                crate::db::outbox::sent(c, id, now)
            })?)
        })
        .await
}

fn queue_link(
    conn: &mut DbConn,
    app: &App,
    user: &User,
    request: &ResetRequest,
    now: i64,
) -> QueryResult<()> {
    let (token, hash) = new_secret_token();
    let valid_for = app.settings.password_reset_timeout;
    email_tokens::void_all(conn, &user.id, purpose::RESET)?;
    email_tokens::insert(
        conn,
        &Token {
            token_hash: hash,
            user_id: user.id.clone(),
            purpose: purpose::RESET.to_string(),
            email: user.email.clone(),
            created_at: now,
            expires_at: now + valid_for,
            used_at: None,
        },
    )?;
    let link = email::link(app, "/password/reset/", &token);
    let message = compose(
        user.language(),
        &user.username,
        &user.email,
        &Mail::PasswordReset {
            link: &link,
            valid_for,
            by: Context {
                at: request.at,
                user_agent: &request.user_agent,
                ip: &request.ip,
            },
        },
    );
    outbox::enqueue(conn, app, &message, now)?;
    let origin = Origin {
        ip: request.ip.parse().ok(),
        user_agent: request.user_agent.clone(),
        lang: None,
    };
    audit::store(
        conn,
        &audit::event(
            now,
            Event::PasswordResetMailed,
            Some(&user.id),
            Some(&user.username),
            Reason::Ok,
            &origin,
            None,
        ),
    )
}

/// The account a reset link is for, if the link still works (unused, unexpired, the
/// account enabled). Looking never uses it up.
pub async fn account(app: &App, token: &str) -> Result<Option<User>, AppError> {
    if token.len() > 64 {
        return Ok(None);
    }
    let (hash, now) = (secret_token_hash(token), app.clock.now());
    app.db
        .run(move |conn| {
            let Some(t) = email_tokens::find(conn, &hash, purpose::RESET)? else {
                return Ok(None);
            };
            if t.used_at.is_some() || t.expires_at <= now {
                return Ok(None);
            }
            Ok(users::find_by_id(conn, &t.user_id)?.filter(User::is_enabled))
        })
        .await
}

pub enum Reset {
    /// The password is changed and every session ended; the visitor signs in next.
    Done,
    /// Unknown, used or expired.
    InvalidLink,
    Refused {
        problem: NewPasswordProblem,
        strength: u8,
    },
}

/// Sets a new password with a reset link.
pub async fn complete(
    app: &App,
    token: &str,
    new: &str,
    confirm: &str,
    origin: &Origin,
) -> Result<Reset, AppError> {
    let Some(user) = account(app, token).await? else {
        return Ok(Reset::InvalidLink);
    };
    let problem = match check_policy(new, &user.username, &user.email) {
        Err(p) => Some(NewPasswordProblem::Policy(p)),
        Ok(()) if new != confirm => Some(NewPasswordProblem::Mismatch),
        Ok(()) => None,
    };
    if let Some(problem) = problem {
        let strength = estimate(new, &user.username, &user.email).0;
        return Ok(Reset::Refused { problem, strength });
    }
    let hash = secret_token_hash(token);
    let by = account::By::ResetLink { token_hash: &hash };
    if !account::replace(app, &user, new, by, origin).await? {
        return Ok(Reset::InvalidLink);
    }
    app.profiles.forget(&user.id);
    Ok(Reset::Done)
}
