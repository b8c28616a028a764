//! Email addresses proven by mail: a link to the address at registration (and again on
//! request), a link to the new address when the owner changes it (with a notice to the old
//! one), and opening such a link. Links are `{public_origin}/email/verify/{token}`: 256 random
//! bits, stored only as a hash, valid for `email_verification_timeout`.

use diesel::QueryResult;

use super::audit::{self, Event, Reason};
use super::throttle::{self, mail_limits};
use super::{account, outbox, Origin};
use crate::app::App;
use crate::auth::token::Claims;
use crate::db::email_tokens::{self, purpose, Token};
use crate::db::users::{self, User};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;
use crate::mail::compose::{compose, Context, Mail};
use crate::validate;

/// `public_origin` + `path` + the token: never built from the request's `Host`.
pub fn link(app: &App, path: &str, token: &str) -> String {
    format!("{}{path}{token}", app.settings.public_origin)
}

/// Whether to remind user `user_id` to confirm their address. `cached`: what the session's
/// view says; only a `false` costs a query (the address may have been confirmed since, on
/// any instance), so verified users' pages stay query-free.
pub async fn still_unverified(app: &App, user_id: &str, cached: bool) -> Result<bool, AppError> {
    if cached || !app.sends_mail() {
        return Ok(false);
    }
    let id = user_id.to_string();
    let user = app
        .db
        .run(move |conn| Ok(users::find_by_id(conn, &id)?))
        .await?;
    Ok(user.is_some_and(|u| !u.email_verified()))
}

/// In the caller's transaction: a link that proves `email` is `user`'s (their address, or
/// the new one they asked for), and its mail. A newer link voids the older ones.
pub fn queue_verification(
    conn: &mut DbConn,
    app: &App,
    user: &User,
    email: &str,
    now: i64,
) -> QueryResult<()> {
    let (token, hash) = crate::ids::new_secret_token();
    let valid_for = app.settings.email_verification_timeout;
    email_tokens::void_all(conn, &user.id, purpose::VERIFY)?;
    email_tokens::insert(
        conn,
        &Token {
            token_hash: hash,
            user_id: user.id.clone(),
            purpose: purpose::VERIFY.to_string(),
            email: email.to_string(),
            created_at: now,
            expires_at: now + valid_for,
            used_at: None,
        },
    )?;
    let link = link(app, "/email/verify/", &token);
    let mail = if email == user.email {
        Mail::Verify {
            link: &link,
            valid_for,
        }
    } else {
        Mail::NewAddress {
            link: &link,
            valid_for,
            address: email,
        }
    };
    let message = compose(user.language(), &user.username, email, &mail);
    outbox::enqueue(conn, app, &message, now).map(|_| ())
}

/// What opening a verification link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The address is verified (again: opening the link twice is fine); `changed` when it
    /// was a new address, now the account's.
    Verified { email: String, changed: bool },
    /// Unknown, expired, or for an address the account no longer has.
    Invalid,
    /// The new address was taken by another account meanwhile.
    Taken,
}

/// Opens a verification link. Idempotent for that link: a mail scanner (or the owner) opening
/// it twice sees the same page.
pub async fn verify(app: &App, token: &str, origin: &Origin) -> Result<Verification, AppError> {
    if token.len() > 64 {
        return Ok(Verification::Invalid);
    }
    let now = app.clock.now();
    let hash = crate::ids::secret_token_hash(token);
    let origin = origin.clone();
    let (outcome, user_id) = app
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                let Some(t) = email_tokens::find(c, &hash, purpose::VERIFY)? else {
                    return Ok((Verification::Invalid, None));
                };
                if t.expires_at <= now {
                    return Ok((Verification::Invalid, None));
                }
                let Some(user) = users::find_by_id(c, &t.user_id)? else {
                    return Ok((Verification::Invalid, None));
                };
                let changed = t.email != user.email;
                if t.used_at.is_some() {
                    // Opened before: the same answer, if it still holds.
                    let holds = !changed && user.email_verified();
                    let outcome = if holds {
                        Verification::Verified {
                            email: t.email.clone(),
                            changed: false,
                        }
                    } else {
                        Verification::Invalid
                    };
                    return Ok((outcome, None));
                }
                if changed {
                    let Ok(email) = validate::email(&t.email) else {
                        return Ok((Verification::Invalid, None));
                    };
                    // Someone else's address, however they got it, is not taken from them.
                    if users::email_taken(c, &email.key)? {
                        return Ok((Verification::Taken, None));
                    }
                    users::change_email(c, &user.id, &email, now)?;
                    audit::store(
                        c,
                        &audit::event(
                            now,
                            Event::EmailChanged,
                            Some(&user.id),
                            Some(&user.username),
                            Reason::Ok,
                            &origin,
                            None,
                        ),
                    )?;
                } else {
                    users::mark_email_verified(c, &user.id, &t.email, now)?;
                    audit::store(
                        c,
                        &audit::event(
                            now,
                            Event::EmailVerified,
                            Some(&user.id),
                            Some(&user.username),
                            Reason::Ok,
                            &origin,
                            None,
                        ),
                    )?;
                }
                email_tokens::use_once(c, &t.token_hash, now)?;
                Ok::<_, AppError>((
                    Verification::Verified {
                        email: t.email.clone(),
                        changed,
                    },
                    Some(user.id),
                ))
            })
        })
        .await?;
    if let Some(id) = user_id {
        // Forward-auth shows the address and whether it is verified.
        app.profiles.forget(&id);
    }
    Ok(outcome)
}

