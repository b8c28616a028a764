//! `gatehouse mail test|queue`.

use clap::Subcommand;

use super::{Failure, Outcome};
use crate::app::App;
use crate::db::outbox::kind;
use crate::service::delivery::{self, TestSend};

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message to ADDRESS now and print the SMTP server's answer.
    Test {
        /// Where to send it.
        address: String,
    },
    /// Show the mail that waits to be sent or that was given up on.
    Queue,
}

pub async fn run(app: &App, cmd: MailCommand) -> Outcome {
    match cmd {
        MailCommand::Test { address } => match delivery::send_test(app, &address).await {
            TestSend::Off => Err(Failure::env(
                "smtp_url is not set, so no mail can be sent (set it in Rocket.toml or ROCKET_SMTP_URL)",
            )),
            TestSend::BadAddress => Err(Failure::input(format!(
                "{address:?} is not an address mail can be sent to"
            ))),
            TestSend::Sent(answer) => {
                println!("sent to {address}; the server answered: {answer}");
                Ok(())
            }
            TestSend::Refused(e) => Err(Failure::env(format!("not sent: {e}"))),
        },
        MailCommand::Queue => {
            let rows = delivery::queue(app).await?;
            let now = app.clock.now();
            println!(
                "{:<8} {:<10} {:<8} {:<12} {:<32} ERROR",
                "ID", "STATE", "ATTEMPTS", "QUEUED", "TO"
            );
            let (mut waiting, mut failed) = (0, 0);
            for row in &rows {
                let state = if row.failed_at.is_some() {
                    failed += 1;
                    "failed".to_string()
                } else {
                    waiting += 1;
                    match row.next_attempt_at - now {
                        due if due > 0 => format!("in {due}s"),
                        _ => "due".to_string(),
                    }
                };
                // A reset request names no address: whether it has an account is not told
                // until the worker looks.
                let to = if row.kind == kind::RESET_REQUEST {
                    "(password reset request)"
                } else {
                    row.recipient.as_str()
                };
                println!(
                    "{:<8} {:<10} {:<8} {:<12} {:<32} {}",
                    row.id,
                    state,
                    row.attempts,
                    format!("{}s ago", now - row.created_at),
                    to,
                    row.last_error.as_deref().unwrap_or("")
                );
            }
            println!("{waiting} waiting, {failed} failed");
            if app.mail.is_none() && waiting > 0 {
                eprintln!("warning: smtp_url is not set, so nothing waiting will be sent");
            }
            Ok(())
        }
    }
}
