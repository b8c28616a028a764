//! Email addresses: opening a verification link, changing the address, asking for the link
//! again (signed in, or from the "verify your address first" page).

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::error::AppError;
use crate::service::email::{self, AddressChange, Resend, Verification};
use crate::web::cookies;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::page::{Ctx, FieldErrors, Page};
use crate::web::Client;

#[derive(FromForm)]
pub struct ChangeForm {
    email: String,
    current_password: String,
    csrf_token: Option<String>,
}

impl CsrfProtected for ChangeForm {
    const BINDING: Binding = Binding::Session;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

#[derive(FromForm)]
pub struct TokenOnly {
    csrf_token: Option<String>,
}

impl CsrfProtected for TokenOnly {
    const BINDING: Binding = Binding::Session;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

#[derive(FromForm)]
pub struct ResendForLogin {
    login: String,
    csrf_token: Option<String>,
}

impl CsrfProtected for ResendForLogin {
    const BINDING: Binding = Binding::PreSession;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

/// Opens a verification link: the address is verified (or becomes the account's), 200; a
/// link that does not work, 400. Opening it again shows the same page.
#[get("/email/verify/<token>")]
async fn verify(app: &State<App>, ctx: Ctx, client: Client, token: &str) -> Result<Page, AppError> {
    Ok(match email::verify(app, token, &client.0).await? {
        Verification::Verified { email, changed } => ctx.page(
            "email-verified",
            Status::Ok,
            json!({ "email": email, "changed": changed }),
        ),
        Verification::Invalid => ctx.page(
            "email-invalid",
            Status::BadRequest,
            json!({ "taken": false }),
        ),
        Verification::Taken => ctx.page(
            "email-invalid",
            Status::BadRequest,
            json!({ "taken": true }),
        ),
    })
}

/// Asks to change the address: a link to the new one, a notice to the old one.
#[post("/account/email", data = "<form>")]
async fn change(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<ChangeForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let user = form.user.clone().ok_or(AppError::Unauthorized)?;
    let f = form.into_inner();
    let device = cookies::device(jar, &app.settings);
    let outcome = email::request_change(
        app,
        &user.claims,
        &f.email,
        &f.current_password,
        &client.0,
        device.as_deref(),
    )
    .await?;
    let mut errors = FieldErrors::new();
    match outcome {
        AddressChange::Requested { .. } => {
            return Ok(Either::Left(
                Notice::AddressChangeRequested.after(Redirect::to("/account")),
            ))
        }
        AddressChange::WrongCurrentPassword => {
            errors.insert(
                "email_current_password",
                ctx.lang.t("account-wrong-current"),
            );
        }
        AddressChange::Invalid(key) => {
            errors.insert("new_email", ctx.lang.t(key));
        }
        AddressChange::MailOff => {
            errors.insert("new_email", ctx.lang.t("mail-off"));
        }
    }
    let page =
        super::account::account_page_with_email_errors(app, &ctx, &user, &f.email, &errors).await?;
    Ok(Either::Right(page))
}

/// The signed-in user asks for their verification link again.
#[post("/account/email/resend", data = "<form>")]
async fn resend(
    app: &State<App>,
    client: Client,
    form: CsrfForm<TokenOnly>,
) -> Result<Flash<Redirect>, AppError> {
    let user = form.user.clone().ok_or(AppError::Unauthorized)?;
    let notice = match email::resend(app, &user.claims, &client.0).await? {
        Resend::Sent => Notice::VerificationSent,
        Resend::AlreadyVerified => Notice::AlreadyVerified,
        Resend::MailOff => Notice::MailOff,
    };
    Ok(notice.after(Redirect::to("/account")))
}

/// From the "verify your address first" page, signed out: the same answer whatever the login.
#[post("/email/resend", data = "<form>")]
async fn resend_for_login(
    app: &State<App>,
    client: Client,
    form: CsrfForm<ResendForLogin>,
) -> Result<Flash<Redirect>, AppError> {
    let f = form.into_inner();
    let notice = match email::resend_for_login(app, &f.login, &client.0).await? {
        Resend::MailOff => Notice::MailOff,
        _ => Notice::VerificationSentIfUnverified,
    };
    Ok(notice.after(Redirect::to("/login")))
}

pub fn routes() -> Vec<Route> {
    routes![verify, change, resend, resend_for_login]
}
