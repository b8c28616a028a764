//! `gatehouse group add|remove|list`: membership for forward-auth access rules.

use clap::Subcommand;

use super::{Context, Failure, Outcome};
use crate::db::users::User;
use crate::db::{groups, users, DbConn};

fn find(conn: &mut DbConn, who: &str) -> Result<User, Failure> {
    users::find_by_login(conn, who)?.ok_or_else(|| Failure::input(format!("no user {who:?}")))
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a user to a group.
    Add { user: String, group: String },
    /// Remove a user from a group.
    Remove { user: String, group: String },
    /// List groups and their members.
    List,
}

pub fn run(ctx: &Context, cmd: GroupCommand) -> Outcome {
    let mut conn = ctx.conn()?;
    match cmd {
        GroupCommand::Add { user, group } | GroupCommand::Remove { user, group }
            if !groups::valid_name(&group) =>
        {
            let _ = user;
            Err(Failure::input(format!(
                "group {group:?}: use 1-64 letters, digits, dots, dashes or underscores"
            )))
        }
        GroupCommand::Add { user, group } => {
            let u = find(&mut conn, &user)?;
            if groups::add(&mut conn, &u.id, &group, ctx.now())? {
                println!("added {} to {group}", u.username);
            } else {
                println!("{} is already in {group}", u.username);
            }
            Ok(())
        }
        GroupCommand::Remove { user, group } => {
            let u = find(&mut conn, &user)?;
            if groups::remove(&mut conn, &u.id, &group)? {
                println!("removed {} from {group}", u.username);
                Ok(())
            } else {
                Err(Failure::input(format!(
                    "{} is not in {group:?}",
                    u.username
                )))
            }
        }
        GroupCommand::List => {
            for (name, members) in groups::all(&mut conn)? {
                println!("{name:<32} {members} member(s)");
            }
            Ok(())
        }
    }
}
