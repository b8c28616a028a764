//! The account: profile, password change, signed-in devices, security activity, deletion.

use std::collections::BTreeMap;

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::csrf::Binding;
use crate::auth::device;
use crate::auth::password::{check_policy, estimate};
use crate::auth::session;
use crate::auth::throttle::{self, Attempt, Counting};
use crate::db::sessions::{self, Session};
use crate::db::users::{self, User};
use crate::db::write_tx;
use crate::error::AppError;
use crate::web::client_ip::ClientIp;
use crate::web::flash::Notice;
use crate::web::forms::{CsrfForm, CsrfProtected};
use crate::web::guard::AuthUser;
use crate::web::i18n::Lang;
use crate::web::page::{error_list, Ctx, FieldErrors, Page};
use crate::App;

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

async fn load_user(app: &App, id: &str) -> Result<User, AppError> {
    let id = id.to_string();
    app.db
        .run(move |conn| users::find_by_id(conn, &id)?.ok_or(AppError::Unauthorized))
        .await
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
    let id = user.user_id().to_string();
    let (profile, events) = app
        .db
        .run(move |conn| {
            let profile = users::find_by_id(conn, &id)?.ok_or(AppError::Unauthorized)?;
            let events = audit::recent_for_user(conn, &id, RECENT_EVENTS)?;
            Ok((profile, events))
        })
        .await?;
    let mut list = error_list(
        password_errors,
        &["current_password", "new_password", "new_password_confirm"],
    );
    // The delete form's password field has its own id.
    if let (Some(array), Some(m)) = (list.as_array_mut(), delete_errors.get("current_password")) {
        array.push(json!({"field": "delete_password", "message": m}));
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
            },
            "events": events.iter().map(|e| json!({
                "at": e.created_at,
                "what": audit::describe_for(ctx.lang, e),
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

/// Checks the current password the way sign-in does: a banned client address is 429, a
/// banned account fails like a wrong password, and every failure counts as a failed sign-in
/// against both the device and the account (so this form cannot be used to guess passwords
/// around the sign-in limits, even with a stolen session and device cookie). The attempt is
/// counted before hashing, like a sign-in. The profile returned carries the hash the password
/// matched: whatever is written on the strength of it must compare it first.
async fn check_current_password(
    app: &App,
    jar: &CookieJar<'_>,
    ip: ClientIp,
    user: &AuthUser,
    password: &str,
) -> Result<Option<User>, AppError> {
    let address = throttle::address_key(ip.0, app.settings.throttle_ipv6_prefix);
    app.throttle.check_known_address(app, &address)?;
    let profile = load_user(app, user.user_id()).await?;
    let device = device::verify(&app.csrf, jar, &app.settings, &profile.id);
    let attempt = Attempt {
        address: &address,
        account: Some(&profile.id),
        device: device.as_deref(),
        counting: Counting::Both,
    };
    let reservation = app.throttle.reserve(app, &attempt).await?;
    let checked = (!reservation.refused()).then(|| profile.password_hash.clone());
    let verified = match app.hasher.verify(password, checked).await {
        Ok(v) => v,
        Err(e) => {
            app.throttle.release(app, &reservation).await;
            return Err(e);
        }
    };
    if verified.ok {
        app.throttle.succeed(app, &reservation).await?;
        return Ok(Some(profile));
    }
    app.throttle.fail(app, &reservation).await?;
    audit::record(
        app,
        Event::LoginFailed,
        Some(&profile.id),
        Some(&profile.username),
        if reservation.refused() {
            "account banned (password check)"
        } else {
            "wrong current password"
        },
        ip,
        Some(user.sid()),
    )
    .await;
    Ok(None)
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
    ip: ClientIp,
    jar: &CookieJar<'_>,
    form: CsrfForm<PasswordForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let user = signed_in(&form)?;
    let f = form.into_inner();
    let mut errors = FieldErrors::new();
    let Some(profile) = check_current_password(app, jar, ip, &user, &f.current_password).await?
    else {
        let page = wrong_current_password(app, &ctx, &user, false).await?;
        return Ok(Either::Right(page));
    };
    if let Err(problem) = check_policy(&f.new_password, &profile.username, &profile.email) {
        errors.insert("new_password", ctx.lang.password_problem(&problem));
    } else if f.new_password != f.new_password_confirm {
        errors.insert(
            "new_password_confirm",
            ctx.lang.t("error-password-mismatch"),
        );
    } else if f.new_password == f.current_password {
        errors.insert("new_password", ctx.lang.t("account-same-password"));
    }
    if !errors.is_empty() {
        let strength = estimate(&f.new_password, &profile.username, &profile.email).0;
        let page = account_page(
            app,
            &ctx,
            &user,
            Status::UnprocessableEntity,
            &errors,
            &NO_ERRORS,
            Some(strength),
        );
        return Ok(Either::Right(page.await?));
    }

    let hash = app.hasher.hash(&f.new_password).await?;
    let now = app.clock.now();
    let (uid, sid) = (profile.id.clone(), user.sid().to_string());
    let checked = profile.password_hash.clone();
    // The new hash and the end of every other session land together (PW-7), and only if the
    // password just checked is still the current one: two changes racing cannot both win.
    let changed = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                if !users::replace_password_hash(c, &uid, &checked, &hash, now)? {
                    return Ok(None);
                }
                let ended =
                    sessions::revoke_all_for_user(c, &uid, Some(&sid), now, "password changed")?;
                let current = sessions::find(c, &sid)?;
                Ok::<_, diesel::result::Error>(Some((current, ended)))
            })?)
        })
        .await?;
    let Some((current, ended)) = changed else {
        let page = wrong_current_password(app, &ctx, &user, false).await?;
        return Ok(Either::Right(page));
    };
    session::deny_all(app, &ended);
    let current: Session = current.ok_or(AppError::Unauthorized)?;
    // A fresh token for this session, issued now.
    let claims = session::claims(app, &profile, &current, now);
    let token = app.tokens.issue(&claims).map_err(|e| {
        log::error!("cannot sign a session token: {e}");
        AppError::Internal
    })?;
    session::set_cookie(
        jar,
        &app.settings,
        token,
        current.remember,
        current.absolute_expires_at,
        now,
    );
    audit::record(
        app,
        Event::PasswordChanged,
        Some(&profile.id),
        Some(&profile.username),
        "ok",
        ip,
        Some(&current.id),
    )
    .await;
    Ok(Either::Left(
        Notice::PasswordChanged {
            others_signed_out: ended.len() as u32,
        }
        .after(Redirect::to("/account")),
    ))
}

