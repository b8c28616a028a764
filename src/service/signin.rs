//! Signing in with a username (or email) and a password: throttled before the hash is even
//! computed, the same answer for every failure, a new session for every success.

use super::audit::{self, Event, Reason};
use super::throttle::{self, Attempt, Counting, Reservation};
use super::{second_factor, sessions, Issued, Origin};
use crate::app::App;
use crate::auth::device;
use crate::auth::token::{amr, Claims};
use crate::db::users::{self, User};
use crate::db::write_tx;
use crate::error::AppError;

/// What the sign-in form sent, and the device cookie the browser holds, if any.
pub struct Credentials<'a> {
    /// A username, or an email address (it holds an `@`).
    pub login: &'a str,
    pub password: &'a str,
    pub remember: bool,
    pub device_cookie: Option<&'a str>,
    /// Where to go once signed in (already checked), kept across a second step.
    pub next: &'a str,
}

pub enum SignIn {
    /// Signed in: the token for the session cookie, and the device the browser proved (to
    /// keep in its device cookie; `None`: give it a new one).
    Done {
        issued: Box<Issued>,
        user_id: String,
        device: Option<String>,
    },
    /// Unknown user, wrong password, disabled or banned account: one answer for all (LG-1).
    Failed,
    /// The right password, but `require_verified_email` and the address is not verified
    /// yet: no session; the visitor is offered the link again.
    Unverified,
    /// The right password for an account with a second factor: no session yet, only a
    /// pending sign-in (the cookie value) that the second step completes.
    SecondStep { pending: String },
}

/// Why a sign-in failed, for the audit trail; the visitor is told the same whatever it is.
struct Failure {
    event: Event,
    reason: Reason,
}

impl Failure {
    /// The user signing in, or why the sign-in fails.
    fn check(user: Option<&User>, refused: bool, password_ok: bool) -> Result<&User, Failure> {
        let (event, reason) = match user {
            None => (Event::LoginFailed, Reason::UnknownUser),
            Some(_) if refused => (Event::LoginThrottled, Reason::AccountBanned),
            Some(u) if !u.is_enabled() => (Event::LoginFailed, Reason::AccountDisabled),
            Some(_) if !password_ok => (Event::LoginFailed, Reason::WrongPassword),
            Some(u) => return Ok(u),
        };
        Err(Failure { event, reason })
    }

    const CHANGED: Failure = Failure {
        event: Event::LoginFailed,
        reason: Reason::PasswordChangedDuringSignIn,
    };
}

/// Signs in. A banned address is `Err(TooManyRequests)` (429, LG-4) before any lookup or
/// hashing; a full bcrypt queue is `Err(Busy)`. `replaces`: the session the browser came
/// with, ended on success (LG-6: never carried on).
pub async fn sign_in(
    app: &App,
    creds: &Credentials<'_>,
    origin: &Origin,
    replaces: Option<&Claims>,
) -> Result<SignIn, AppError> {
    let address = throttle::origin_key(app, origin);
    // A banned address is refused before any lookup or hashing: cheap, and 429 (LG-4).
    if let Err(e) = throttle::check_known_address(app, &address) {
        return Err(address_throttled(app, origin, e).await);
    }

    let user = find_user(app, creds.login).await?;
    // A browser that signed in to this account before may sign in during an account ban.
    let device = user
        .as_ref()
        .and_then(|u| device::verify(&app.csrf, creds.device_cookie, &u.id));
    let attempt = Attempt {
        address: &address,
        account: user.as_ref().map(|u| u.id.as_str()),
        device: device.as_deref(),
        counting: Counting::DeviceOrAccount,
    };
    // Counted before hashing, so a burst of guesses cannot all be in flight at once.
    let reservation = match throttle::reserve(app, &attempt).await {
        Err(e @ AppError::TooManyRequests { .. }) => {
            return Err(address_throttled(app, origin, e).await)
        }
        other => other?,
    };

    // Always one bcrypt verify at the configured cost: for unknown and refused accounts too,
    // against a dummy hash (LG-2).
    let checked = user
        .as_ref()
        .filter(|_| !reservation.refused())
        .map(|u| u.password_hash.clone());
    let verified = match app.hasher.verify(creds.password, checked).await {
        Ok(v) => v,
        Err(e) => {
            throttle::release(app, &reservation).await;
            return Err(e);
        }
    };
    let user = match Failure::check(user.as_ref(), reservation.refused(), verified.ok) {
        Ok(user) => user,
        Err(failure) => return failed(app, origin, &reservation, user.as_ref(), failure).await,
    };
    if app.settings.require_verified_email && !user.email_verified() {
        // The password was right: not a guess to count against anyone.
        throttle::succeed(app, &reservation).await?;
        audit::record(
            app,
            Event::LoginFailed,
            Some(&user.id),
            Some(&user.username),
            Reason::EmailNotVerified,
            origin,
            None,
        )
        .await;
        return Ok(SignIn::Unverified);
    }

    if user.has_second_factor() {
        return second_step_pending(app, user, &reservation, verified.needs_rehash, creds).await;
    }

    // A stored hash weaker than today's settings is replaced now that we know the password.
    // Best effort: a full bcrypt queue must not turn a correct sign-in into a 503.
    let upgrade = if verified.needs_rehash {
        app.hasher
            .hash(creds.password)
            .await
            .map_err(|e| log::warn!("password hash not upgraded this time: {e}"))
            .ok()
    } else {
        None
    };
    let now = app.clock.now();
    let Some(started) = start_session(
        app,
        user,
        upgrade.clone(),
        creds.remember,
        origin,
        &reservation,
        now,
    )
    .await?
    else {
        return failed(app, origin, &reservation, Some(user), Failure::CHANGED).await;
    };
    sessions::deny_all(app, &started.evicted);
    let created = started.session;
    // This sign-in's "previous" is the user's last one before it.
    sessions::remember_view(
        app,
        &created,
        user.last_login_at,
        user.last_login_ip.clone(),
        user.email_verified(),
        now,
    );
    let issued = sessions::issue(app, user, &created, now)?;
    // A session cookie that came with the sign-in is not carried on (LG-6): it ends here.
    if let Some(old) = replaces {
        sessions::end(app, old, "replaced by a new sign-in").await?;
    }
    audit::record(
        app,
        Event::LoginSucceeded,
        Some(&user.id),
        Some(&user.username),
        if upgrade.is_some() {
            Reason::PasswordHashUpgraded
        } else {
            Reason::Ok
        },
        origin,
        Some(&created.id),
    )
    .await;
    Ok(SignIn::Done {
        issued: Box::new(issued),
        user_id: user.id.clone(),
        device,
    })
}

