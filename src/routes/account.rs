//! The account: profile, password change, signed-in devices, security activity, deletion.

use std::collections::BTreeMap;

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::db::users::{self, User};
use crate::devices::describe_device;
use crate::error::AppError;
use crate::service::account::{self as account_service, NewPasswordProblem, PasswordChange};
use crate::service::audit::{self, Event, StoredEvent};
use crate::service::sessions;
use crate::web::cookies;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::guard::AuthUser;
use crate::web::i18n::Lang;
use crate::web::page::{error_list, Ctx, FieldErrors, Page};
use crate::web::Client;

macro_rules! session_form {
    ($name:ident { $($field:ident),* }) => {
        #[derive(FromForm)]
        pub struct $name {
            $($field: String,)*
            /// Optional only so that a missing token is a 403 (CSRF failure), not a 400.
            csrf_token: Option<String>,
        }

        impl CsrfProtected for $name {
            const BINDING: Binding = Binding::Session;
            fn csrf_token(&self) -> &str {
                self.csrf_token.as_deref().unwrap_or("")
            }
        }
    };
}

session_form!(PasswordForm {
    current_password,
    new_password,
    new_password_confirm
});
session_form!(DeleteForm { current_password });
session_form!(TokenOnly {});

static NO_ERRORS: FieldErrors = BTreeMap::new();

const RECENT_EVENTS: i64 = 20;

fn signed_in(form: &CsrfForm<impl CsrfProtected>) -> Result<AuthUser, AppError> {
    form.user.clone().ok_or(AppError::Unauthorized)
}

/// What an audit row means to its user, in their language; a row that stands for several
/// refusals says how many.
fn describe(lang: Lang, e: &StoredEvent) -> String {
    let key = audit::message_key(e);
    if e.count > 1 {
        let repeated = format!("{key}-repeated");
        return lang.t_args(&repeated, &[("count", e.count.into())]);
    }
    lang.t(key)
}

/// The account page, with the password and delete forms' errors if any.
async fn account_page(
    app: &App,
    ctx: &Ctx,
    user: &AuthUser,
    status: Status,
    password_errors: &FieldErrors,
    delete_errors: &FieldErrors,
    strength: Option<u8>,
) -> Result<Page, AppError> {
    let email = EmailForm::default();
    render(
        app,
        ctx,
        user,
        status,
        password_errors,
        delete_errors,
        strength,
        &email,
    )
    .await
}

/// What the change-of-address form shows again: what was typed, and why it was refused.
#[derive(Default)]
struct EmailForm<'a> {
    new_email: &'a str,
    errors: FieldErrors,
}

/// The account page again after a refused change of address (422).
pub(super) async fn account_page_with_email_errors(
    app: &App,
    ctx: &Ctx,
    user: &AuthUser,
    new_email: &str,
    errors: &FieldErrors,
) -> Result<Page, AppError> {
    let email = EmailForm {
        new_email,
        errors: errors.clone(),
    };
    let status = Status::UnprocessableEntity;
    render(app, ctx, user, status, &NO_ERRORS, &NO_ERRORS, None, &email).await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    app: &App,
    ctx: &Ctx,
    user: &AuthUser,
    status: Status,
    password_errors: &FieldErrors,
    delete_errors: &FieldErrors,
    strength: Option<u8>,
    email: &EmailForm<'_>,
) -> Result<Page, AppError> {
    let id = user.user_id().to_string();
    let profile = app
        .db
        .run(move |conn| users::find_by_id(conn, &id)?.ok_or(AppError::Unauthorized))
        .await?;
    let events = audit::recent_for_user(app, user.user_id(), RECENT_EVENTS).await?;
    let mut list = error_list(
        password_errors,
        &["current_password", "new_password", "new_password_confirm"],
    );
    // The delete form's password field has its own id.
    if let (Some(array), Some(m)) = (list.as_array_mut(), delete_errors.get("current_password")) {
        array.push(json!({"field": "delete_password", "message": m}));
    }
    if let Some(array) = list.as_array_mut() {
        for field in ["new_email", "email_current_password"] {
            if let Some(m) = email.errors.get(field) {
                array.push(json!({"field": field, "message": m}));
            }
        }
    }
    Ok(ctx.page(
        "account",
        status,
        json!({
            "profile": {
                "username": profile.username,
                "email": profile.email,
                "created_at": profile.created_at,
                "previous_login_at": profile.previous_login_at,
                "previous_login_ip": profile.previous_login_ip,
                "email_verified": profile.email_verified(),
                "two_factor": profile.has_second_factor(),
            },
            "mail_off": !app.sends_mail(),
            "email_form": {"new_email": email.new_email},
            "email_errors": email.errors,
            "events": events.iter().map(|e| json!({
                "at": e.created_at,
                "what": describe(ctx.lang, e),
                "ip": e.client_ip,
                "failed": e.event == Event::LoginFailed.as_str() || e.event == Event::LoginThrottled.as_str(),
            })).collect::<Vec<_>>(),
            "password_errors": password_errors,
            "delete_errors": delete_errors,
            "error_list": list,
            "strength": strength,
        }),
    ))
}

