//! Signing in and out.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::csrf::Binding;
use crate::auth::device;
use crate::auth::session::{self, clip_user_agent};
use crate::auth::throttle::{self, Attempt, Counting, Reservation};
use crate::db::users::{self, User};
use crate::db::write_tx;
use crate::error::AppError;
use crate::validate;
use crate::web::client_ip::ClientIp;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::guard::AuthUser;
use crate::web::next;
use crate::web::page::{Ctx, Page};
use crate::web::UserAgent;
use crate::App;

#[derive(FromForm)]
pub struct LoginForm {
    username: String,
    password: String,
    remember: Option<bool>,
    next: Option<String>,
    /// Optional only so that a missing token is a 403 (CSRF failure), not a 400.
    csrf_token: Option<String>,
}

impl CsrfProtected for LoginForm {
    const BINDING: Binding = Binding::PreSession;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

#[derive(FromForm)]
pub struct LogoutForm {
    /// Optional only so that a missing token is a 403 (CSRF failure), not a 400.
    csrf_token: Option<String>,
}

impl CsrfProtected for LogoutForm {
    const BINDING: Binding = Binding::Session;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

fn login_page(
    ctx: &Ctx,
    status: Status,
    username: &str,
    next: &str,
    remember: bool,
    error: Option<&str>,
) -> Page {
    ctx.page(
        "login",
        status,
        json!({
            "form": {"username": username, "next": next, "remember": remember},
            "error": error,
        }),
    )
}

#[get("/login?<next>")]
fn login_form(app: &State<App>, ctx: Ctx, next: Option<&str>) -> Either<Page, Redirect> {
    let next = next::sanitize_for(&app.settings, next);
    if ctx.user.is_some() {
        return Either::Right(Redirect::to(next));
    }
    Either::Left(login_page(&ctx, Status::Ok, "", &next, false, None))
}

/// Why a sign-in failed, for the audit trail; the visitor sees the same page whatever it is.
struct Failure {
    event: Event,
    reason: &'static str,
}

impl Failure {
    /// The user signing in, or why the sign-in fails.
    fn check(user: Option<&User>, refused: bool, password_ok: bool) -> Result<&User, Failure> {
        let (event, reason) = match user {
            None => (Event::LoginFailed, "unknown user"),
            Some(_) if refused => (Event::LoginThrottled, "account banned"),
            Some(u) if !u.is_enabled() => (Event::LoginFailed, "account disabled"),
            Some(_) if !password_ok => (Event::LoginFailed, "wrong password"),
            Some(u) => return Ok(u),
        };
        Err(Failure { event, reason })
    }

