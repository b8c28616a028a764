//! Making an account: by the visitor at the registration form (signed straight in), or by an
//! administrator (`gatehouse user add`, with a password or a bcrypt hash from elsewhere).
//! Both check the same rules and write the account with its audit record in one transaction.

use std::collections::BTreeMap;

use super::audit::{self, Event, Reason};
use super::{email, sessions, throttle, Issued, Origin};
use crate::app::App;
use crate::auth::password::{self, PasswordProblem};
use crate::db::users::{self, User};
use crate::db::{is_unique_violation, write_tx};
use crate::error::AppError;
use crate::validate::{self, Email, Username};

/// A form field a problem belongs to, in the form's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Username,
    Email,
    Password,
    PasswordConfirm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Refused by the rules of `validate` (a message key).
    Invalid(&'static str),
    Taken,
    /// Taken by someone else between our check and our insert.
    JustTaken,
    Password(PasswordProblem),
    Mismatch,
    /// An imported hash that is not a plain bcrypt hash.
    NotBcrypt,
}

pub type Problems = BTreeMap<Field, Problem>;

/// How the new account's password is given.
pub enum Secret<'a> {
    /// Typed twice at the form, or once at the command line's prompt (`confirm: None`).
    Password {
        password: &'a str,
        confirm: Option<&'a str>,
    },
    /// A `$2a$`/`$2b$`/`$2y$` hash made elsewhere, upgraded at the first sign-in.
    ImportedHash(&'a str),
}

pub struct NewAccount<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub secret: Secret<'a>,
}

pub enum Registration {
    /// Made and signed in: the token for the session cookie.
    Done {
        issued: Box<Issued>,
        user_id: String,
    },
    /// Made, but `require_verified_email`: no session until the mailed link is opened.
    VerifyFirst,
    Invalid(Problems),
}

/// Registration at the form: counted per address (429 beyond `register_ip_max`), checked,
/// and on success the account and its first session are made together, then signed in.
pub async fn register(
    app: &App,
    account: &NewAccount<'_>,
    origin: &Origin,
) -> Result<Registration, AppError> {
    let address = throttle::origin_key(app, origin);
    throttle::register_attempt(app, &address).await?;
    let (username, email, hash) = match checked(app, account).await? {
        Ok(valid) => valid,
        Err(problems) => return Ok(Registration::Invalid(problems)),
    };
    let now = app.clock.now();
    let mut user = User::new(&username, &email, hash, now);
    if let Some(lang) = origin.lang {
        user.lang = lang.code().to_string();
    }
    let row = audit::event(
        now,
        Event::Registered,
        Some(&user.id),
        Some(&user.username),
        Reason::Ok,
        origin,
        None,
    );
    let settings = app.settings.clone();
    let (new_user, origin_copy, app_copy) = (user.clone(), origin.clone(), app.clone());
    // With `require_verified_email` a registration is not a sign-in: whoever typed the
    // address has not shown it is theirs yet.
    let sign_in = !app.settings.require_verified_email;
    // The account, its first session, the link that verifies its address and the audit row
    // are made together or not at all.
    let created = app
        .db
        .run(move |conn| {
            let r = write_tx(conn, |c| {
                users::insert(c, &new_user)?;
                let started = if sign_in {
                    Some(sessions::start(
                        c,
                        &settings,
                        &new_user,
                        false,
                        &origin_copy,
                        now,
                    )?)
                } else {
                    None
                };
                if app_copy.sends_mail() {
                    email::queue_verification(c, &app_copy, &new_user, &new_user.email, now)?;
                }
                let mut row = row;
                row.session_id = started.as_ref().map(|s| s.session.id.clone());
                audit::store(c, &row)?;
                Ok(started.map(|s| s.session))
            });
            match r {
                Err(AppError::Database(e)) if is_unique_violation(&e) => Ok(None),
                other => other.map(Some),
            }
        })
        .await?;
    let Some(created) = created else {
        return Ok(Registration::Invalid(just_taken()));
    };
    super::outbox::wake(app);
    let Some(created) = created else {
        return Ok(Registration::VerifyFirst);
    };
    sessions::remember_view(app, &created, None, None, user.email_verified(), now);
    let issued = sessions::issue(app, &user, &created, now)?;
    Ok(Registration::Done {
        issued: Box::new(issued),
        user_id: user.id,
    })
}

/// An account made by an administrator: checked like a registration, no session.
pub async fn create(
    app: &App,
    account: &NewAccount<'_>,
    origin: &Origin,
) -> Result<Result<User, Problems>, AppError> {
    let (username, email, hash) = match checked(app, account).await? {
        Ok(valid) => valid,
        Err(problems) => return Ok(Err(problems)),
    };
    let now = app.clock.now();
    let user = User::new(&username, &email, hash, now);
    let row = audit::event(
        now,
        Event::Registered,
        Some(&user.id),
        Some(&user.username),
        Reason::CreatedByAdministrator,
        origin,
        None,
    );
    let new_user = user.clone();
    let created = app
        .db
        .run(move |conn| {
            let r = write_tx(conn, |c| {
                users::insert(c, &new_user)?;
                audit::store(c, &row)
            });
            match r {
                Ok(()) => Ok(true),
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    Ok(if created { Ok(user) } else { Err(just_taken()) })
}

fn just_taken() -> Problems {
    Problems::from([(Field::Username, Problem::JustTaken)])
}

/// Every rule, each problem on its field; the name and address are checked against existing
/// accounts only once the rest is valid, and the (slow, bounded) hash made only then, so a
/// taken name costs no bcrypt work.
async fn checked(
    app: &App,
    account: &NewAccount<'_>,
) -> Result<Result<(Username, Email, String), Problems>, AppError> {
    let mut problems = Problems::new();
    let username = validate::username(account.username)
        .map_err(|key| problems.insert(Field::Username, Problem::Invalid(key)))
        .ok();
    // With mail on, the address must be one mail can reach (its link goes there).
    let email = if app.sends_mail() {
        email::checked_address(account.email)
    } else {
        validate::email(account.email)
    }
    .map_err(|key| problems.insert(Field::Email, Problem::Invalid(key)))
    .ok();
    let name_for_policy = username
        .as_ref()
        .map_or(account.username, |u| u.display.as_str());
    match &account.secret {
        Secret::Password { password, confirm } => {
            if let Err(p) = password::check_policy(password, name_for_policy, account.email) {
                problems.insert(Field::Password, Problem::Password(p));
            } else if confirm.is_some_and(|c| c != *password) {
                problems.insert(Field::PasswordConfirm, Problem::Mismatch);
            }
        }
        Secret::ImportedHash(h) if !password::is_plain_bcrypt(h) => {
            problems.insert(Field::Password, Problem::NotBcrypt);
        }
        Secret::ImportedHash(_) => {}
    }
    let (Some(username), Some(email)) = (username, email) else {
        return Ok(Err(problems));
    };
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
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
        problems.insert(Field::Username, Problem::Taken);
    }
    if email_taken {
        problems.insert(Field::Email, Problem::Taken);
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let hash = match &account.secret {
        Secret::Password { password, .. } => app.hasher.hash(password).await?,
        Secret::ImportedHash(h) => h.to_string(),
    };
    Ok(Ok((username, email, hash)))
}