#[get("/account")]
async fn account(app: &State<App>, user: AuthUser, ctx: Ctx) -> Result<Page, AppError> {
    account_page(
        app,
        &ctx,
        &user,
        Status::Ok,
        &FieldErrors::new(),
        &FieldErrors::new(),
        None,
    )
    .await
}

/// The account page again with "the current password is not correct" on the password form
/// (`for_delete`: on the delete form).
async fn wrong_current_password(
    app: &App,
    ctx: &Ctx,
    user: &AuthUser,
    for_delete: bool,
) -> Result<Page, AppError> {
    let mut errors = FieldErrors::new();
    errors.insert("current_password", ctx.lang.t("account-wrong-current"));
    let (password_errors, delete_errors) = if for_delete {
        (&NO_ERRORS, &errors)
    } else {
        (&errors, &NO_ERRORS)
    };
    let status = Status::UnprocessableEntity;
    account_page(app, ctx, user, status, password_errors, delete_errors, None).await
}

#[post("/account/password", data = "<form>")]
async fn change_password(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<PasswordForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let user = signed_in(&form)?;
    let f = form.into_inner();
    let device = cookies::device(jar, &app.settings);
    let change = account_service::change_password(
        app,
        &user.claims,
        &f.current_password,
        &f.new_password,
        &f.new_password_confirm,
        &client.0,
        device.as_deref(),
    )
    .await?;
    match change {
        PasswordChange::Changed {
            issued,
            others_signed_out,
        } => {
            // A fresh token for this session, issued now.
            cookies::set_session(jar, &app.settings, &issued);
            Ok(Either::Left(
                Notice::PasswordChanged {
                    others_signed_out: others_signed_out as u32,
                }
                .after(Redirect::to("/account")),
            ))
        }
        PasswordChange::WrongCurrent => Ok(Either::Right(
            wrong_current_password(app, &ctx, &user, false).await?,
        )),
        PasswordChange::Refused { problem, strength } => {
            let mut errors = FieldErrors::new();
            match problem {
                NewPasswordProblem::Policy(p) => {
                    errors.insert("new_password", ctx.lang.password_problem(&p))
                }
                NewPasswordProblem::Mismatch => errors.insert(
                    "new_password_confirm",
                    ctx.lang.t("error-password-mismatch"),
                ),
                NewPasswordProblem::Unchanged => {
                    errors.insert("new_password", ctx.lang.t("account-same-password"))
                }
            };
            let page = account_page(
                app,
                &ctx,
                &user,
                Status::UnprocessableEntity,
                &errors,
                &NO_ERRORS,
                Some(strength),
            );
            Ok(Either::Right(page.await?))
        }
    }
}

