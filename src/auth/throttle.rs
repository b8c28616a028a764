//! Brute-force defence (SECURITY-BAR LG-3, LG-4). Failures and rate-limited actions are rows
//! in `throttle_events`, bans are rows in `bans`: every instance counts the same attempts.
//! Bans this instance has seen are also kept in memory, so a banned client's flood is refused
//! without a database query.
//!
//! - Per account: `login_max_failures` failures within `login_failure_window` ban the account
//!   for `login_ban_time`, whatever address they come from. A banned account answers exactly
//!   like a wrong password. Success clears the count; bans lift by themselves.
//! - Per device: a browser that has signed in to an account before carries a signed device
//!   cookie, and for that browser the account ban does not apply (it has its own failure
//!   count). So an attacker who keeps an account banned cannot lock its owner out (OWASP's
//!   device-cookie scheme).
//! - Per client address: `login_ip_max_failures` failures within the window ban the address
//!   for `login_ban_time`: 429 with `Retry-After`. Registrations per address are capped too.

use std::collections::HashMap;
use std::sync::Mutex;

use diesel::prelude::*;

use crate::db::schema::{bans, throttle_events};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;
use crate::App;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanKind {
    Account,
    Ip,
    Device,
}

impl BanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BanKind::Account => "account",
            BanKind::Ip => "ip",
            BanKind::Device => "device",
        }
    }

    pub fn parse(s: &str) -> Option<BanKind> {
        match s {
            "account" => Some(BanKind::Account),
            "ip" => Some(BanKind::Ip),
            "device" => Some(BanKind::Device),
            _ => None,
        }
    }

    /// The `throttle_events.kind` whose count leads to this ban.
    fn event(self) -> &'static str {
        match self {
            BanKind::Account => "login_account",
            BanKind::Ip => "login_ip",
            BanKind::Device => "login_device",
        }
    }
}

const REGISTER_EVENT: &str = "register_ip";

/// Whose failure count a failed password check adds to (see [`Throttle::record_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    DeviceOrAccount,
    Both,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bans)]
pub struct Ban {
    pub kind: String,
    pub key: String,
    pub until: i64,
    pub created_at: i64,
    pub reason: String,
}

/// Bans known to this instance: (kind, key) -> (until, when the database last said so).
/// An entry is trusted for `session_revalidate_interval`, so a ban lifted with
/// `gatehouse bans clear` stops applying everywhere within that interval.
#[derive(Default)]
pub struct Throttle {
    known: Mutex<HashMap<(BanKind, String), (i64, i64)>>,
}

/// Most bans remembered in memory; beyond that the database alone answers.
const KNOWN_CAP: usize = 100_000;

impl Throttle {
    pub fn new() -> Self {
        Self::default()
    }

