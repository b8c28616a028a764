//! Changes to an account: its password, disabling, enabling and deleting it. The owner makes
//! them from a session, after proving the current password; an administrator makes them from
//! the command line. Both go through the same transaction here: the change, the sessions it
//! ends and its audit row land together, or none of them.

use super::audit::{self, Event, Reason};
use super::throttle::{self, Attempt, Counting};
use super::{outbox, sessions, Issued, Origin};
use crate::app::App;
use crate::auth::device;
use crate::auth::password::{check_policy, estimate, PasswordProblem};
use crate::auth::token::Claims;
use crate::db::email_tokens;
use crate::db::sessions::Session;
use crate::db::users::{self, User};
use crate::db::{sessions as session_rows, write_tx};
use crate::error::AppError;
use crate::mail::compose::{compose, Context, Mail};

/// Who makes a change: the account's owner, from one of their sessions, or an administrator.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    Owner {
        claims: &'a Claims,
        /// The stored hash the owner's current password was checked against: the change is
        /// made only if it is still the user's (a password change racing it wins).
        checked_hash: &'a str,
    },
    Administrator,
    /// Whoever holds a password reset link (`service::reset`): the link, by its hash, is
    /// used up in the same transaction, and only if it still works.
    ResetLink {
        token_hash: &'a str,
    },
}

impl By<'_> {
    fn sid(&self) -> Option<&str> {
        match self {
            By::Owner { claims, .. } => Some(&claims.sid),
            By::Administrator | By::ResetLink { .. } => None,
        }
    }

    fn checked_hash(&self) -> Option<&str> {
        match self {
            By::Owner { checked_hash, .. } => Some(checked_hash),
            By::Administrator | By::ResetLink { .. } => None,
        }
    }
}

