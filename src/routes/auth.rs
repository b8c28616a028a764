//! Signing in and out.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::csrf::{Binding, CsrfForm, CsrfProtected};
use crate::auth::device;
use crate::auth::guard::AuthUser;
use crate::auth::session::{self, clip_user_agent};
use crate::auth::throttle::{BanKind, Counting};
use crate::db::{users, write_tx};
use crate::error::AppError;
use crate::validate;
use crate::web::client_ip::ClientIp;
use crate::web::flash::Notice;
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
    let ip_text = ip.to_string();
    // A banned address is refused before any lookup or hashing: cheap, and 429 (LG-4).
    if let Err(e) = app.throttle.check_ip(app, &ip_text).await {
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
        return Err(e);
    }

    let login = f.username.clone();
    let user = app
        .db
        .run(move |conn| {
            let found = if login.contains('@') {
                users::find_by_email_key(conn, &validate::email_key(&login))?
            } else {
                users::find_by_username_key(conn, &validate::username_key(&login))?
            };
            Ok(found)
        })
        .await?;

    // A browser that signed in to this account before may sign in during an account ban.
    let device = user
        .as_ref()
        .and_then(|u| device::verify(&app.csrf, jar, &app.settings, &u.id));
    let banned = match (&user, &device) {
        (Some(_), Some(d)) => app.throttle.banned_until(app, BanKind::Device, d).await?,
        (Some(u), None) => {
            app.throttle
                .banned_until(app, BanKind::Account, &u.id)
                .await?
        }
        (None, _) => None,
    }
    .is_some();

    // Always one bcrypt verify, for unknown and banned accounts too (LG-2).
    let verified = app
        .hasher
        .verify(&f.password, user.as_ref().map(|u| u.password_hash.clone()))
        .await?;

    let user = match user {
        Some(u) if verified.ok && u.is_enabled() && !banned => u,
        other => {
            let (event, reason) = match &other {
                None => (Event::LoginFailed, "unknown user"),
                Some(_) if banned => (Event::LoginThrottled, "account banned"),
                Some(u) if !u.is_enabled() => (Event::LoginFailed, "account disabled"),
                Some(_) => (Event::LoginFailed, "wrong password"),
            };
            app.throttle
                .record_failure(
                    app,
                    &ip_text,
                    other.as_ref().map(|u| u.id.as_str()),
                    device.as_deref(),
                    Counting::DeviceOrAccount,
                )
                .await?;
            audit::record(
                app,
                event,
                other.as_ref().map(|u| u.id.as_str()),
                // What was typed for an unknown account is not kept: it is too often a password.
                other.as_ref().map(|u| u.username.as_str()),
                reason,
                ip,
                None,
            )
            .await;
            // The same page whatever the reason (LG-1).
            return Ok(Err(login_page(
                &ctx,
                Status::Unauthorized,
                &f.username,
                &next,
                remember,
                // One message for every failure, so nobody learns which accounts exist (LG-1).
                Some(&ctx.lang.t("login-failed")),
            )));
        }
    };
    app.throttle
        .record_success(app, &user.id, device.as_deref())
        .await?;

    // A stored hash weaker than today's settings is replaced now that we know the password.
    let new_hash = if verified.needs_rehash {
        Some(app.hasher.hash(&f.password).await?)
    } else {
        None
    };

    let now = app.clock.now();
    let origin = session::Origin {
        user_agent: clip_user_agent(ua.0.as_deref()),
        client_ip: ip_text,
    };
    let settings = app.settings.clone();
    let session_user = user.clone();
    let started = app
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                if let Some(hash) = &new_hash {
                    users::set_password_hash(c, &session_user.id, hash, now)?;
                }
                session::start(c, &settings, &session_user, remember, &origin, now)
            })
        })
        .await?;
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
    let claims = session::claims(app, &user, &created, now);
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
        if verified.needs_rehash {
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
