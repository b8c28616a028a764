//! `gatehouse user add|list|show|disable|enable|delete|set-password`.

use clap::Subcommand;

use super::{read_password, Context, Failure, Outcome, UserArg};
use crate::audit::{self, Event, NewEvent};
use crate::auth::password;
use crate::db::users::{self, User};
use crate::db::{sessions, write_tx, DbConn};
use crate::validate;

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
}

/// Finds a user by username or email, or says clearly that there is none.
pub fn find(conn: &mut DbConn, who: &str) -> Result<User, Failure> {
    let found = if who.contains('@') {
        users::find_by_email_key(conn, &validate::email_key(who))?
    } else {
        users::find_by_username_key(conn, &validate::username_key(who))?
    };
    found.ok_or_else(|| Failure::input(format!("no user {who:?}")))
}

fn time(t: Option<i64>) -> String {
    t.and_then(|t| rocket::time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&rocket::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

pub fn run(ctx: &Context, cmd: UserCommand) -> Outcome {
    let mut conn = ctx.conn()?;
    let now = ctx.now();
    match cmd {
        UserCommand::Add {
            username,
            email,
            bcrypt_hash,
        } => {
            let name = validate::username(&username)
                .map_err(|e| Failure::input(format!("username {username:?}: {e}")))?;
            let address = validate::email(&email)
                .map_err(|e| Failure::input(format!("email {email:?}: {e}")))?;
            if users::username_taken(&mut conn, &name.key)? {
                return Err(Failure::input(format!(
                    "username {:?} is taken",
                    name.display
                )));
            }
            if users::email_taken(&mut conn, &address.key)? {
                return Err(Failure::input(format!(
                    "email {:?} is taken",
                    address.address
                )));
            }
            let hash = match bcrypt_hash {
                Some(h) if password::is_plain_bcrypt(&h) => h,
                Some(_) => {
                    return Err(Failure::input(
                        "--bcrypt-hash must be a 60-character $2a$, $2b$ or $2y$ bcrypt hash",
                    ))
                }
                None => {
                    let pw = read_password("Password")?;
                    password::check_policy(&pw, &name.display, &address.address)
                        .map_err(|e| Failure::input(format!("password refused: {e}")))?;
                    password::hash(&pw, ctx.settings.bcrypt_cost)
                        .map_err(|e| Failure::env(format!("bcrypt failed: {e}")))?
                }
            };
            let user = User::new(&name, &address, hash, now);
            let r = write_tx(&mut conn, |c| {
                users::insert(c, &user)?;
                audit::store(
                    c,
                    &NewEvent::new(
                        now,
                        Event::Registered,
                        Some(&user.id),
                        Some(&user.username),
                        "created by an administrator",
                        "cli",
                        None,
                    ),
                )
            });
            match r {
                Ok(()) => {}
                Err(e) if crate::db::is_unique_violation(&e) => {
                    return Err(Failure::input("that username or email was just taken"))
                }
                Err(e) => return Err(e.into()),
            }
            println!("created user {} ({})", user.username, user.email);
        }
        UserCommand::List => {
            let all = users::list(&mut conn)?;
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
            let u = find(&mut conn, &user)?;
            let live = sessions::live_for_user(&mut conn, &u.id, now)?;
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
            let scheme = if password::is_plain_bcrypt(&u.password_hash) {
                "imported bcrypt (upgraded at next sign-in)"
            } else {
                "bcrypt-sha384"
            };
            println!("password hash:  {scheme}");
        }
        UserCommand::Disable(UserArg { user }) => {
            let u = find(&mut conn, &user)?;
            let ended = write_tx(&mut conn, |c| {
                users::set_disabled(c, &u.id, Some(now))?;
                let ended = sessions::revoke_all_for_user(c, &u.id, None, now, "account disabled")?;
                audit::store(
                    c,
                    &NewEvent::new(
                        now,
                        Event::AccountDisabled,
                        Some(&u.id),
                        Some(&u.username),
                        "by an administrator",
                        "cli",
                        None,
                    ),
                )?;
                Ok::<_, diesel::result::Error>(ended)
            })?;
            println!(
                "disabled {}; ended {} session(s) (they stop working within {} s on every instance)",
                u.username,
                ended.len(),
                ctx.settings.session_revalidate_interval
            );
        }
        UserCommand::Enable(UserArg { user }) => {
            let u = find(&mut conn, &user)?;
            write_tx(&mut conn, |c| {
                users::set_disabled(c, &u.id, None)?;
                audit::store(
                    c,
                    &NewEvent::new(
                        now,
                        Event::AccountEnabled,
                        Some(&u.id),
                        Some(&u.username),
                        "by an administrator",
                        "cli",
                        None,
                    ),
                )
            })?;
            println!("enabled {}", u.username);
        }
        UserCommand::Delete(UserArg { user }) => {
            let u = find(&mut conn, &user)?;
            write_tx(&mut conn, |c| {
                users::delete(c, &u.id)?;
                audit::store(
                    c,
                    &NewEvent::new(
                        now,
                        Event::AccountDeleted,
                        Some(&u.id),
                        Some(&u.username),
                        "deleted by an administrator",
                        "cli",
                        None,
                    ),
                )
            })?;
            println!("deleted {} and all their sessions", u.username);
        }
        UserCommand::SetPassword(UserArg { user }) => {
            let u = find(&mut conn, &user)?;
            let pw = read_password(&format!("New password for {}", u.username))?;
            password::check_policy(&pw, &u.username, &u.email)
                .map_err(|e| Failure::input(format!("password refused: {e}")))?;
            let hash = password::hash(&pw, ctx.settings.bcrypt_cost)
                .map_err(|e| Failure::env(format!("bcrypt failed: {e}")))?;
            // One write transaction (on SQLite it takes the write lock up front, so it waits
            // for a running sign-in instead of failing). A sign-in that checked the old
            // password meanwhile then fails its own compare (`record_login_if_unchanged`), and
            // one that committed first has its session ended here.
            let ended = write_tx(&mut conn, |c| {
                users::set_password_hash(c, &u.id, &hash, now)?;
                let ended = sessions::revoke_all_for_user(
                    c,
                    &u.id,
                    None,
                    now,
                    "password set by an administrator",
                )?;
                audit::store(
                    c,
                    &NewEvent::new(
                        now,
                        Event::PasswordChanged,
                        Some(&u.id),
                        Some(&u.username),
                        "set by an administrator",
                        "cli",
                        None,
                    ),
                )?;
                Ok::<_, diesel::result::Error>(ended)
            })?;
            println!(
                "password set for {}; ended {} session(s)",
                u.username,
                ended.len()
            );
        }
    }
    Ok(())
}
