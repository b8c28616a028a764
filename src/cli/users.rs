//! `gatehouse user add|list|show|disable|enable|delete|set-password`.

use clap::Subcommand;

use super::{read_password, Failure, Outcome, UserArg};
use crate::app::App;
use crate::auth::password;
use crate::db::users::{self, User};
use crate::service::registration::{self, Field, NewAccount, Problem, Problems, Secret};
use crate::service::{account, sessions, signin, Origin};
use crate::web::i18n::Lang;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from a prompt or stdin, never from argv.
    Add {
        username: String,
        #[arg(long)]
        email: String,
        /// Import a bcrypt hash made elsewhere (`$2a$`/`$2b$`/`$2y$`, e.g. by Python's
        /// bcrypt) instead of reading a password. It is upgraded at the first sign-in.
        #[arg(long, value_name = "HASH")]
        bcrypt_hash: Option<String>,
    },
    /// List every account.
    List,
    /// Show one account.
    Show(UserArg),
    /// Disable an account and end all its sessions.
    Disable(UserArg),
    /// Enable a disabled account.
    Enable(UserArg),
    /// Delete an account and its sessions.
    Delete(UserArg),
    /// Set a new password (from a prompt or stdin) and end all the account's sessions.
    SetPassword(UserArg),
    /// Turn off a locked-out user's two-step sign-in (their TOTP secret and recovery codes).
    #[command(name = "reset-2fa")]
    Reset2fa(UserArg),
}

/// Finds a user by username or email, or says clearly that there is none.
pub async fn find(app: &App, who: &str) -> Result<User, Failure> {
    signin::find_user(app, who)
        .await?
        .ok_or_else(|| Failure::input(format!("no user {who:?}")))
}

fn time(t: Option<i64>) -> String {
    t.and_then(|t| rocket::time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&rocket::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

/// The first problem, as one line.
fn refusal(problems: &Problems, username: &str, email: &str) -> Failure {
    let Some((field, problem)) = problems.iter().next() else {
        return Failure::input("refused");
    };
    let what = match field {
        Field::Username => format!("username {username:?}"),
        Field::Email => format!("email {email:?}"),
        Field::Password | Field::PasswordConfirm => "password".to_string(),
    };
    let why = match problem {
        Problem::Invalid(key) => Lang::En.t(key),
        Problem::Taken => "is taken".to_string(),
        Problem::JustTaken => "was just taken".to_string(),
        Problem::Password(p) => format!("refused: {p}"),
        Problem::Mismatch => "the passwords do not match".to_string(),
        Problem::NotBcrypt => {
            return Failure::input(
                "--bcrypt-hash must be a 60-character $2a$, $2b$ or $2y$ bcrypt hash",
            )
        }
    };
    Failure::input(format!("{what} {why}"))
}

pub async fn run(app: &App, cmd: UserCommand) -> Outcome {
    let origin = Origin::cli();
    match cmd {
        UserCommand::Add {
            username,
            email,
            bcrypt_hash,
        } => {
            let password = match &bcrypt_hash {
                Some(_) => String::new(),
                None => read_password("Password")?,
            };
            let secret = match &bcrypt_hash {
                Some(h) => Secret::ImportedHash(h),
                None => Secret::Password {
                    password: &password,
                    confirm: None,
                },
            };
            let account = NewAccount {
                username: &username,
                email: &email,
                secret,
            };
            let user = registration::create(app, &account, &origin)
                .await?
                .map_err(|problems| refusal(&problems, &username, &email))?;
            println!("created user {} ({})", user.username, user.email);
        }
        UserCommand::List => {
            let all = app.db.run(|conn| Ok(users::list(conn)?)).await?;
            println!(
                "{:<32} {:<40} {:<9} {:<25}",
                "USERNAME", "EMAIL", "STATUS", "LAST SIGN-IN"
            );
            for u in &all {
                let status = if u.is_enabled() {
                    "enabled"
                } else {
                    "disabled"
                };
                println!(
                    "{:<32} {:<40} {:<9} {:<25}",
                    u.username,
                    u.email,
                    status,
                    time(u.last_login_at)
                );
            }
            println!("{} user(s)", all.len());
        }
        UserCommand::Show(UserArg { user }) => {
            let u = find(app, &user).await?;
            let live = sessions::list(app, &u.id).await?;
            println!("username:       {}", u.username);
            println!("email:          {}", u.email);
            println!("id:             {}", u.id);
            println!(
                "status:         {}",
                if u.is_enabled() {
                    "enabled"
                } else {
                    "disabled"
                }
            );
            println!("created:        {}", time(Some(u.created_at)));
            println!(
                "last sign-in:   {} from {}",
                time(u.last_login_at),
                u.last_login_ip.as_deref().unwrap_or("-")
            );
            println!("live sessions:  {}", live.len());
            println!(
                "two-step:       {}",
                match u.totp_enabled_at {
                    Some(at) => format!("on since {}", time(Some(at))),
                    None => "off".into(),
                }
            );
            let scheme = if password::is_plain_bcrypt(&u.password_hash) {
                "imported bcrypt (upgraded at next sign-in)"
            } else {
                "bcrypt-sha384"
            };
            println!("password hash:  {scheme}");
        }
        UserCommand::Disable(UserArg { user }) => {
            let u = find(app, &user).await?;
            let ended = account::disable(app, &u, &origin).await?;
            println!(
                "disabled {}; ended {} session(s) (they stop working within {} s on every instance)",
                u.username,
                ended,
                app.settings.session_revalidate_interval
            );
        }
        UserCommand::Reset2fa(UserArg { user }) => {
            let u = find(app, &user).await?;
            if crate::service::second_factor::reset_by_administrator(app, &u, &origin).await? {
                println!(
                    "two-step sign-in is off for {}; their password alone signs in now",
                    u.username
                );
            } else {
                return Err(Failure::input(format!(
                    "{} has no two-step sign-in to reset",
                    u.username
                )));
            }
        }
        UserCommand::Enable(UserArg { user }) => {
            let u = find(app, &user).await?;
            account::enable(app, &u, &origin).await?;
            println!("enabled {}", u.username);
        }
        UserCommand::Delete(UserArg { user }) => {
            let u = find(app, &user).await?;
            if !account::delete(app, &u, account::By::Administrator, &origin).await? {
                return Err(Failure::input(format!("no user {user:?}")));
            }
            println!("deleted {} and all their sessions", u.username);
        }
        UserCommand::SetPassword(UserArg { user }) => {
            let u = find(app, &user).await?;
            let pw = read_password(&format!("New password for {}", u.username))?;
            let ended = account::set_password(app, &u, &pw, &origin)
                .await?
                .map_err(|e| Failure::input(format!("password refused: {e}")))?;
            println!("password set for {}; ended {ended} session(s)", u.username);
        }
    }
    Ok(())
}
