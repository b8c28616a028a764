//! The command line: `gatehouse [serve]` and the admin commands, one binary. Admin commands
//! work on the database directly (with the same settings as the server), so they also work
//! while the server is running; sessions they end stop working on every instance within
//! `session_revalidate_interval`.

mod bans;
mod groups;
mod keys;
mod mail;
mod sessions;
mod transfer;
mod users;

use std::io::{BufRead, IsTerminal};

use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db::Db;

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
    /// Print every effective setting (secrets masked) and warn about unsafe ones.
    CheckConfig,
    /// Manage user accounts.
    #[command(subcommand)]
    User(users::UserCommand),
    /// List or end users' sessions.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// List or lift sign-in bans.
    #[command(subcommand)]
    Bans(bans::BansCommand),
    /// List, rotate or retire signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write every user (with password hash and groups) to stdout as JSON lines.
    Export,
    /// Add the users of an export read from stdin, all or nothing.
    Import,
    /// Manage group membership (for forward-auth access rules).
    #[command(subcommand)]
    Group(groups::GroupCommand),
    /// Send a test mail, or show the mail waiting to be sent.
    #[command(subcommand)]
    Mail(mail::MailCommand),
}

/// How a command failed: the message for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

/// Exit code for bad input (unknown user, duplicate, weak password).
pub const EXIT_INPUT: i32 = 1;
/// Exit code for configuration, database or other environment problems.
pub const EXIT_ENV: i32 = 2;

impl Failure {
    pub fn input(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_INPUT,
            message: message.into(),
        }
    }

    pub fn env(message: impl std::fmt::Display) -> Self {
        Failure {
            code: EXIT_ENV,
            message: message.to_string(),
        }
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::env(format!("database error: {e}"))
    }
}

/// A flow's error: the database or the environment, never the input (flows report bad input
/// as outcomes).
impl From<crate::error::AppError> for Failure {
    fn from(e: crate::error::AppError) -> Self {
        Failure::env(e)
    }
}

type Outcome = Result<(), Failure>;

/// What the key, group and transfer commands need: the settings and the database.
pub struct Context {
    pub settings: Settings,
    pub db: Db,
    pub clock: SystemClock,
}

/// What the commands that change accounts, sessions or bans run on: the same services the
/// web server's flows run on (`service/`), so the command line and the web cannot differ.
fn services() -> Result<App, Failure> {
    let settings = Settings::from_figment(&crate::config::figment()).map_err(Failure::env)?;
    App::init(settings, Arc::new(SystemClock)).map_err(Failure::env)
}

impl Context {
    fn open() -> Result<Context, Failure> {
        let settings = Settings::from_figment(&crate::config::figment()).map_err(Failure::env)?;
        let db = Db::connect(&settings.database_url, 2, settings.db_connect_timeout)
            .map_err(Failure::env)?;
        db.migrate().map_err(Failure::env)?;
        Ok(Context {
            settings,
            db,
            clock: SystemClock,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn conn(&self) -> Result<crate::db::DbGuard, Failure> {
        self.db
            .get()
            .map_err(|e| Failure::env(format!("database unavailable: {e}")))
    }
}

/// A user named on the command line, by username or email.
#[derive(Debug, Args)]
pub struct UserArg {
    /// Username or email address.
    pub user: String,
}

/// Reads a password without it ever touching argv: a hidden prompt (asked twice) on a
/// terminal, else the first line of stdin.
pub fn read_password(prompt: &str) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| Failure::env(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Repeat it: ")
            .map_err(|e| Failure::env(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(Failure::input("the passwords do not match"));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::env(format!("cannot read the password from stdin: {e}")))?;
        // Only the line break goes: passwords keep their spaces (PW-1).
        let line = line.strip_suffix('\n').unwrap_or(&line);
        Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
    }
}

/// Runs a command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => return serve().await,
        Command::Migrate => migrate(),
        Command::CheckConfig => check_config(),
        Command::User(cmd) => match services() {
            Ok(app) => users::run(&app, cmd).await,
            Err(f) => Err(f),
        },
        Command::Sessions(cmd) => match services() {
            Ok(app) => sessions::run(&app, cmd).await,
            Err(f) => Err(f),
        },
        Command::Bans(cmd) => match services() {
            Ok(app) => bans::run(&app, cmd).await,
            Err(f) => Err(f),
        },
        Command::Keys(cmd) => Context::open().and_then(|ctx| keys::run_keys(&ctx, cmd)),
        Command::Export => Context::open().and_then(|ctx| transfer::export(&ctx)),
        Command::Import => Context::open().and_then(|ctx| transfer::import(&ctx)),
        Command::Group(cmd) => Context::open().and_then(|ctx| groups::run(&ctx, cmd)),
        Command::Mail(cmd) => match services() {
            Ok(app) => mail::run(&app, cmd).await,
            Err(f) => Err(f),
        },
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("gatehouse: {}", f.message);
            f.code
        }
    }
}

fn migrate() -> Outcome {
    let settings = Settings::from_figment(&crate::config::figment()).map_err(Failure::env)?;
    let db = Db::connect(&settings.database_url, 1, settings.db_connect_timeout)
        .map_err(Failure::env)?;
    db.migrate().map_err(Failure::env)?;
    println!("migrations are up to date");
    Ok(())
}

fn check_config() -> Outcome {
    let settings = Settings::from_figment(&crate::config::figment()).map_err(Failure::env)?;
    println!("{settings}");
    for warning in settings.warnings() {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

async fn serve() -> i32 {
    // Before anything opens files: the connection cap is derived from this limit.
    crate::web::connections::raise_open_file_limit();
    let rocket = match crate::rocket(crate::config::figment()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return EXIT_ENV;
        }
    };
    match rocket.launch().await {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            EXIT_ENV
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_start_with_a_hyphen_are_values() {
        let cli = Cli::try_parse_from([
            "gatehouse",
            "sessions",
            "revoke",
            "--user",
            "erik",
            "-Jx1_a",
        ])
        .expect("a session id starting with '-' parses");
        match cli.command {
            Some(Command::Sessions(sessions::SessionsCommand::Revoke { id, all, .. })) => {
                assert_eq!(id.as_deref(), Some("-Jx1_a"));
                assert!(!all);
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from(["gatehouse", "keys", "retire", "-kid-"])
            .expect("a key id starting with '-' parses");
        assert!(matches!(
            cli.command,
            Some(Command::Keys(keys::KeysCommand::Retire { kid })) if kid == "-kid-"
        ));
        // Flags are still flags.
        let cli =
            Cli::try_parse_from(["gatehouse", "sessions", "revoke", "--user", "erik", "--all"])
                .expect("--all parses");
        assert!(matches!(
            cli.command,
            Some(Command::Sessions(sessions::SessionsCommand::Revoke {
                id: None,
                all: true,
                ..
            }))
        ));
    }
}
