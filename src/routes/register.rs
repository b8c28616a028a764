//! Creating an account, then signing straight in.

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::csrf::Binding;
use crate::auth::device;
use crate::auth::password::{check_policy, estimate};
use crate::auth::session::{self, clip_user_agent};
use crate::auth::throttle;
use crate::db::users::{self, User};
use crate::db::{is_unique_violation, write_tx};
use crate::error::AppError;
use crate::validate;
use crate::web::client_ip::ClientIp;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::i18n::Lang;
use crate::web::page::{error_list, Ctx, FieldErrors, Page};
use crate::web::UserAgent;
use crate::App;
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
    ip: ClientIp,
    ua: UserAgent,
    jar: &CookieJar<'_>,
    form: CsrfForm<RegisterForm>,
) -> Result<Result<Flash<Redirect>, Page>, AppError> {
    let f = form.into_inner();
    let address = throttle::address_key(ip.0, app.settings.throttle_ipv6_prefix);
    app.throttle.register_attempt(app, &address).await?;
    let mut errors = FieldErrors::new();
    let username = validate::username(&f.username)
        .map_err(|key| errors.insert("username", ctx.lang.t(key)))
        .ok();
    let email = validate::email(&f.email)
        .map_err(|key| errors.insert("email", ctx.lang.t(key)))
        .ok();
    let name_for_policy = username
        .as_ref()
        .map_or(f.username.as_str(), |u| u.display.as_str());
    if let Err(problem) = check_policy(&f.password, name_for_policy, &f.email) {
        errors.insert("password", ctx.lang.password_problem(&problem));
    } else if f.password != f.password_confirm {
        errors.insert("password_confirm", ctx.lang.t("error-password-mismatch"));
    }
    // Server-side strength feedback, so the meter works without JavaScript.
    let strength =
        (!f.password.is_empty()).then(|| estimate(&f.password, name_for_policy, &f.email).0);
    let invalid = |errors: &FieldErrors| {
        Ok(Err(register_page(
            &ctx,
            Status::UnprocessableEntity,
            &f.username,
            &f.email,
            errors,
            strength,
        )))
    };
    let (Some(username), Some(email)) = (username, email) else {
        return invalid(&errors);
    };
    if errors.is_empty() {
        // Checked before the (slow, bounded) hash so a taken name costs no bcrypt work.
        let (u, e) = (username.key.clone(), email.key.clone());
        let (name_taken, email_taken) = app
            .db
            .run(move |conn| {
                Ok((
                    users::username_taken(conn, &u)?,
                    users::email_taken(conn, &e)?,
                ))
            })
            .await?;
        if name_taken {
            errors.insert("username", ctx.lang.t("error-username-taken"));
        }
        if email_taken {
            errors.insert("email", ctx.lang.t("error-email-taken"));
        }
    }
    if !errors.is_empty() {
        return invalid(&errors);
    }

    let hash = app.hasher.hash(&f.password).await?;
    let now = app.clock.now();
    let user = User::new(&username, &email, hash, now);
    let origin = session::Origin {
        user_agent: clip_user_agent(ua.0.as_deref()),
        client_ip: ip.to_string(),
    };
    let settings = app.settings.clone();
    let new_user = user.clone();
    // The account and its first session are made together or not at all.
    let created = app
        .db
        .run(move |conn| {
            let r = write_tx(conn, |c| {
                users::insert(c, &new_user)?;
                session::start(c, &settings, &new_user, false, &origin, now)
                    .map(|started| started.session)
            });
            match r {
                Err(AppError::Database(e)) if is_unique_violation(&e) => Ok(None),
                other => other.map(Some),
            }
        })
        .await?;
    let Some(created) = created else {
        // Someone took the name or address between our check and the insert.
        errors.insert("username", ctx.lang.t("error-just-taken"));
        return invalid(&errors);
    };
    session::remember_view(app, &created, None, None, now);
    let claims = session::claims(app, &user, &created, now);
    let token = app.tokens.issue(&claims).map_err(|e| {
        log::error!("cannot sign a session token: {e}");
        AppError::Internal
    })?;
    session::set_cookie(
        jar,
        &app.settings,
        token,
        false,
        created.absolute_expires_at,
        now,
    );
    device::remember(&app.csrf, jar, &app.settings, &user.id, None);
    audit::record(
        app,
        Event::Registered,
        Some(&user.id),
        Some(&user.username),
        "ok",
        ip,
        Some(&created.id),
    )
    .await;
    Ok(Ok(Notice::Welcome.after(Redirect::to("/dashboard"))))
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