/// Checks the current password of the signed-in user the way sign-in does: a banned client
/// address is 429, a banned account fails like a wrong password, and every failure counts as
/// a failed sign-in against both the device and the account (so this check cannot be used to
/// guess passwords around the sign-in limits, even with a stolen session and device cookie).
/// The attempt is counted before hashing. The user returned carries the hash the password
/// matched: whatever is written on the strength of it must compare it first (see [`By`]).
/// `None`: wrong (audited).
pub async fn check_current_password(
    app: &App,
    claims: &Claims,
    password: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<Option<User>, AppError> {
    let address = throttle::origin_key(app, origin);
    throttle::check_known_address(app, &address)?;
    let user = load(app, &claims.sub)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let device = device::verify(&app.csrf, device_cookie, &user.id);
    let attempt = Attempt {
        address: &address,
        account: Some(&user.id),
        device: device.as_deref(),
        counting: Counting::Both,
    };
    let reservation = throttle::reserve(app, &attempt).await?;
    let checked = (!reservation.refused()).then(|| user.password_hash.clone());
    let verified = match app.hasher.verify(password, checked).await {
        Ok(v) => v,
        Err(e) => {
            throttle::release(app, &reservation).await;
            return Err(e);
        }
    };
    if verified.ok {
        throttle::succeed(app, &reservation).await?;
        return Ok(Some(user));
    }
    throttle::fail(app, &reservation).await?;
    audit::record(
        app,
        Event::LoginFailed,
        Some(&user.id),
        Some(&user.username),
        if reservation.refused() {
            Reason::AccountBannedAtPasswordCheck
        } else {
            Reason::WrongCurrentPassword
        },
        origin,
        Some(&claims.sid),
    )
    .await;
    Ok(None)
}

async fn load(app: &App, id: &str) -> Result<Option<User>, AppError> {
    let id = id.to_string();
    app.db
        .run(move |conn| Ok(users::find_by_id(conn, &id)?))
        .await
}

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewPasswordProblem {
    Policy(PasswordProblem),
    /// The confirmation differs.
    Mismatch,
    /// The same as the current one.
    Unchanged,
}

pub enum PasswordChange {
    /// Changed: every other session ended (PW-7), and a fresh token for this one.
    Changed {
        issued: Box<Issued>,
        others_signed_out: usize,
    },
    WrongCurrent,
    Refused {
        problem: NewPasswordProblem,
        /// The strength estimate of what was typed (0-4), for the meter.
        strength: u8,
    },
}

/// The owner changes their password: the current one checked (throttled like a sign-in),
/// the new one held to the policy, then [`replace_password`].
pub async fn change_password(
    app: &App,
    claims: &Claims,
    current: &str,
    new: &str,
    confirm: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<PasswordChange, AppError> {
    let Some(user) = check_current_password(app, claims, current, origin, device_cookie).await?
    else {
        return Ok(PasswordChange::WrongCurrent);
    };
    let problem = match check_policy(new, &user.username, &user.email) {
        Err(p) => Some(NewPasswordProblem::Policy(p)),
        Ok(()) if new != confirm => Some(NewPasswordProblem::Mismatch),
        Ok(()) if new == current => Some(NewPasswordProblem::Unchanged),
        Ok(()) => None,
    };
    if let Some(problem) = problem {
        let strength = estimate(new, &user.username, &user.email).0;
        return Ok(PasswordChange::Refused { problem, strength });
    }
    let by = By::Owner {
        claims,
        checked_hash: &user.password_hash,
    };
    let Some((ended, current)) = replace_password(app, &user, new, by, origin).await? else {
        return Ok(PasswordChange::WrongCurrent);
    };
    let current = current.ok_or(AppError::Unauthorized)?;
    let issued = sessions::issue(app, &user, &current, app.clock.now())?;
    Ok(PasswordChange::Changed {
        issued: Box::new(issued),
        others_signed_out: ended.len(),
    })
}

/// An administrator sets a user's password: held to the policy, then [`replace_password`];
/// every session of the user ends. `Ok(Err(..))`: refused by the policy. Returns how many
/// sessions ended.
pub async fn set_password(
    app: &App,
    user: &User,
    new: &str,
    origin: &Origin,
) -> Result<Result<usize, PasswordProblem>, AppError> {
    if let Err(p) = check_policy(new, &user.username, &user.email) {
        return Ok(Err(p));
    }
    let changed = replace_password(app, user, new, By::Administrator, origin).await?;
    Ok(Ok(changed.map_or(0, |(ended, _)| ended.len())))
}

/// A password replaced with a reset link (see [`replace_password`]); `false`: the link
/// stopped working meanwhile, and nothing changed.
pub async fn replace(
    app: &App,
    user: &User,
    new: &str,
    by: By<'_>,
    origin: &Origin,
) -> Result<bool, AppError> {
    Ok(replace_password(app, user, new, by, origin)
        .await?
        .is_some())
}

/// The one way a password is replaced: hashed, then in one transaction the new hash (only
/// over the hash the owner's password was checked against, so two changes racing cannot
/// both win), the end of every other session (the owner keeps the one they are in) and the
/// audit row. A sign-in that checked the old password meanwhile fails its own compare and
/// makes no session. `None`: the hash changed meanwhile; nothing was written. Returns the
/// sessions ended and the owner's current one, as it is now.
async fn replace_password(
    app: &App,
    user: &User,
    new: &str,
    by: By<'_>,
    origin: &Origin,
) -> Result<Option<(Vec<String>, Option<Session>)>, AppError> {
    let hash = app.hasher.hash(new).await?;
    let now = app.clock.now();
    let row = audit::event(
        now,
        Event::PasswordChanged,
        Some(&user.id),
        Some(&user.username),
        match by {
            By::Owner { .. } => Reason::Ok,
            By::Administrator => Reason::SetByAdministrator,
            By::ResetLink { .. } => Reason::PasswordReset,
        },
        origin,
        by.sid(),
    );
    let session_reason = match by {
        By::Owner { .. } => "password changed",
        By::Administrator => "password set by an administrator",
        By::ResetLink { .. } => "password reset",
    };
    // The owner is told, at their address, whoever changed it.
    let notice = app.sends_mail().then(|| {
        compose(
            user.language(),
            &user.username,
            &user.email,
            &Mail::PasswordChanged {
                by: Context {
                    at: now,
                    user_agent: &origin.user_agent,
                    ip: &origin.audit_address(),
                },
            },
        )
    });
    let uid = user.id.clone();
    let checked = by.checked_hash().map(str::to_string);
    let keep = by.sid().map(str::to_string);
    let lifts_ban = matches!(by, By::ResetLink { .. });
    let reset_link = match by {
        By::ResetLink { token_hash } => Some(token_hash.to_string()),
        _ => None,
    };
    let app_copy = app.clone();
    let changed = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                if let Some(link) = &reset_link {
                    if !email_tokens::use_reset_link(c, link, &uid, now)? {
                        return Ok(None);
                    }
                    // A reset is the owner's way back in: the account's ban goes too.
                    throttle::clear_account(c, &uid)?;
                }
                match &checked {
                    Some(expected) => {
                        if !users::replace_password_hash(c, &uid, expected, &hash, now)? {
                            return Ok(None);
                        }
                    }
                    None => users::set_password_hash(c, &uid, &hash, now)?,
                }
                // Any password change makes every reset link void.
                email_tokens::void_all(c, &uid, email_tokens::purpose::RESET)?;
                if let Some(notice) = &notice {
                    outbox::enqueue(c, &app_copy, notice, now)?;
                }
                let ended = session_rows::revoke_all_for_user(
                    c,
                    &uid,
                    keep.as_deref(),
                    now,
                    session_reason,
                )?;
                let current = match &keep {
                    Some(sid) => session_rows::find(c, sid)?,
                    None => None,
                };
                audit::store(c, &row)?;
                Ok::<_, diesel::result::Error>(Some((ended, current)))
            })?)
        })
        .await?;
    if let Some((ended, _)) = &changed {
        sessions::deny_all(app, ended);
        outbox::wake(app);
        if lifts_ban {
            app.known_bans
                .forget(crate::db::throttle::BanKind::Account, &user.id);
        }
    }
    Ok(changed)
}

