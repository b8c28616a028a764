//! The command line: `gatehouse [serve]` and the admin commands, one binary.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "A self-hostable login service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Print the effective settings (secrets masked) and exit; warns about unsafe ones.
    CheckConfig,
}

/// Runs a command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let figment = crate::config::figment();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(figment).await,
        Command::Migrate => {
            let settings = match crate::config::Settings::from_figment(&figment) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            match crate::db::Db::connect(&settings.database_url, 1, settings.db_connect_timeout)
                .and_then(|db| db.migrate())
            {
                Ok(()) => {
                    println!("migrations are up to date");
                    0
                }
                Err(e) => fail(e),
            }
        }
        Command::CheckConfig => match crate::config::Settings::from_figment(&figment) {
            Ok(s) => {
                println!("{s}");
                0
            }
            Err(e) => fail(e),
        },
    }
}

fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("gatehouse: {e}");
    2
}

async fn serve(figment: figment::Figment) -> i32 {
    let rocket = match crate::rocket(figment) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match rocket.launch().await {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}
