//! Creating an account, then signing straight in.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::auth::password::{check_policy, estimate};
use crate::error::AppError;
use crate::service::registration::{
    self, Field, NewAccount, Problem, Problems, Registration, Secret,
};
use crate::web::cookies;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::i18n::Lang;
use crate::web::page::{error_list, Ctx, FieldErrors, Page};
use crate::web::Client;
use rocket::serde::json::Json;

#[derive(FromForm)]
pub struct RegisterForm {
    username: String,
    email: String,
    password: String,
    password_confirm: String,
    /// Optional only so that a missing token is a 403 (CSRF failure), not a 400.
    csrf_token: Option<String>,
}

impl CsrfProtected for RegisterForm {
    const BINDING: Binding = Binding::PreSession;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

/// The form again, with what was typed (never the passwords) and a message per field.
fn register_page(
    ctx: &Ctx,
    status: Status,
    username: &str,
    email: &str,
    errors: &FieldErrors,
    strength: Option<u8>,
) -> Page {
    ctx.page(
        "register",
        status,
        json!({
            "form": {"username": username, "email": email},
            "errors": errors,
            "error_list": error_list(errors, &["username", "email", "password", "password_confirm"]),
            "strength": strength,
        }),
    )
}

#[get("/register")]
fn register_form(ctx: Ctx) -> Either<Page, Redirect> {
    if ctx.user.is_some() {
        return Either::Right(Redirect::to("/dashboard"));
    }
    Either::Left(register_page(
        &ctx,
        Status::Ok,
        "",
        "",
        &FieldErrors::new(),
        None,
    ))
}

#[post("/register", data = "<form>")]
async fn register(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<RegisterForm>,
) -> Result<Result<Flash<Redirect>, Page>, AppError> {
    let f = form.into_inner();
    let account = NewAccount {
        username: &f.username,
        email: &f.email,
        secret: Secret::Password {
            password: &f.password,
            confirm: Some(&f.password_confirm),
        },
    };
    match registration::register(app, &account, &client.0).await? {
        Registration::Done { issued, user_id } => {
            cookies::set_session(jar, &app.settings, &issued);
            cookies::set_device(jar, &app.csrf, &app.settings, &user_id, None);
            Ok(Ok(Notice::Welcome.after(Redirect::to("/dashboard"))))
        }
        Registration::VerifyFirst => Ok(Ok(Notice::VerifyFirst.after(Redirect::to("/login")))),
        Registration::Invalid(problems) => {
            let errors = field_errors(ctx.lang, &problems);
            // Server-side strength feedback, so the meter works without JavaScript.
            let strength =
                (!f.password.is_empty()).then(|| estimate(&f.password, &f.username, &f.email).0);
            Ok(Err(register_page(
                &ctx,
                Status::UnprocessableEntity,
                &f.username,
                &f.email,
                &errors,
                strength,
            )))
        }
    }
}

/// Each problem as its field's message, in the visitor's language.
fn field_errors(lang: Lang, problems: &Problems) -> FieldErrors {
    problems
        .iter()
        .map(|(field, problem)| {
            let name = match field {
                Field::Username => "username",
                Field::Email => "email",
                Field::Password => "password",
                Field::PasswordConfirm => "password_confirm",
            };
            let message = match (field, problem) {
                (_, Problem::Invalid(key)) => lang.t(key),
                (Field::Email, Problem::Taken) => lang.t("error-email-taken"),
                (_, Problem::Taken) => lang.t("error-username-taken"),
                (_, Problem::JustTaken) => lang.t("error-just-taken"),
                (_, Problem::Password(p)) => lang.password_problem(p),
                (_, Problem::Mismatch) => lang.t("error-password-mismatch"),
                // Only the command line imports hashes.
                (_, Problem::NotBcrypt) => lang.t("error-400"),
            };
            (name, message)
        })
        .collect()
}

pub fn routes() -> Vec<Route> {
    routes![register_form, register, strength]
}

#[derive(FromForm)]
pub struct StrengthForm {
    password: String,
    username: Option<String>,
    email: Option<String>,
    csrf_token: Option<String>,
}

impl CsrfProtected for StrengthForm {
    const BINDING: Binding = Binding::PreSession;
    fn csrf_token(&self) -> &str {
        self.csrf_token.as_deref().unwrap_or("")
    }
}

/// The strength estimate for the meter's script, the same one registration applies, so the
/// meter and the final check never disagree. POST with the form's pre-session token, so the
/// password never appears in a URL or a log.
#[post("/password/strength", data = "<form>")]
fn strength(lang: Lang, form: CsrfForm<StrengthForm>) -> Json<serde_json::Value> {
    let f = form.into_inner();
    let (username, email) = (f.username.unwrap_or_default(), f.email.unwrap_or_default());
    let (score, advice) = estimate(&f.password, &username, &email);
    let verdict = check_policy(&f.password, &username, &email);
    Json(json!({
        "score": score,
        "label": lang.t(&format!("strength-{score}")),
        "ok": verdict.is_ok(),
        "message": match &verdict {
            Ok(()) => lang.t("strength-ok"),
            Err(problem) => lang.password_problem(problem),
        },
        "advice": advice.map(|a| lang.t(a.0)),
    }))
}