/// Deletes the account and all its sessions, with its audit row, in one transaction; for
/// the owner only if the password they just proved is still the current one (`false`:
/// it changed meanwhile; nothing was deleted).
pub async fn delete(app: &App, user: &User, by: By<'_>, origin: &Origin) -> Result<bool, AppError> {
    if matches!(by, By::ResetLink { .. }) {
        // A reset link changes a password, nothing else.
        return Ok(false);
    }
    let now = app.clock.now();
    let row = audit::event(
        now,
        Event::AccountDeleted,
        Some(&user.id),
        Some(&user.username),
        match by {
            By::Owner { .. } => Reason::DeletedByOwner,
            By::Administrator | By::ResetLink { .. } => Reason::DeletedByAdministrator,
        },
        origin,
        by.sid(),
    );
    let uid = user.id.clone();
    let checked = by.checked_hash().map(str::to_string);
    let ended = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                if let Some(expected) = &checked {
                    if !users::lock_if_password_unchanged(c, &uid, expected)? {
                        return Ok(None);
                    }
                }
                let ids: Vec<String> = session_rows::live_for_user(c, &uid, i64::MIN)?
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                if !users::delete(c, &uid)? {
                    return Ok(None);
                }
                audit::store(c, &row)?;
                Ok::<_, diesel::result::Error>(Some(ids))
            })?)
        })
        .await?;
    let Some(ended) = ended else {
        return Ok(false);
    };
    sessions::deny_all(app, &ended);
    app.profiles.forget(&user.id);
    Ok(true)
}

/// Disables the account: it cannot sign in, and every session it has ends (on every
/// instance within `session_revalidate_interval`). Returns how many sessions ended.
pub async fn disable(app: &App, user: &User, origin: &Origin) -> Result<usize, AppError> {
    let now = app.clock.now();
    let row = audit::event(
        now,
        Event::AccountDisabled,
        Some(&user.id),
        Some(&user.username),
        Reason::ByAdministrator,
        origin,
        None,
    );
    let uid = user.id.clone();
    let ended = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                users::set_disabled(c, &uid, Some(now))?;
                let ended =
                    session_rows::revoke_all_for_user(c, &uid, None, now, "account disabled")?;
                audit::store(c, &row)?;
                Ok::<_, diesel::result::Error>(ended)
            })?)
        })
        .await?;
    sessions::deny_all(app, &ended);
    app.profiles.forget(&user.id);
    Ok(ended.len())
}

/// Enables a disabled account.
pub async fn enable(app: &App, user: &User, origin: &Origin) -> Result<(), AppError> {
    let now = app.clock.now();
    let row = audit::event(
        now,
        Event::AccountEnabled,
        Some(&user.id),
        Some(&user.username),
        Reason::ByAdministrator,
        origin,
        None,
    );
    let uid = user.id.clone();
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                users::set_disabled(c, &uid, None)?;
                audit::store(c, &row)
            })?)
        })
        .await
}
