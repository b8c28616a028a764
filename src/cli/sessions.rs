//! `gatehouse sessions list|revoke --user NAME [--all | SID]`.

use clap::Subcommand;

use super::users::find;
use super::{Context, Failure, Outcome};
use crate::audit::{self, Event, NewEvent};
use crate::db::{sessions, write_tx};

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions.
    List {
        #[arg(long)]
        user: String,
    },
    /// End one session of a user (by id), or all of them with --all.
    Revoke {
        #[arg(long)]
        user: String,
        /// The session id (see `sessions list`).
        // Ids are base64url, so one in 32 starts with '-': it is a value, not a flag.
        #[arg(
            required_unless_present = "all",
            conflicts_with = "all",
            allow_hyphen_values = true
        )]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

pub fn run(ctx: &Context, cmd: SessionsCommand) -> Outcome {
    let mut conn = ctx.conn()?;
    let now = ctx.now();
    match cmd {
        SessionsCommand::List { user } => {
            let u = find(&mut conn, &user)?;
            let live = sessions::live_for_user(&mut conn, &u.id, now)?;
            println!(
                "{:<24} {:<40} {:<20} {:<10} {:<10}",
                "ID", "DEVICE", "ADDRESS", "AGE", "IDLE"
            );
            for s in &live {
                println!(
                    "{:<24} {:<40} {:<20} {:<10} {:<10}",
                    s.id,
                    crate::routes::account::describe_device(
                        &s.user_agent,
                        crate::web::i18n::Lang::En
                    ),
                    s.client_ip,
                    format!("{}s", now - s.created_at),
                    format!("{}s", now - s.last_seen_at),
                );
            }
            println!("{} live session(s) for {}", live.len(), u.username);
        }
        SessionsCommand::Revoke { user, id, all } => {
            let u = find(&mut conn, &user)?;
            let ended = write_tx(&mut conn, |c| {
                let ended = if all {
                    sessions::revoke_all_for_user(
                        c,
                        &u.id,
                        None,
                        now,
                        "revoked by an administrator",
                    )?
                } else {
                    let sid = id.clone().unwrap_or_default();
                    match sessions::find(c, &sid)? {
                        Some(s) if s.user_id == u.id && s.revoked_at.is_none() => {
                            sessions::revoke(c, &sid, now, "revoked by an administrator")?;
                            vec![sid]
                        }
                        _ => return Ok(None),
                    }
                };
                for sid in &ended {
                    audit::store(
                        c,
                        &NewEvent::new(
                            now,
                            Event::SessionRevoked,
                            Some(&u.id),
                            Some(&u.username),
                            "by an administrator",
                            "cli",
                            Some(sid),
                        ),
                    )?;
                }
                Ok::<_, diesel::result::Error>(Some(ended))
            })?;
            let Some(ended) = ended else {
                return Err(Failure::input(format!(
                    "{} has no live session {:?}",
                    u.username,
                    id.unwrap_or_default()
                )));
            };
            println!(
                "ended {} session(s) of {}; they stop working within {} s on every instance",
                ended.len(),
                u.username,
                ctx.settings.session_revalidate_interval
            );
        }
    }
    Ok(())
}