/// What asking for the link again did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    Sent,
    AlreadyVerified,
    /// No `smtp_url`: nothing can be sent.
    MailOff,
}

/// The signed-in user asks for their verification link again (at most
/// `VERIFY_PER_ACCOUNT` an hour, 429 beyond).
pub async fn resend(app: &App, claims: &Claims, origin: &Origin) -> Result<Resend, AppError> {
    if !app.sends_mail() {
        return Ok(Resend::MailOff);
    }
    let user = load(app, &claims.sub)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if user.email_verified() {
        return Ok(Resend::AlreadyVerified);
    }
    let (event, limit) = mail_limits::VERIFY_PER_ACCOUNT;
    let window = mail_limits::WINDOW;
    let address = throttle::origin_key(app, origin);
    let (ip_event, ip_limit) = mail_limits::VERIFY_PER_CLIENT;
    throttle::count(
        app,
        &[
            (ip_event, &address, ip_limit, window),
            (event, &user.id, limit, window),
        ],
    )
    .await?;
    queue_for(app, user).await?;
    Ok(Resend::Sent)
}

/// From the "verify your address first" page, signed out: the link again for the account a
/// login names, if it has an unverified address. The same answer whatever the account.
pub async fn resend_for_login(app: &App, login: &str, origin: &Origin) -> Result<Resend, AppError> {
    if !app.sends_mail() {
        return Ok(Resend::MailOff);
    }
    let address = throttle::origin_key(app, origin);
    let (ip_event, ip_limit) = mail_limits::VERIFY_PER_CLIENT;
    throttle::count(app, &[(ip_event, &address, ip_limit, mail_limits::WINDOW)]).await?;
    let user = super::signin::find_user(app, login).await?;
    if let Some(user) = user.filter(|u| !u.email_verified() && u.is_enabled()) {
        let (event, limit) = mail_limits::VERIFY_PER_ACCOUNT;
        match throttle::count(app, &[(event, &user.id, limit, mail_limits::WINDOW)]).await {
            // Over the account's limit: say nothing different.
            Err(AppError::TooManyRequests { .. }) => return Ok(Resend::Sent),
            other => other?,
        }
        queue_for(app, user).await?;
    }
    Ok(Resend::Sent)
}

async fn queue_for(app: &App, user: User) -> Result<(), AppError> {
    let now = app.clock.now();
    let app_copy = app.clone();
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                let email = user.email.clone();
                queue_verification(c, &app_copy, &user, &email, now)
            })?)
        })
        .await?;
    outbox::wake(app);
    Ok(())
}

async fn load(app: &App, id: &str) -> Result<Option<User>, AppError> {
    let id = id.to_string();
    app.db
        .run(move |conn| Ok(users::find_by_id(conn, &id)?))
        .await
}

/// What asking to change the address did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChange {
    /// A link went to the new address, a notice to the old one.
    Requested {
        address: String,
    },
    WrongCurrentPassword,
    /// The new address is refused: a message key.
    Invalid(&'static str),
    MailOff,
}

/// The owner asks to change their address (current password required, checked like a
/// sign-in): nothing changes until the link mailed to the new address is opened.
pub async fn request_change(
    app: &App,
    claims: &Claims,
    new_email: &str,
    current_password: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<AddressChange, AppError> {
    if !app.sends_mail() {
        return Ok(AddressChange::MailOff);
    }
    let email = match checked_address(new_email) {
        Ok(email) => email,
        Err(key) => return Ok(AddressChange::Invalid(key)),
    };
    let Some(user) =
        account::check_current_password(app, claims, current_password, origin, device_cookie)
            .await?
    else {
        return Ok(AddressChange::WrongCurrentPassword);
    };
    if email.key == user.email_key {
        return Ok(AddressChange::Invalid("error-email-same"));
    }
    let key = email.key.clone();
    if app
        .db
        .run(move |conn| Ok(users::email_taken(conn, &key)?))
        .await?
    {
        return Ok(AddressChange::Invalid("error-email-taken"));
    }
    let now = app.clock.now();
    let (app_copy, origin_copy, sid) = (app.clone(), origin.clone(), claims.sid.clone());
    let address = email.address.clone();
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                queue_verification(c, &app_copy, &user, &address, now)?;
                let notice = compose(
                    user.language(),
                    &user.username,
                    &user.email,
                    &Mail::AddressChangeRequested {
                        address: &address,
                        by: Context {
                            at: now,
                            user_agent: &origin_copy.user_agent,
                            ip: &origin_copy.audit_address(),
                        },
                    },
                );
                outbox::enqueue(c, &app_copy, &notice, now)?;
                audit::store(
                    c,
                    &audit::event(
                        now,
                        Event::EmailChangeRequested,
                        Some(&user.id),
                        Some(&user.username),
                        Reason::Ok,
                        &origin_copy,
                        Some(&sid),
                    ),
                )
            })?)
        })
        .await?;
    outbox::wake(app);
    Ok(AddressChange::Requested {
        address: email.address,
    })
}

/// An address mail can be sent to (IV-3's rules, and lettre's: no CR/LF, nothing an SMTP
/// server could not take), or the message key of why not.
pub fn checked_address(input: &str) -> Result<validate::Email, &'static str> {
    if input.len() > validate::EMAIL_MAX {
        return Err("error-email-long");
    }
    if input.chars().any(char::is_control) {
        return Err("error-email-invalid");
    }
    let email = validate::email(input)?;
    if !crate::mail::deliverable(&email.address) {
        return Err("error-email-unsendable");
    }
    Ok(email)
}
