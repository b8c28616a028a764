//! Two-step sign-in: the account's 2FA page (enrol, recovery codes, turn off) and the sign-in's
//! second step at `/login/2fa`.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::error::AppError;
use crate::service::second_factor::{self, Disable, Enable, Regenerate, Step};
use crate::web::cookies;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::guard::AuthUser;
use crate::web::next;
use crate::web::page::{error_list, Ctx, FieldErrors, Page};
use crate::web::Client;

#[derive(FromForm)]
pub struct EnableForm {
    setup: String,
    code: String,
    current_password: String,
    csrf_token: Option<String>,
}

#[derive(FromForm)]
pub struct DisableForm {
    code: String,
    current_password: String,
    csrf_token: Option<String>,
}

#[derive(FromForm)]
pub struct CodesForm {
    current_password: String,
    csrf_token: Option<String>,
}

#[derive(FromForm)]
pub struct StepForm {
    code: String,
    /// Optional only so that a missing token is a 403 (CSRF failure), not a 400.
    csrf_token: Option<String>,
}

macro_rules! csrf_bound {
    ($form:ty, $binding:expr) => {
        impl CsrfProtected for $form {
            const BINDING: Binding = $binding;
            fn csrf_token(&self) -> &str {
                self.csrf_token.as_deref().unwrap_or("")
            }
        }
    };
}

csrf_bound!(EnableForm, Binding::Session);
csrf_bound!(DisableForm, Binding::Session);
csrf_bound!(CodesForm, Binding::Session);
csrf_bound!(StepForm, Binding::PreSession);

/// The 2FA page: the status, and either a new secret to enrol or the forms to manage it.
/// `codes`: a new set of recovery codes, shown this once.
async fn page(
    app: &App,
    ctx: &Ctx,
    user: &AuthUser,
    status: Status,
    errors: &FieldErrors,
    codes: Option<&[String]>,
) -> Result<Page, AppError> {
    let (account, state) = second_factor::status(app, user.user_id()).await?;
    let setup = state.enabled_at.is_none().then(|| {
        let setup = second_factor::setup(app, &account, &ctx.lang.t("twofa-qr-label"));
        json!({
            "secret": setup.secret_text,
            "qr": setup.qr_svg,
            "uri": setup.otpauth_uri,
            "sealed": setup.sealed,
        })
    });
    let download = codes.map(|c| {
        let text = format!(
            "{}\n\n{}\n",
            ctx.lang.t("twofa-codes-file-title"),
            c.join("\n")
        );
        format!("data:text/plain;charset=utf-8,{}", next::encode(&text))
    });
    Ok(ctx.page(
        "2fa",
        status,
        json!({
            "enabled": state.enabled_at.is_some(),
            "enabled_at": state.enabled_at,
            "codes_left": state.codes_left,
            "setup": setup,
            "codes": codes,
            "download": download,
            "errors": errors,
            "error_list": error_list(errors, &["code", "current_password", "disable_code", "disable_password", "codes_password"]),
        }),
    ))
}

#[get("/account/2fa")]
async fn show(app: &State<App>, user: AuthUser, ctx: Ctx) -> Result<Page, AppError> {
    page(app, &ctx, &user, Status::Ok, &FieldErrors::new(), None).await
}

#[post("/account/2fa/totp", data = "<form>")]
async fn enable(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<EnableForm>,
) -> Result<Page, AppError> {
    let user = form.user.clone().ok_or(AppError::Unauthorized)?;
    let f = form.into_inner();
    let device = cookies::device(jar, &app.settings);
    let outcome = second_factor::enable(
        app,
        &user.claims,
        &f.setup,
        &f.code,
        &f.current_password,
        &client.0,
        device.as_deref(),
    )
    .await?;
    let mut errors = FieldErrors::new();
    let status = match outcome {
        Enable::Enabled { codes } => {
            return page(app, &ctx, &user, Status::Ok, &errors, Some(&codes)).await
        }
        Enable::WrongPassword => {
            errors.insert("current_password", ctx.lang.t("account-wrong-current"));
            Status::Unauthorized
        }
        Enable::WrongCode => {
            errors.insert("code", ctx.lang.t("twofa-wrong-code"));
            Status::UnprocessableEntity
        }
        Enable::SetupExpired => {
            errors.insert("code", ctx.lang.t("twofa-setup-expired"));
            Status::UnprocessableEntity
        }
        Enable::AlreadyOn => {
            errors.insert("code", ctx.lang.t("twofa-already-on"));
            Status::Conflict
        }
    };
    page(app, &ctx, &user, status, &errors, None).await
}