/// The password was right, but it is one factor of two. This attempt is taken back without
/// clearing the account's earlier failures (wrong codes keep counting towards its ban), and
/// only a pending sign-in is made: nothing opens until the second step.
async fn second_step_pending(
    app: &App,
    user: &User,
    reservation: &Reservation,
    needs_rehash: bool,
    creds: &Credentials<'_>,
) -> Result<SignIn, AppError> {
    throttle::release(app, reservation).await;
    let upgrade = if needs_rehash {
        app.hasher.hash(creds.password).await.ok()
    } else {
        None
    };
    let now = app.clock.now();
    let (user, remember, next) = (user.clone(), creds.remember, creds.next.to_string());
    let pending = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                second_factor::start_pending(c, &user, upgrade, remember, &next, now)
            })?)
        })
        .await?;
    Ok(SignIn::SecondStep { pending })
}

/// The account named in the sign-in form: by email when it holds an `@`, else by username.
pub async fn find_user(app: &App, login: &str) -> Result<Option<User>, AppError> {
    let login = login.to_string();
    app.db
        .run(move |conn| Ok(users::find_by_login(conn, &login)?))
        .await
}

/// Audits a 429 for a throttled address and hands the error back.
async fn address_throttled(app: &App, origin: &Origin, e: AppError) -> AppError {
    audit::record(
        app,
        Event::LoginThrottled,
        None,
        None,
        Reason::AddressBanned,
        origin,
        None,
    )
    .await;
    e
}

/// Creates the session, in one transaction with the checks that make it safe: the hash the
/// password matched is still the user's (and the account enabled), the rehash if any goes in
/// only on that condition, and this attempt's throttle rows are taken back. `None`: the
/// password changed while it was being checked; nothing was written.
async fn start_session(
    app: &App,
    user: &User,
    upgrade: Option<String>,
    remember: bool,
    origin: &Origin,
    reservation: &Reservation,
    now: i64,
) -> Result<Option<sessions::Started>, AppError> {
    let settings = app.settings.clone();
    let (user, reservation, origin) = (user.clone(), reservation.clone(), origin.clone());
    app.db
        .run(move |conn| {
            write_tx(conn, |c| {
                let verified = sessions::Verified {
                    hash: &user.password_hash,
                    upgrade: upgrade.as_deref(),
                    amr: amr::PASSWORD,
                };
                let started = sessions::start_verified(
                    c, &settings, &user, &verified, remember, &origin, now,
                )?;
                if started.is_some() {
                    throttle::clear_after_success(c, &reservation)?;
                }
                Ok(started)
            })
        })
        .await
}

/// A failed sign-in: counted (what reached its limit is banned) and audited.
async fn failed(
    app: &App,
    origin: &Origin,
    reservation: &Reservation,
    user: Option<&User>,
    failure: Failure,
) -> Result<SignIn, AppError> {
    throttle::fail(app, reservation).await?;
    audit::record(
        app,
        failure.event,
        user.map(|u| u.id.as_str()),
        // What was typed for an unknown account is not kept: it is too often a password.
        user.map(|u| u.username.as_str()),
        failure.reason,
        origin,
        None,
    )
    .await;
    Ok(SignIn::Failed)
}
