//! The second factor: enrolling a TOTP authenticator (confirmed by a first code and the
//! current password), recovery codes (shown once, stored hashed, single use), turning it off,
//! an administrator's reset, and the second step of a sign-in.
//!
//! The secret is sealed with `data_dir/totp.key` at rest and in the enrolment form (bound to
//! the user), so neither a copy of the database nor a copied form yields it. A code is
//! accepted once: the step it matched is recorded with a conditional update, on every
//! instance. Wrong codes count towards the account's ban like wrong passwords.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::QueryResult;

use super::account;
use super::audit::{self, Event, Reason};
use super::throttle::{self, Attempt, Counting};
use super::{outbox, sessions, Issued, Origin};
use crate::app::App;
use crate::auth::token::{amr, Claims};
use crate::auth::{device, totp};
use crate::db::second_factor::{self as rows, Pending};
use crate::db::users::{self, User};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;
use crate::mail::compose::{compose, Context, Mail};

/// How long the setup form (its sealed secret) stays good.
pub const SETUP_VALID_FOR: i64 = 900;
/// How long a sign-in waits for its second step.
pub const PENDING_VALID_FOR: i64 = 300;

fn at_rest_context(user_id: &str) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

fn setup_context(user_id: &str) -> Vec<u8> {
    format!("totp-setup:{user_id}").into_bytes()
}

/// A secret on offer: what the setup page shows, and the sealed form field that carries it
/// to the confirming post.
pub struct Setup {
    pub secret_text: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
    pub sealed: String,
}

/// A new secret for `user` to enrol (nothing is stored until it is confirmed).
pub fn setup(app: &App, user: &User, qr_label: &str) -> Setup {
    let secret = totp::new_secret();
    let expires = app.clock.now() + SETUP_VALID_FOR;
    let mut plain = expires.to_be_bytes().to_vec();
    plain.extend_from_slice(&secret);
    let sealed = app.totp_key.seal_for(&setup_context(&user.id), &plain);
    let uri = totp::otpauth_uri(&secret, &user.username).unwrap_or_default();
    Setup {
        secret_text: totp::secret_text(&secret),
        qr_svg: totp::qr_svg(&uri, qr_label).unwrap_or_default(),
        otpauth_uri: uri,
        sealed: URL_SAFE_NO_PAD.encode(sealed),
    }
}

/// The secret a setup form carries, if it is this user's and still good.
fn open_setup(app: &App, user_id: &str, sealed: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.as_bytes()).ok()?;
    let plain = app.totp_key.open_for(&setup_context(user_id), &bytes)?;
    let (expires, secret) = plain.split_at_checked(8)?;
    let expires = i64::from_be_bytes(expires.try_into().ok()?);
    (expires > app.clock.now() && secret.len() == 20).then(|| secret.to_vec())
}

/// Where the user's second factor stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub enabled_at: Option<i64>,
    pub codes_left: i64,
}

pub async fn status(app: &App, user_id: &str) -> Result<(User, Status), AppError> {
    let id = user_id.to_string();
    app.db
        .run(move |conn| {
            let user = users::find_by_id(conn, &id)?.ok_or(AppError::Unauthorized)?;
            let codes_left = rows::codes_left(conn, &id)?;
            let status = Status {
                enabled_at: user.totp_enabled_at,
                codes_left,
            };
            Ok((user, status))
        })
        .await
}

/// What turning TOTP on did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enable {
    /// On: the recovery codes, to show once.
    Enabled {
        codes: Vec<String>,
    },
    WrongPassword,
    /// Not a current code of the secret on offer.
    WrongCode,
    /// The setup form is too old, or not this user's: start again.
    SetupExpired,
    AlreadyOn,
}

