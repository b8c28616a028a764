//! Sign-in bans as an administrator sees them: listed, and lifted (audited).

use super::audit::{self, Event, Reason};
use super::throttle::{self, BanKind};
use super::Origin;
use crate::app::App;
use crate::db::throttle::Ban;
use crate::db::{users, write_tx};
use crate::error::AppError;

/// A ban in force, and who it is on as a person would name them.
pub struct Listed {
    pub ban: Ban,
    /// The username for an account ban (the key is a user id), else the key itself.
    pub who: String,
}

/// Every ban in force, soonest to lift first.
pub async fn list(app: &App) -> Result<Vec<Listed>, AppError> {
    let now = app.clock.now();
    app.db
        .run(move |conn| {
            let bans = crate::db::throttle::list_bans(conn, now)?;
            let mut out = Vec::with_capacity(bans.len());
            for ban in bans {
                let who = if ban.kind == BanKind::Account.as_str() {
                    users::find_by_id(conn, &ban.key)?
                        .map_or_else(|| ban.key.clone(), |u| u.username)
                } else {
                    ban.key.clone()
                };
                out.push(Listed { ban, who });
            }
            Ok(out)
        })
        .await
}

/// Which bans to lift.
pub enum Lift<'a> {
    /// An account's (by user id; the username for the audit row).
    Account {
        user_id: &'a str,
        username: &'a str,
    },
    /// An address's, by its throttle key (`throttle::address_key`).
    Address(&'a str),
    All,
}

/// Lifts bans and the failures counted towards them, with an audit row. Running instances
/// stop applying them within `session_revalidate_interval`. Returns how many were lifted.
pub async fn lift(app: &App, which: Lift<'_>, origin: &Origin) -> Result<usize, AppError> {
    let now = app.clock.now();
    let (only, reason, user_id, username) = match which {
        Lift::Account { user_id, username } => (
            Some((BanKind::Account, user_id.to_string())),
            Reason::AccountBanLifted,
            Some(user_id),
            Some(username),
        ),
        Lift::Address(key) => (
            Some((BanKind::Ip, key.to_string())),
            Reason::AddressBanLifted,
            None,
            None,
        ),
        Lift::All => (None, Reason::AllBansLifted, None, None),
    };
    let row = audit::event(
        now,
        Event::BansCleared,
        user_id,
        username,
        reason,
        origin,
        None,
    );
    app.db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                let n = throttle::clear_bans(c, only.as_ref().map(|(k, key)| (*k, key.as_str())))?;
                audit::store(c, &row)?;
                Ok::<_, diesel::result::Error>(n)
            })?)
        })
        .await
}