    const CHANGED: Failure = Failure {
        event: Event::LoginFailed,
        reason: "password changed during sign-in",
    };
}

#[allow(clippy::too_many_arguments)]
#[post("/login", data = "<form>")]
async fn login(
    app: &State<App>,
    ctx: Ctx,
    ip: ClientIp,
    ua: UserAgent,
    jar: &CookieJar<'_>,
    previous: Option<AuthUser>,
    form: CsrfForm<LoginForm>,
) -> Result<Result<Redirect, Page>, AppError> {
    let f = form.into_inner();
    let next = next::sanitize_for(&app.settings, f.next.as_deref());
    let remember = f.remember.unwrap_or(false);
    let address = throttle::address_key(ip.0, app.settings.throttle_ipv6_prefix);
    // A banned address is refused before any lookup or hashing: cheap, and 429 (LG-4).
    if let Err(e) = app.throttle.check_known_address(app, &address) {
        return Err(address_throttled(app, ip, e).await);
    }

    let user = find_user(app, &f.username).await?;
    // A browser that signed in to this account before may sign in during an account ban.
    let device = user
        .as_ref()
        .and_then(|u| device::verify(&app.csrf, jar, &app.settings, &u.id));
    let attempt = Attempt {
        address: &address,
        account: user.as_ref().map(|u| u.id.as_str()),
        device: device.as_deref(),
        counting: Counting::DeviceOrAccount,
    };
    // Counted before hashing, so a burst of guesses cannot all be in flight at once.
    let reservation = match app.throttle.reserve(app, &attempt).await {
        Err(e @ AppError::TooManyRequests { .. }) => {
            return Err(address_throttled(app, ip, e).await)
        }
        other => other?,
    };

    // Always one bcrypt verify at the configured cost: for unknown and refused accounts too,
    // against a dummy hash (LG-2).
    let checked = user
        .as_ref()
        .filter(|_| !reservation.refused())
        .map(|u| u.password_hash.clone());
    let verified = match app.hasher.verify(&f.password, checked).await {
        Ok(v) => v,
        Err(e) => {
            app.throttle.release(app, &reservation).await;
            return Err(e);
        }
    };
    let failed = |failure: Failure| {
        sign_in_failed(
            app,
            &ctx,
            ip,
            &f,
            &next,
            remember,
            &reservation,
            user.as_ref(),
            failure,
        )
    };
    let user = match Failure::check(user.as_ref(), reservation.refused(), verified.ok) {
        Ok(user) => user,
        Err(failure) => return failed(failure).await,
    };

    // A stored hash weaker than today's settings is replaced now that we know the password.
    // Best effort: a full bcrypt queue must not turn a correct sign-in into a 503.
    let upgrade = if verified.needs_rehash {
        app.hasher
            .hash(&f.password)
            .await
            .map_err(|e| log::warn!("password hash not upgraded this time: {e}"))
            .ok()
    } else {
        None
    };
    let now = app.clock.now();
    let origin = session::Origin {
        user_agent: clip_user_agent(ua.0.as_deref()),
        client_ip: ip.to_string(),
    };
    let Some(started) = start_session(
        app,
        user,
        upgrade.clone(),
        remember,
        origin,
        &reservation,
        now,
    )
    .await?
    else {
        return failed(Failure::CHANGED).await;
    };
    session::deny_all(app, &started.evicted);
    let created = started.session;
    // This sign-in's "previous" is the user's last one before it.
    session::remember_view(
        app,
        &created,
        user.last_login_at,
        user.last_login_ip.clone(),
        now,
    );
    let claims = session::claims(app, user, &created, now);
    let token = app.tokens.issue(&claims).map_err(|e| {
        log::error!("cannot sign a session token: {e}");
        AppError::Internal
    })?;
    // A session cookie that came with the sign-in is not carried on (LG-6): it ends here.
    if let Some(old) = previous {
        session::end(app, &old.claims, "replaced by a new sign-in").await?;
    }
    session::set_cookie(
        jar,
        &app.settings,
        token,
        remember,
        created.absolute_expires_at,
        now,
    );
    device::remember(&app.csrf, jar, &app.settings, &user.id, device.as_deref());
    audit::record(
        app,
        Event::LoginSucceeded,
        Some(&user.id),
        Some(&user.username),
        if upgrade.is_some() {
            "password hash upgraded"
        } else {
            "ok"
        },
        ip,
        Some(&created.id),
    )
    .await;
    Ok(Ok(Redirect::to(next)))
}

/// The account named in the sign-in form: by email when it holds an `@`, else by username.
async fn find_user(app: &App, login: &str) -> Result<Option<User>, AppError> {
    let login = login.to_string();
    app.db
        .run(move |conn| {
            let found = if login.contains('@') {
                users::find_by_email_key(conn, &validate::email_key(&login))?
            } else {
                users::find_by_username_key(conn, &validate::username_key(&login))?
            };
            Ok(found)
        })
        .await
}

/// Audits a 429 for a throttled address and hands the error back.
async fn address_throttled(app: &App, ip: ClientIp, e: AppError) -> AppError {
    audit::record(
        app,
        Event::LoginThrottled,
        None,
        None,
        "address banned",
        ip,
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
    origin: session::Origin,
    reservation: &Reservation,
    now: i64,
) -> Result<Option<session::Started>, AppError> {
    let settings = app.settings.clone();
    let (user, reservation) = (user.clone(), reservation.clone());
    app.db
        .run(move |conn| {
            write_tx(conn, |c| {
                let verified = session::Verified {
                    hash: &user.password_hash,
                    upgrade: upgrade.as_deref(),
                };
                let started = session::start_verified(
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

/// A failed sign-in: counted (what reached its limit is banned), audited, and answered with
/// the same page whatever the reason (LG-1).
#[allow(clippy::too_many_arguments)]
async fn sign_in_failed(
    app: &App,
    ctx: &Ctx,
    ip: ClientIp,
    f: &LoginForm,
    next: &str,
    remember: bool,
    reservation: &Reservation,
    user: Option<&User>,
    failure: Failure,
) -> Result<Result<Redirect, Page>, AppError> {
    app.throttle.fail(app, reservation).await?;
    audit::record(
        app,
        failure.event,
        user.map(|u| u.id.as_str()),
        // What was typed for an unknown account is not kept: it is too often a password.
        user.map(|u| u.username.as_str()),
        failure.reason,
        ip,
        None,
    )
    .await;
    Ok(Err(login_page(
        ctx,
        Status::Unauthorized,
        &f.username,
        next,
        remember,
        // One message for every failure, so nobody learns which accounts exist (LG-1).
        Some(&ctx.lang.t("login-failed")),
    )))
}

/// Logout is POST only (CS-1) and CSRF-checked: a cross-site page cannot sign anyone out.
#[post("/logout", data = "<form>")]
async fn logout(
    app: &State<App>,
    ip: ClientIp,
    jar: &CookieJar<'_>,
    form: Result<CsrfForm<LogoutForm>, AppError>,
) -> Result<Flash<Redirect>, AppError> {
    match form {
        Ok(form) => {
            let user = form.user.as_ref().ok_or(AppError::Unauthorized)?;
            session::end(app, &user.claims, "signed out").await?;
            audit::record(
                app,
                Event::Logout,
                Some(user.user_id()),
                Some(user.name()),
                "ok",
                ip,
                Some(user.sid()),
            )
            .await;
            session::clear_cookie(jar, &app.settings);
            Ok(Notice::SignedOut.after(Redirect::to("/login")))
        }
        // Not signed in (or the session already ended): nothing to end, just tidy up.
        Err(AppError::Unauthorized) => {
            session::clear_cookie(jar, &app.settings);
            Ok(Notice::AlreadySignedOut.after(Redirect::to("/login")))
        }
        Err(e) => Err(e),
    }
}

pub fn routes() -> Vec<Route> {
    routes![login_form, login, logout]
}