/// Turns TOTP on with the secret the setup form carries, confirmed by a code from it and the
/// current password. Audited, mailed as a notice.
pub async fn enable(
    app: &App,
    claims: &Claims,
    sealed_setup: &str,
    code: &str,
    current_password: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<Enable, AppError> {
    let Some(secret) = open_setup(app, &claims.sub, sealed_setup) else {
        return Ok(Enable::SetupExpired);
    };
    let Some(user) =
        account::check_current_password(app, claims, current_password, origin, device_cookie)
            .await?
    else {
        return Ok(Enable::WrongPassword);
    };
    if user.has_second_factor() {
        return Ok(Enable::AlreadyOn);
    }
    let now = app.clock.now();
    let Some(step) = totp::matching_step(&secret, code, now) else {
        return Ok(Enable::WrongCode);
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| totp::recovery_hash(&user.id, c))
        .collect();
    let sealed = app.totp_key.seal_for(&at_rest_context(&user.id), &secret);
    let (app_copy, origin_copy, sid) = (app.clone(), origin.clone(), claims.sid.clone());
    let enabled = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| -> QueryResult<bool> {
                if !rows::enable_totp(c, &user.id, &sealed, step, now)? {
                    return Ok(false);
                }
                rows::replace_codes(c, &user.id, &hashes, now)?;
                record(
                    c,
                    &app_copy,
                    &user,
                    Event::SecondFactorEnabled,
                    Reason::Ok,
                    &origin_copy,
                    Some(&sid),
                    now,
                )?;
                Ok(true)
            })?)
        })
        .await?;
    if !enabled {
        return Ok(Enable::AlreadyOn);
    }
    after_change(app, &claims.sub);
    Ok(Enable::Enabled { codes })
}

/// What asking for new recovery codes did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regenerate {
    Codes(Vec<String>),
    WrongPassword,
    NotOn,
}

/// A new set of recovery codes (the old set void), current password required.
pub async fn regenerate_codes(
    app: &App,
    claims: &Claims,
    current_password: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<Regenerate, AppError> {
    let Some(user) =
        account::check_current_password(app, claims, current_password, origin, device_cookie)
            .await?
    else {
        return Ok(Regenerate::WrongPassword);
    };
    if !user.has_second_factor() {
        return Ok(Regenerate::NotOn);
    }
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| totp::recovery_hash(&user.id, c))
        .collect();
    let now = app.clock.now();
    let (app_copy, origin_copy, sid) = (app.clone(), origin.clone(), claims.sid.clone());
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| -> QueryResult<()> {
                rows::replace_codes(c, &user.id, &hashes, now)?;
                record(
                    c,
                    &app_copy,
                    &user,
                    Event::RecoveryCodesRegenerated,
                    Reason::Ok,
                    &origin_copy,
                    Some(&sid),
                    now,
                )
            })?)
        })
        .await?;
    outbox::wake(app);
    Ok(Regenerate::Codes(codes))
}

/// What turning it off did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disable {
    Disabled,
    WrongPassword,
    WrongCode,
    NotOn,
}

/// Turns the second factor off: the current password and a code (TOTP or recovery) required.
pub async fn disable(
    app: &App,
    claims: &Claims,
    current_password: &str,
    code: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<Disable, AppError> {
    let Some(user) =
        account::check_current_password(app, claims, current_password, origin, device_cookie)
            .await?
    else {
        return Ok(Disable::WrongPassword);
    };
    if !user.has_second_factor() {
        return Ok(Disable::NotOn);
    }
    let now = app.clock.now();
    let proof = proof_of(app, &user, code, now);
    let (app_copy, origin_copy, sid) = (app.clone(), origin.clone(), claims.sid.clone());
    let done = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| -> QueryResult<bool> {
                if !use_proof(c, &user.id, &proof, now)? || !rows::disable(c, &user.id, now)? {
                    return Ok(false);
                }
                record(
                    c,
                    &app_copy,
                    &user,
                    Event::SecondFactorDisabled,
                    Reason::Ok,
                    &origin_copy,
                    Some(&sid),
                    now,
                )?;
                Ok(true)
            })?)
        })
        .await?;
    if !done {
        return Ok(Disable::WrongCode);
    }
    after_change(app, &claims.sub);
    Ok(Disable::Disabled)
}

