//! `gatehouse keys list|rotate|retire KID`.

use clap::Subcommand;

use super::{Context, Failure, Outcome};
use crate::auth::keys::{self, KeyRing, KeyStatus, RetireError};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys of the configured algorithm.
    List,
    /// Make a new active signing key. Nobody is signed out: older keys keep verifying the
    /// tokens they signed until those expire, then retire by themselves.
    Rotate,
    /// Retire a verify-only key now: tokens it signed stop working at once.
    Retire {
        /// A key id is a base64url thumbprint and may start with '-'.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// As `TokenService::acceptance_window`: the longest lifetime issued, plus the clock leeway.
fn acceptance_window(ctx: &Context) -> i64 {
    ctx.settings
        .session_idle_timeout
        .max(ctx.settings.remember_me_timeout)
        + crate::auth::token::CLOCK_LEEWAY
}

fn time(t: i64) -> String {
    rocket::time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&rocket::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

pub fn run_keys(ctx: &Context, cmd: KeysCommand) -> Outcome {
    let s = &ctx.settings;
    let now = ctx.now();
    match cmd {
        KeysCommand::List => {
            let ring =
                KeyRing::load_or_create(&s.data_dir, s.jwt_algorithm, now).map_err(Failure::env)?;
            println!("{:<45} {:<6} {:<22} STATUS", "KID", "ALG", "CREATED");
            for (k, status) in ring.statuses(acceptance_window(ctx), s.session_revalidate_interval)
            {
                let status = match status {
                    KeyStatus::Active => "active (signs new tokens)".to_string(),
                    KeyStatus::VerifyOnly { retire_after } => {
                        format!("verify-only, retires after {}", time(retire_after))
                    }
                };
                println!(
                    "{:<45} {:<6} {:<22} {status}",
                    k.kid,
                    k.alg.to_string(),
                    time(k.created)
                );
            }
        }
        KeysCommand::Rotate => {
            let ring = keys::rotate(&s.data_dir, s.jwt_algorithm, now).map_err(Failure::env)?;
            println!("new active key {} ({})", ring.active().kid, ring.alg());
            println!(
                "running instances sign with it within {} s; older keys keep verifying until their tokens expire",
                s.session_revalidate_interval
            );
        }
        KeysCommand::Retire { kid } => match keys::retire(&s.data_dir, s.jwt_algorithm, &kid) {
            Ok(path) => println!(
                "retired {kid} (moved to {}); its tokens stop working within {} s everywhere",
                path.display(),
                s.session_revalidate_interval
            ),
            Err(e @ (RetireError::Unknown(_) | RetireError::Active(_))) => {
                return Err(Failure::input(e.to_string()))
            }
            Err(e) => return Err(Failure::env(e)),
        },
    }
    Ok(())
}
