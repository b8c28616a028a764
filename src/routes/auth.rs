//! Signing in and out.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::error::AppError;
use crate::service::sessions;
use crate::service::signin::{self, Credentials, SignIn};
use crate::web::cookies;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::guard::AuthUser;
use crate::web::next;
use crate::web::page::{Ctx, Page};
use crate::web::Client;

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

#[post("/login", data = "<form>")]
async fn login(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    previous: Option<AuthUser>,
    form: CsrfForm<LoginForm>,
) -> Result<Result<Redirect, Page>, AppError> {
    let f = form.into_inner();
    let next = next::sanitize_for(&app.settings, f.next.as_deref());
    let remember = f.remember.unwrap_or(false);
    let device_cookie = cookies::device(jar, &app.settings);
    let creds = Credentials {
        login: &f.username,
        password: &f.password,
        remember,
        device_cookie: device_cookie.as_deref(),
        next: &next,
    };
    let replaces = previous.as_ref().map(|p| p.claims.as_ref());
    match signin::sign_in(app, &creds, &client.0, replaces).await? {
        SignIn::Done {
            issued,
            user_id,
            device,
        } => {
            cookies::set_session(jar, &app.settings, &issued);
            cookies::set_device(jar, &app.csrf, &app.settings, &user_id, device.as_deref());
            Ok(Ok(Redirect::to(next)))
        }
        // One factor of two: a pending sign-in, completed at /login/2fa.
        SignIn::SecondStep { pending } => {
            cookies::set_pending(
                jar,
                &app.settings,
                pending,
                crate::service::second_factor::PENDING_VALID_FOR,
            );
            Ok(Ok(Redirect::to("/login/2fa")))
        }
        // The right password, but the address must be verified first: no session, and a way
        // to have the link sent again.
        SignIn::Unverified => Ok(Err(ctx.page(
            "verify-required",
            Status::Forbidden,
            json!({ "login": f.username }),
        ))),
        // The same page whatever the reason, with one message for every failure, so nobody
        // learns which accounts exist (LG-1).
        SignIn::Failed => Ok(Err(login_page(
            &ctx,
            Status::Unauthorized,
            &f.username,
            &next,
            remember,
            Some(&ctx.lang.t("login-failed")),
        ))),
    }
}

/// Logout is POST only (CS-1) and CSRF-checked: a cross-site page cannot sign anyone out.
#[post("/logout", data = "<form>")]
async fn logout(
    app: &State<App>,
    client: Client,
    jar: &CookieJar<'_>,
    form: Result<CsrfForm<LogoutForm>, AppError>,
) -> Result<Flash<Redirect>, AppError> {
    match form {
        Ok(form) => {
            let user = form.user.as_ref().ok_or(AppError::Unauthorized)?;
            sessions::sign_out(app, &user.claims, &client.0).await?;
            cookies::clear_session(jar, &app.settings);
            Ok(Notice::SignedOut.after(Redirect::to("/login")))
        }
        // Not signed in (or the session already ended): nothing to end, just tidy up.
        Err(AppError::Unauthorized) => {
            cookies::clear_session(jar, &app.settings);
            Ok(Notice::AlreadySignedOut.after(Redirect::to("/login")))
        }
        Err(e) => Err(e),
    }
}

pub fn routes() -> Vec<Route> {
    routes![login_form, login, logout]
}