#[post("/account/delete", data = "<form>")]
async fn delete_account(
    app: &State<App>,
    ctx: Ctx,
    client: Client,
    jar: &CookieJar<'_>,
    form: CsrfForm<DeleteForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let user = signed_in(&form)?;
    let f = form.into_inner();
    let device = cookies::device(jar, &app.settings);
    let checked = account_service::check_current_password(
        app,
        &user.claims,
        &f.current_password,
        &client.0,
        device.as_deref(),
    )
    .await?;
    let by = checked.as_ref().map(|profile| account_service::By::Owner {
        claims: &user.claims,
        checked_hash: &profile.password_hash,
    });
    let deleted = match (&checked, by) {
        (Some(profile), Some(by)) => account_service::delete(app, profile, by, &client.0).await?,
        _ => false,
    };
    if !deleted {
        let page = wrong_current_password(app, &ctx, &user, true).await?;
        return Ok(Either::Right(page));
    }
    cookies::clear_session(jar, &app.settings);
    Ok(Either::Left(
        Notice::AccountDeleted.after(Redirect::to("/login")),
    ))
}

#[get("/account/sessions")]
async fn sessions_page(app: &State<App>, user: AuthUser, ctx: Ctx) -> Result<Page, AppError> {
    let live = sessions::list(app, user.user_id()).await?;
    let mut rows: Vec<_> = live
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "device": describe_device(&s.user_agent, ctx.lang),
                "user_agent": s.user_agent,
                "ip": s.client_ip,
                "started": s.created_at,
                "last_active": s.last_seen_at,
                "expires": s.idle_expires_at.min(s.absolute_expires_at),
                "remember": s.remember,
                "current": s.id == user.sid(),
            })
        })
        .collect();
    // This device first, then the most recently active.
    rows.sort_by_key(|r| {
        (
            !r["current"].as_bool().unwrap_or(false),
            -r["last_active"].as_i64().unwrap_or(0),
        )
    });
    Ok(ctx.page(
        "sessions",
        Status::Ok,
        json!({ "sessions": rows, "others": live.len().saturating_sub(1) }),
    ))
}

/// The signed-in user's own account row (`Unauthorized`: it is gone).
async fn owner(app: &App, user: &AuthUser) -> Result<User, AppError> {
    let id = user.user_id().to_string();
    app.db
        .run(move |conn| users::find_by_id(conn, &id)?.ok_or(AppError::Unauthorized))
        .await
}

#[post("/account/sessions/<id>/revoke", data = "<form>")]
async fn revoke_session(
    app: &State<App>,
    client: Client,
    jar: &CookieJar<'_>,
    id: &str,
    form: CsrfForm<TokenOnly>,
) -> Result<Flash<Redirect>, AppError> {
    let user = signed_in(&form)?;
    let profile = owner(app, &user).await?;
    // Only one's own sessions: anyone else's id is simply not found.
    let by = sessions::By::Owner(&user.claims);
    if !sessions::revoke(app, &profile, id, by, &client.0).await? {
        return Err(AppError::NotFound);
    }
    if id == user.sid() {
        cookies::clear_session(jar, &app.settings);
        return Ok(Notice::ThisDeviceSignedOut.after(Redirect::to("/login")));
    }
    Ok(Notice::DeviceSignedOut.after(Redirect::to("/account/sessions")))
}

#[post("/account/sessions/revoke-others", data = "<form>")]
async fn revoke_others(
    app: &State<App>,
    client: Client,
    form: CsrfForm<TokenOnly>,
) -> Result<Flash<Redirect>, AppError> {
    let user = signed_in(&form)?;
    let profile = owner(app, &user).await?;
    let by = sessions::By::Owner(&user.claims);
    let ended = sessions::revoke_all(app, &profile, Some(user.sid()), by, &client.0).await?;
    Ok(Notice::OthersSignedOut {
        count: ended.len() as u32,
    }
    .after(Redirect::to("/account/sessions")))
}

pub fn routes() -> Vec<Route> {
    routes![
        account,
        change_password,
        delete_account,
        sessions_page,
        revoke_session,
        revoke_others
    ]
}