/// An administrator turns a locked-out user's second factor off (`gatehouse user
/// reset-2fa`). `false`: it was not on.
pub async fn reset_by_administrator(
    app: &App,
    user: &User,
    origin: &Origin,
) -> Result<bool, AppError> {
    let now = app.clock.now();
    let (app_copy, origin_copy, user_copy) = (app.clone(), origin.clone(), user.clone());
    let done = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| -> QueryResult<bool> {
                if !rows::disable(c, &user_copy.id, now)? {
                    return Ok(false);
                }
                record(
                    c,
                    &app_copy,
                    &user_copy,
                    Event::SecondFactorDisabled,
                    Reason::ByAdministrator,
                    &origin_copy,
                    None,
                    now,
                )?;
                Ok(true)
            })?)
        })
        .await?;
    if done {
        after_change(app, &user.id);
    }
    Ok(done)
}

/// A code as typed, checked against what it could be: a TOTP code of the user's secret (the
/// step it matched), or a recovery code (its hash). Using it is [`use_proof`]'s.
#[derive(Debug, Clone)]
enum Proof {
    Step(i64),
    Recovery(String),
    Wrong,
}

impl Proof {
    fn reason(&self) -> Reason {
        match self {
            Proof::Recovery(_) => Reason::RecoveryCodeUsed,
            _ => Reason::Ok,
        }
    }
}

fn proof_of(app: &App, user: &User, code: &str, now: i64) -> Proof {
    let normalized = totp::normalize(code);
    if totp::looks_like_totp(&normalized) {
        let secret = user
            .totp_secret
            .as_deref()
            .and_then(|sealed| app.totp_key.open_for(&at_rest_context(&user.id), sealed));
        return match secret.and_then(|s| totp::matching_step(&s, &normalized, now)) {
            Some(step) => Proof::Step(step),
            None => Proof::Wrong,
        };
    }
    if totp::looks_like_recovery(&normalized) {
        return Proof::Recovery(totp::recovery_hash(&user.id, &normalized));
    }
    Proof::Wrong
}

/// Uses the code up, in the caller's transaction: `false` if it is wrong, or was used already
/// (a replayed TOTP code, a spent recovery code).
fn use_proof(conn: &mut DbConn, user_id: &str, proof: &Proof, now: i64) -> QueryResult<bool> {
    match proof {
        Proof::Step(step) => rows::use_step(conn, user_id, *step),
        Proof::Recovery(hash) => rows::use_code(conn, user_id, hash, now),
        Proof::Wrong => Ok(false),
    }
}

/// The audit row and, with mail, the notice of a change to the second factor.
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut DbConn,
    app: &App,
    user: &User,
    event: Event,
    reason: Reason,
    origin: &Origin,
    sid: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    if app.sends_mail() {
        let by = Context {
            at: now,
            user_agent: &origin.user_agent,
            ip: &origin.audit_address(),
        };
        let mail = match event {
            Event::SecondFactorEnabled => Mail::SecondFactorEnabled { by },
            Event::SecondFactorDisabled => Mail::SecondFactorDisabled { by },
            _ => Mail::RecoveryCodesRegenerated { by },
        };
        let message = compose(user.language(), &user.username, &user.email, &mail);
        outbox::enqueue(conn, app, &message, now)?;
    }
    audit::store(
        conn,
        &audit::event(
            now,
            event,
            Some(&user.id),
            Some(&user.username),
            reason,
            origin,
            sid,
        ),
    )
}

fn after_change(app: &App, user_id: &str) {
    outbox::wake(app);
    app.profiles.forget(user_id);
}

/// The cookie value of a pending sign-in, and what the database keeps of it.
pub fn pending_token() -> (String, String) {
    crate::ids::new_secret_token()
}

/// In the caller's transaction: a sign-in whose password was right waits for its second
/// step. Returns the cookie value.
pub fn start_pending(
    conn: &mut DbConn,
    user: &User,
    upgrade: Option<String>,
    remember: bool,
    next: &str,
    now: i64,
) -> QueryResult<String> {
    let (token, hash) = pending_token();
    rows::insert_pending(
        conn,
        &Pending {
            id_hash: hash,
            user_id: user.id.clone(),
            password_hash: user.password_hash.clone(),
            upgrade,
            remember,
            next: next.to_string(),
            created_at: now,
            expires_at: now + PENDING_VALID_FOR,
            used_at: None,
        },
    )?;
    Ok(token)
}