#[post("/account/delete", data = "<form>")]
async fn delete_account(
    app: &State<App>,
    ctx: Ctx,
    ip: ClientIp,
    jar: &CookieJar<'_>,
    form: CsrfForm<DeleteForm>,
) -> Result<Either<Flash<Redirect>, Page>, AppError> {
    let user = signed_in(&form)?;
    let f = form.into_inner();
    let Some(profile) = check_current_password(app, jar, ip, &user, &f.current_password).await?
    else {
        let page = wrong_current_password(app, &ctx, &user, true).await?;
        return Ok(Either::Right(page));
    };
    let (uid, checked) = (profile.id.clone(), profile.password_hash.clone());
    // The user and all their sessions go in one transaction, and only if the password just
    // checked is still the current one.
    let ended = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                if !users::lock_if_password_unchanged(c, &uid, &checked)? {
                    return Ok(None);
                }
                let ids: Vec<String> = sessions::live_for_user(c, &uid, i64::MIN)?
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                users::delete(c, &uid)?;
                Ok::<_, diesel::result::Error>(Some(ids))
            })?)
        })
        .await?;
    let Some(ended) = ended else {
        let page = wrong_current_password(app, &ctx, &user, true).await?;
        return Ok(Either::Right(page));
    };
    session::deny_all(app, &ended);
    session::clear_cookie(jar, &app.settings);
    audit::record(
        app,
        Event::AccountDeleted,
        Some(&profile.id),
        Some(&profile.username),
        "deleted by its owner",
        ip,
        Some(user.sid()),
    )
    .await;
    Ok(Either::Left(
        Notice::AccountDeleted.after(Redirect::to("/login")),
    ))
}