    fn remember(&self, kind: BanKind, key: &str, until: i64, now: i64) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= KNOWN_CAP {
            known.retain(|_, (u, _)| *u > now);
        }
        if known.len() < KNOWN_CAP {
            known.insert((kind, key.to_string()), (until, now));
        }
    }

    fn known_until(&self, kind: BanKind, key: &str, now: i64, max_age: i64) -> Option<i64> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(&(kind, key.to_string()))
            .filter(|(until, checked)| *until > now && now - *checked < max_age)
            .map(|(until, _)| *until)
    }

    /// When the ban on `(kind, key)` lifts, if there is one.
    pub async fn banned_until(
        &self,
        app: &App,
        kind: BanKind,
        key: &str,
    ) -> Result<Option<i64>, AppError> {
        let now = app.clock.now();
        let max_age = app.settings.session_revalidate_interval;
        if let Some(until) = self.known_until(kind, key, now, max_age) {
            return Ok(Some(until));
        }
        let k = key.to_string();
        let until = app
            .db
            .run(move |conn| Ok(active_ban(conn, kind, &k, now)?))
            .await?;
        if let Some(u) = until {
            self.remember(kind, key, u, now);
        }
        Ok(until)
    }

    /// 429 with `Retry-After` if the client address is banned.
    pub async fn check_ip(&self, app: &App, ip: &str) -> Result<(), AppError> {
        match self.banned_until(app, BanKind::Ip, ip).await? {
            Some(until) => Err(AppError::TooManyRequests {
                retry_after: (until - app.clock.now()).max(1) as u64,
            }),
            None => Ok(()),
        }
    }

    /// Records one failed sign-in and bans what crossed its limit. `account` is the user id
    /// when the account exists; `device` is a verified device id for that account. At the
    /// sign-in form a known device's failures are counted instead of the account's (so the
    /// owner's browser stays usable); `Counting::Both` counts both, for password checks made
    /// inside a session, where whoever is guessing already holds the session.
    pub async fn record_failure(
        &self,
        app: &App,
        ip: &str,
        account: Option<&str>,
        device: Option<&str>,
        counting: Counting,
    ) -> Result<(), AppError> {
        let now = app.clock.now();
        let s = &app.settings;
        let (window, ban_time) = (s.login_failure_window, s.login_ban_time);
        let mut counted = vec![(BanKind::Ip, ip.to_string(), s.login_ip_max_failures)];
        if let Some(d) = device {
            counted.push((BanKind::Device, d.to_string(), s.login_max_failures));
        }
        if let Some(a) = account {
            if device.is_none() || counting == Counting::Both {
                counted.push((BanKind::Account, a.to_string(), s.login_max_failures));
            }
        }
        let new_bans = app
            .db
            .run(move |conn| {
                Ok(write_tx(conn, |c| {
                    let mut new_bans = Vec::new();
                    for (kind, key, limit) in &counted {
                        diesel::insert_into(throttle_events::table)
                            .values((
                                throttle_events::kind.eq(kind.event()),
                                throttle_events::key.eq(key),
                                throttle_events::created_at.eq(now),
                            ))
                            .execute(c)?;
                        let count = count_events(c, kind.event(), key, now - window)?;
                        if count >= i64::from(*limit) && active_ban(c, *kind, key, now)?.is_none() {
                            let until = now + ban_time;
                            put_ban(c, *kind, key, until, now, "too many failed sign-ins")?;
                            new_bans.push((*kind, key.clone(), until));
                        }
                    }
                    Ok::<_, diesel::result::Error>(new_bans)
                })?)
            })
            .await?;
        for (kind, key, until) in new_bans {
            log::warn!(
                target: "gatehouse::audit",
                "{}",
                serde_json::json!({"audit": "ban", "kind": kind.as_str(), "key": key, "until": until})
            );
            self.remember(kind, &key, until, now);
        }
        Ok(())
    }

    /// A successful sign-in clears the account's (or device's) failure count.
    pub async fn record_success(
        &self,
        app: &App,
        account: &str,
        device: Option<&str>,
    ) -> Result<(), AppError> {
        let account = account.to_string();
        let device = device.map(str::to_string);
        app.db
            .run(move |conn| {
                let mut q = vec![(BanKind::Account.event(), account)];
                if let Some(d) = device {
                    q.push((BanKind::Device.event(), d));
                }
                for (kind, key) in q {
                    diesel::delete(
                        throttle_events::table
                            .filter(throttle_events::kind.eq(kind))
                            .filter(throttle_events::key.eq(key)),
                    )
                    .execute(conn)?;
                }
                Ok(())
            })
            .await
    }

    /// Counts a registration attempt from `ip`: 429 once `register_ip_max` attempts were
    /// made within `register_window` (this also slows down probing for taken names).
    pub async fn register_attempt(&self, app: &App, ip: &str) -> Result<(), AppError> {
        let now = app.clock.now();
        let window = app.settings.register_window;
        let max = i64::from(app.settings.register_ip_max);
        let key = ip.to_string();
        let oldest = app
            .db
            .run(move |conn| {
                let since = now - window;
                if count_events(conn, REGISTER_EVENT, &key, since)? >= max {
                    let oldest: Option<i64> = throttle_events::table
                        .filter(throttle_events::kind.eq(REGISTER_EVENT))
                        .filter(throttle_events::key.eq(&key))
                        .filter(throttle_events::created_at.gt(since))
                        .select(diesel::dsl::min(throttle_events::created_at))
                        .first(conn)?;
                    return Ok(Some(oldest.unwrap_or(now)));
                }
                diesel::insert_into(throttle_events::table)
                    .values((
                        throttle_events::kind.eq(REGISTER_EVENT),
                        throttle_events::key.eq(&key),
                        throttle_events::created_at.eq(now),
                    ))
                    .execute(conn)?;
                Ok(None)
            })
            .await?;
        match oldest {
            Some(oldest) => Err(AppError::TooManyRequests {
                retry_after: (oldest + window - now).max(1) as u64,
            }),
            None => Ok(()),
        }
    }
}

