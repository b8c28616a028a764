//! `gatehouse sessions list|revoke --user NAME [--all | SID]`.

use clap::Subcommand;

use super::users::find;
use super::{Failure, Outcome};
use crate::app::App;
use crate::devices::describe_device;
use crate::service::{sessions, Origin};
use crate::web::i18n::Lang;

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

pub async fn run(app: &App, cmd: SessionsCommand) -> Outcome {
    let now = app.clock.now();
    match cmd {
        SessionsCommand::List { user } => {
            let u = find(app, &user).await?;
            let live = sessions::list(app, &u.id).await?;
            println!(
                "{:<24} {:<40} {:<20} {:<10} {:<10}",
                "ID", "DEVICE", "ADDRESS", "AGE", "IDLE"
            );
            for s in &live {
                println!(
                    "{:<24} {:<40} {:<20} {:<10} {:<10}",
                    s.id,
                    describe_device(&s.user_agent, Lang::En),
                    s.client_ip,
                    format!("{}s", now - s.created_at),
                    format!("{}s", now - s.last_seen_at),
                );
            }
            println!("{} live session(s) for {}", live.len(), u.username);
        }
        SessionsCommand::Revoke { user, id, all } => {
            let u = find(app, &user).await?;
            let origin = Origin::cli();
            let by = sessions::By::Administrator;
            let ended = match &id {
                Some(sid) if !all => {
                    if !sessions::revoke(app, &u, sid, by, &origin).await? {
                        return Err(Failure::input(format!(
                            "{} has no live session {sid:?}",
                            u.username
                        )));
                    }
                    1
                }
                _ => sessions::revoke_all(app, &u, None, by, &origin)
                    .await?
                    .len(),
            };
            println!(
                "ended {ended} session(s) of {}; they stop working within {} s on every instance",
                u.username, app.settings.session_revalidate_interval
            );
        }
    }
    Ok(())
}
