//! "Forgot your password?": asking for a link, and setting a new password with it.

use rocket::http::Status;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::error::AppError;
use crate::service::account::NewPasswordProblem;
use crate::service::reset::{self, Asked, Reset};
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::page::{error_list, Ctx, FieldErrors, Page};
use crate::web::Client;

#[derive(FromForm)]
pub struct ForgotForm {
    email: String,
    /// Optional only so that a missing token is a 403 (CSRF failure), not a 400.
    csrf_token: Option<String>,
}

impl CsrfProtected for ForgotForm {
    const BINDING: Binding = Binding::PreSession;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

#[derive(FromForm)]
pub struct ResetForm {
    new_password: String,
    new_password_confirm: String,
    csrf_token: Option<String>,
}

impl CsrfProtected for ResetForm {
    const BINDING: Binding = Binding::PreSession;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

fn forgot_page(app: &App, ctx: &Ctx, status: Status, email: &str, errors: &FieldErrors) -> Page {
    ctx.page(
        "forgot",
        status,
        json!({
            "form": {"email": email},
            "errors": errors,
            "error_list": error_list(errors, &["email"]),
            "mail_off": !app.sends_mail(),
        }),
    )
}

#[get("/password/forgot")]
fn forgot(app: &State<App>, ctx: Ctx) -> Page {
    forgot_page(app, &ctx, Status::Ok, "", &FieldErrors::new())
}

/// The same page whether or not the address has an account (see `service::reset`).
#[post("/password/forgot", data = "<form>")]
async fn ask(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    form: CsrfForm<ForgotForm>,
) -> Result<Page, AppError> {
    let f = form.into_inner();
    match reset::ask(app, &f.email, &client.0).await? {
        Asked::Queued => Ok(ctx.page(
            "forgot-sent",
            Status::Ok,
            json!({ "minutes": app.settings.password_reset_timeout / 60 }),
        )),
        Asked::Invalid(key) => {
            let errors = FieldErrors::from([("email", ctx.lang.t(key))]);
            Ok(forgot_page(
                app,
                &ctx,
                Status::UnprocessableEntity,
                &f.email,
                &errors,
            ))
        }
        Asked::MailOff => Ok(forgot_page(app, &ctx, Status::Ok, "", &FieldErrors::new())),
    }
}

/// A link that does not work (any more): 400, with a way to ask again.
fn invalid_link(ctx: &Ctx) -> Page {
    ctx.page("reset-invalid", Status::BadRequest, json!({}))
}

fn reset_page(
    ctx: &Ctx,
    status: Status,
    token: &str,
    errors: &FieldErrors,
    strength: Option<u8>,
) -> Page {
    ctx.page(
        "reset",
        status,
        json!({
            "token": token,
            "errors": errors,
            "error_list": error_list(errors, &["new_password", "new_password_confirm"]),
            "strength": strength,
        }),
    )
}

/// Viewing the form never uses the link up: mail scanners open links.
#[get("/password/reset/<token>")]
async fn reset_form(app: &State<App>, ctx: Ctx, token: &str) -> Result<Page, AppError> {
    Ok(match reset::account(app, token).await? {
        Some(_) => reset_page(&ctx, Status::Ok, token, &FieldErrors::new(), None),
        None => invalid_link(&ctx),
    })
}

#[post("/password/reset/<token>", data = "<form>")]
async fn reset_password(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    token: &str,
    form: CsrfForm<ResetForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let f = form.into_inner();
    let outcome = reset::complete(
        app,
        token,
        &f.new_password,
        &f.new_password_confirm,
        &client.0,
    )
    .await?;
    Ok(match outcome {
        Reset::Done => Either::Left(Notice::PasswordReset.after(Redirect::to("/login"))),
        Reset::InvalidLink => Either::Right(invalid_link(&ctx)),
        Reset::Refused { problem, strength } => {
            let mut errors = FieldErrors::new();
            match problem {
                NewPasswordProblem::Policy(p) => {
                    errors.insert("new_password", ctx.lang.password_problem(&p))
                }
                NewPasswordProblem::Mismatch | NewPasswordProblem::Unchanged => errors.insert(
                    "new_password_confirm",
                    ctx.lang.t("error-password-mismatch"),
                ),
            };
            Either::Right(reset_page(
                &ctx,
                Status::UnprocessableEntity,
                token,
                &errors,
                Some(strength),
            ))
        }
    })
}

pub fn routes() -> Vec<Route> {
    routes![forgot, ask, reset_form, reset_password]
}