fn count_events(conn: &mut DbConn, kind: &str, key: &str, since: i64) -> QueryResult<i64> {
    throttle_events::table
        .filter(throttle_events::kind.eq(kind))
        .filter(throttle_events::key.eq(key))
        .filter(throttle_events::created_at.gt(since))
        .count()
        .get_result(conn)
}

fn active_ban(conn: &mut DbConn, kind: BanKind, key: &str, now: i64) -> QueryResult<Option<i64>> {
    bans::table
        .filter(bans::kind.eq(kind.as_str()))
        .filter(bans::key.eq(key))
        .filter(bans::until.gt(now))
        .select(bans::until)
        .first(conn)
        .optional()
}

fn put_ban(
    conn: &mut DbConn,
    kind: BanKind,
    key: &str,
    until: i64,
    now: i64,
    reason: &str,
) -> QueryResult<()> {
    // An expired row for the same key may still be there: replace it.
    diesel::delete(
        bans::table
            .filter(bans::kind.eq(kind.as_str()))
            .filter(bans::key.eq(key)),
    )
    .execute(conn)?;
    diesel::insert_into(bans::table)
        .values(&Ban {
            kind: kind.as_str().to_string(),
            key: key.to_string(),
            until,
            created_at: now,
            reason: reason.to_string(),
        })
        .execute(conn)
        .map(|_| ())
}

/// Every ban still in force, soonest to lift first (for `gatehouse bans list`).
pub fn list_bans(conn: &mut DbConn, now: i64) -> QueryResult<Vec<Ban>> {
    bans::table
        .filter(bans::until.gt(now))
        .order(bans::until.asc())
        .select(Ban::as_select())
        .load(conn)
}

/// Lifts bans (all, or those of one kind and key) and their failure counts.
pub fn clear_bans(conn: &mut DbConn, only: Option<(BanKind, &str)>) -> QueryResult<usize> {
    match only {
        Some((kind, key)) => {
            diesel::delete(
                throttle_events::table
                    .filter(throttle_events::kind.eq(kind.event()))
                    .filter(throttle_events::key.eq(key)),
            )
            .execute(conn)?;
            diesel::delete(
                bans::table
                    .filter(bans::kind.eq(kind.as_str()))
                    .filter(bans::key.eq(key)),
            )
            .execute(conn)
        }
        None => {
            diesel::delete(throttle_events::table.filter(throttle_events::kind.ne(REGISTER_EVENT)))
                .execute(conn)?;
            diesel::delete(bans::table).execute(conn)
        }
    }
}

/// Deletes events older than any window that counts them, and lifted bans.
pub fn prune(conn: &mut DbConn, now: i64, oldest_window: i64) -> QueryResult<usize> {
    let events = diesel::delete(
        throttle_events::table.filter(throttle_events::created_at.le(now - oldest_window)),
    )
    .execute(conn)?;
    let lifted = diesel::delete(bans::table.filter(bans::until.le(now))).execute(conn)?;
    Ok(events + lifted)
}