#[post("/account/2fa/recovery-codes", data = "<form>")]
async fn new_codes(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<CodesForm>,
) -> Result<Page, AppError> {
    let user = form.user.clone().ok_or(AppError::Unauthorized)?;
    let f = form.into_inner();
    let device = cookies::device(jar, &app.settings);
    let outcome = second_factor::regenerate_codes(
        app,
        &user.claims,
        &f.current_password,
        &client.0,
        device.as_deref(),
    )
    .await?;
    let mut errors = FieldErrors::new();
    let status = match outcome {
        Regenerate::Codes(codes) => {
            return page(app, &ctx, &user, Status::Ok, &errors, Some(&codes)).await
        }
        Regenerate::WrongPassword => {
            errors.insert("codes_password", ctx.lang.t("account-wrong-current"));
            Status::Unauthorized
        }
        Regenerate::NotOn => {
            errors.insert("codes_password", ctx.lang.t("twofa-not-on"));
            Status::Conflict
        }
    };
    page(app, &ctx, &user, status, &errors, None).await
}

#[post("/account/2fa/disable", data = "<form>")]
async fn disable(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<DisableForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let user = form.user.clone().ok_or(AppError::Unauthorized)?;
    let f = form.into_inner();
    let device = cookies::device(jar, &app.settings);
    let outcome = second_factor::disable(
        app,
        &user.claims,
        &f.current_password,
        &f.code,
        &client.0,
        device.as_deref(),
    )
    .await?;
    let mut errors = FieldErrors::new();
    let status = match outcome {
        Disable::Disabled => {
            return Ok(Either::Left(
                Notice::SecondFactorOff.after(Redirect::to("/account/2fa")),
            ))
        }
        Disable::WrongPassword => {
            errors.insert("disable_password", ctx.lang.t("account-wrong-current"));
            Status::Unauthorized
        }
        Disable::WrongCode => {
            errors.insert("disable_code", ctx.lang.t("twofa-wrong-code"));
            Status::Unauthorized
        }
        Disable::NotOn => {
            errors.insert("disable_code", ctx.lang.t("twofa-not-on"));
            Status::Conflict
        }
    };
    Ok(Either::Right(
        page(app, &ctx, &user, status, &errors, None).await?,
    ))
}

fn step_page(ctx: &Ctx, status: Status, error: Option<String>) -> Page {
    ctx.page("login-2fa", status, json!({ "error": error }))
}

/// The second step's form, for a browser with a pending sign-in; anyone else starts at
/// `/login`.
#[get("/login/2fa")]
async fn step_form(
    app: &State<App>,
    ctx: Ctx,
    jar: &CookieJar<'_>,
) -> Result<Either<Page, Redirect>, AppError> {
    let token = cookies::pending(jar, &app.settings).unwrap_or_default();
    Ok(match second_factor::pending(app, &token).await? {
        Some(_) => Either::Left(step_page(&ctx, Status::Ok, None)),
        None => {
            cookies::clear_pending(jar, &app.settings);
            Either::Right(Redirect::to("/login"))
        }
    })
}

#[post("/login/2fa", data = "<form>")]
async fn step(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    previous: Option<AuthUser>,
    form: CsrfForm<StepForm>,
) -> Result<Either<Redirect, Either<Flash<Redirect>, Page>>, AppError> {
    let f = form.into_inner();
    let token = cookies::pending(jar, &app.settings).unwrap_or_default();
    let device = cookies::device(jar, &app.settings);
    match second_factor::second_step(app, &token, &f.code, &client.0, device.as_deref()).await? {
        Step::Done {
            issued,
            user_id,
            device,
            next,
        } => {
            // A session cookie that came with the sign-in is not carried on (LG-6).
            if let Some(old) = previous {
                crate::service::sessions::end(app, &old.claims, "replaced by a new sign-in")
                    .await?;
            }
            cookies::clear_pending(jar, &app.settings);
            cookies::set_session(jar, &app.settings, &issued);
            cookies::set_device(jar, &app.csrf, &app.settings, &user_id, device.as_deref());
            Ok(Either::Left(Redirect::to(next)))
        }
        Step::Wrong => Ok(Either::Right(Either::Right(step_page(
            &ctx,
            Status::Unauthorized,
            Some(ctx.lang.t("twofa-wrong-code")),
        )))),
        Step::Expired => {
            cookies::clear_pending(jar, &app.settings);
            Ok(Either::Right(Either::Left(
                Notice::SecondStepExpired.after(Redirect::to("/login")),
            )))
        }
    }
}

pub fn routes() -> Vec<Route> {
    routes![show, enable, new_codes, disable, step_form, step]
}