/// The pending sign-in a cookie names, if it still waits (for the second step's page).
pub async fn pending(app: &App, token: &str) -> Result<Option<Pending>, AppError> {
    if token.len() > 64 {
        return Ok(None);
    }
    let (hash, now) = (crate::ids::secret_token_hash(token), app.clock.now());
    app.db
        .run(move |conn| Ok(rows::find_pending(conn, &hash, now)?))
        .await
}

/// What the second step did.
pub enum Step {
    /// Signed in: the session's token, the device proved (or `None`), where to go.
    Done {
        issued: Box<Issued>,
        user_id: String,
        device: Option<String>,
        next: String,
    },
    /// A wrong (or used) code: the form again, 401. Counted like a wrong password.
    Wrong,
    /// No pending sign-in (expired, used, or its password changed since): start again.
    Expired,
}

/// The second step: a TOTP code or a recovery code for the sign-in the cookie names.
pub async fn second_step(
    app: &App,
    token: &str,
    code: &str,
    origin: &Origin,
    device_cookie: Option<&str>,
) -> Result<Step, AppError> {
    let address = throttle::origin_key(app, origin);
    throttle::check_known_address(app, &address)?;
    let Some(pending) = pending(app, token).await? else {
        return Ok(Step::Expired);
    };
    let id = pending.user_id.clone();
    let user = app
        .db
        .run(move |conn| Ok(users::find_by_id(conn, &id)?))
        .await?;
    let Some(user) = user.filter(|u| u.is_enabled() && u.has_second_factor()) else {
        return Ok(Step::Expired);
    };
    let device = device::verify(&app.csrf, device_cookie, &user.id);
    let attempt = Attempt {
        address: &address,
        account: Some(&user.id),
        device: device.as_deref(),
        counting: Counting::DeviceOrAccount,
    };
    let reservation = throttle::reserve(app, &attempt).await?;
    let now = app.clock.now();
    let proof = if reservation.refused() {
        Proof::Wrong
    } else {
        proof_of(app, &user, code, now)
    };
    let settings = app.settings.clone();
    let (user_copy, origin_copy, reservation_copy, proof_copy) = (
        user.clone(),
        origin.clone(),
        reservation.clone(),
        proof.clone(),
    );
    let started = app
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                if !use_proof(c, &user_copy.id, &proof_copy, now)? {
                    return Ok(Err(false));
                }
                if !rows::finish_pending(c, &pending.id_hash, now)? {
                    return Ok(Err(true));
                }
                let verified = sessions::Verified {
                    hash: &pending.password_hash,
                    upgrade: pending.upgrade.as_deref(),
                    amr: amr::PASSWORD_AND_OTP,
                };
                let Some(started) = sessions::start_verified(
                    c,
                    &settings,
                    &user_copy,
                    &verified,
                    pending.remember,
                    &origin_copy,
                    now,
                )?
                else {
                    return Ok(Err(true));
                };
                throttle::clear_after_success(c, &reservation_copy)?;
                Ok(Ok((started, pending.next)))
            })
        })
        .await?;
    let (started, next) = match started {
        Ok(v) => v,
        Err(expired) => {
            if expired {
                throttle::release(app, &reservation).await;
                return Ok(Step::Expired);
            }
            throttle::fail(app, &reservation).await?;
            audit::record(
                app,
                Event::LoginFailed,
                Some(&user.id),
                Some(&user.username),
                if reservation.refused() {
                    Reason::AccountBanned
                } else {
                    Reason::WrongSecondFactor
                },
                origin,
                None,
            )
            .await;
            return Ok(Step::Wrong);
        }
    };
    sessions::deny_all(app, &started.evicted);
    let session = started.session;
    sessions::remember_view(
        app,
        &session,
        user.last_login_at,
        user.last_login_ip.clone(),
        user.email_verified(),
        now,
    );
    let issued = sessions::issue(app, &user, &session, now)?;
    audit::record(
        app,
        Event::LoginSucceeded,
        Some(&user.id),
        Some(&user.username),
        proof.reason(),
        origin,
        Some(&session.id),
    )
    .await;
    Ok(Step::Done {
        issued: Box::new(issued),
        user_id: user.id,
        device,
        next,
    })
}