/// "Chrome 120 on Windows 10", from a User-Agent header.
pub fn describe_device(user_agent: &str, lang: Lang) -> String {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(r) if r.name != "UNKNOWN" => {
            let browser = match r.version {
                "" | "UNKNOWN" => r.name.to_string(),
                v => format!("{} {}", r.name, v.split('.').next().unwrap_or(v)),
            };
            match r.os {
                "UNKNOWN" | "" => browser,
                os => lang.t_args(
                    "device-on",
                    &[("browser", browser.into()), ("os", os.to_string().into())],
                ),
            }
        }
        _ if user_agent.is_empty() => lang.t("device-unknown"),
        _ => lang.t("device-unknown-browser"),
    }
}

#[get("/account/sessions")]
async fn sessions_page(app: &State<App>, user: AuthUser, ctx: Ctx) -> Result<Page, AppError> {
    let now = app.clock.now();
    let uid = user.user_id().to_string();
    let live = app
        .db
        .run(move |conn| Ok(sessions::live_for_user(conn, &uid, now)?))
        .await?;
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

#[post("/account/sessions/<id>/revoke", data = "<form>")]
async fn revoke_session(
    app: &State<App>,
    ip: ClientIp,
    jar: &CookieJar<'_>,
    id: &str,
    form: CsrfForm<TokenOnly>,
) -> Result<Flash<Redirect>, AppError> {
    let user = signed_in(&form)?;
    let (uid, sid) = (user.user_id().to_string(), id.to_string());
    let now = app.clock.now();
    // Only one's own sessions: anyone else's id is simply not found.
    let revoked = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| match sessions::find(c, &sid)? {
                Some(s) if s.user_id == uid && s.revoked_at.is_none() => {
                    sessions::revoke(c, &sid, now, "revoked by its owner")
                }
                _ => Ok(false),
            })?)
        })
        .await?;
    if !revoked {
        return Err(AppError::NotFound);
    }
    session::deny_all(app, &[id.to_string()]);
    audit::record(
        app,
        Event::SessionRevoked,
        Some(user.user_id()),
        Some(user.name()),
        "one device",
        ip,
        Some(id),
    )
    .await;
    if id == user.sid() {
        session::clear_cookie(jar, &app.settings);
        return Ok(Notice::ThisDeviceSignedOut.after(Redirect::to("/login")));
    }
    Ok(Notice::DeviceSignedOut.after(Redirect::to("/account/sessions")))
}

#[post("/account/sessions/revoke-others", data = "<form>")]
async fn revoke_others(
    app: &State<App>,
    ip: ClientIp,
    form: CsrfForm<TokenOnly>,
) -> Result<Flash<Redirect>, AppError> {
    let user = signed_in(&form)?;
    let (uid, sid) = (user.user_id().to_string(), user.sid().to_string());
    let now = app.clock.now();
    let ended = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                sessions::revoke_all_for_user(c, &uid, Some(&sid), now, "signed out by its owner")
            })?)
        })
        .await?;
    session::deny_all(app, &ended);
    audit::record(
        app,
        Event::SessionRevoked,
        Some(user.user_id()),
        Some(user.name()),
        "all other devices",
        ip,
        Some(user.sid()),
    )
    .await;
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

#[cfg(test)]
mod tests {
    use super::describe_device;
    use crate::web::i18n::Lang;

    #[test]
    fn devices_are_described() {
        let en = |ua: &str| describe_device(ua, Lang::En);
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(en(chrome), "Chrome 120 on Windows 10");
        assert_eq!(describe_device(chrome, Lang::Ko), "Windows 10의 Chrome 120");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert!(
            en(iphone).contains("Safari") && en(iphone).contains("iPhone"),
            "{}",
            en(iphone)
        );
        assert_eq!(en(""), "Unknown device");
        assert_eq!(describe_device("", Lang::Ko), "알 수 없는 기기");
        assert!(en("curl/8.0").contains("curl"));
        assert_eq!(en("x"), "Unknown browser");
    }
}
