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
//!   IPv6 clients are counted by network (`throttle_ipv6_prefix`, /64 by default): see
//!   [`address_key`].
//!
//! Every attempt is counted *before* its password is hashed: [`reserve`] counts the
//! key's recent events, in flight ones included, and adds this attempt's row only while the
//! key is under its limit, in one write transaction serialised per key (SQLite's
//! `BEGIN IMMEDIATE`; on PostgreSQL an advisory lock per key, since READ COMMITTED does not
//! serialise). So a burst of simultaneous guesses, on one instance or many, gets no more
//! hashes than the limit. Afterwards a failure keeps its rows and bans what reached its limit
//! ([`fail`]); a success takes this attempt's rows back
//! ([`clear_after_success`]).

use std::net::IpAddr;

use aws_lc_rs::digest::{digest, SHA256};
use diesel::QueryResult;
use ipnet::Ipv6Net;

use crate::app::App;
use crate::config::Settings;
pub use crate::db::throttle::BanKind;
use crate::db::throttle::{self, Ban, Recent};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;

const REGISTER_EVENT: &str = "register_ip";

/// The key a client address is counted under. IPv4 addresses count one by one; IPv6 clients
/// count by their network of `ipv6_prefix` bits, because one subscriber usually holds a whole
/// /64 and could otherwise take a fresh key for every guess. An IPv4-mapped IPv6 address is
/// the IPv4 address. Used for sign-in, registration and `gatehouse bans clear --ip`; the
/// audit log keeps the full address.
pub fn address_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => Ipv6Net::new(v6, ipv6_prefix.min(128))
                .map(|net| net.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
        },
    }
}

/// The key `origin`'s address is counted under ([`address_key`]); the command line, which
/// no limit applies to, is its own key.
pub fn origin_key(app: &App, origin: &super::Origin) -> String {
    match origin.ip {
        Some(ip) => address_key(ip, app.settings.throttle_ipv6_prefix),
        None => origin.audit_address(),
    }
}

/// Whose failure count a failed password check adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// At the sign-in form: a known device's failures are counted instead of the account's,
    /// so the owner's browser stays usable during an account ban.
    DeviceOrAccount,
    /// Inside a session (change password, delete account): both, since whoever is guessing
    /// there already holds the session, and may hold the device cookie too.
    Both,
}

/// A password check about to be made, and whose limits it is charged to. `device` is a
/// verified device id for `account`.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub address: &'a str,
    pub account: Option<&'a str>,
    pub device: Option<&'a str>,
    pub counting: Counting,
}

impl Attempt<'_> {
    /// The address first: over its limit, nothing else is counted.
    fn counters(&self, s: &Settings) -> Vec<Counter> {
        let failures = |kind: BanKind, key: &str, limit: u32, gates: bool| Counter {
            event: kind.event(),
            ban: Some(kind),
            key: key.to_string(),
            limit: i64::from(limit),
            window: s.login_failure_window,
            gates,
        };
        let mut counters = vec![failures(
            BanKind::Ip,
            self.address,
            s.login_ip_max_failures,
            true,
        )];
        match (self.account, self.device) {
            (Some(account), Some(device)) => {
                counters.push(failures(
                    BanKind::Device,
                    device,
                    s.login_max_failures,
                    true,
                ));
                if self.counting == Counting::Both {
                    // Counted, but the device decides: an owner whose account a stranger
                    // keeps banned can still change their password.
                    counters.push(failures(
                        BanKind::Account,
                        account,
                        s.login_max_failures,
                        false,
                    ));
                }
            }
            (Some(account), None) => counters.push(failures(
                BanKind::Account,
                account,
                s.login_max_failures,
                true,
            )),
            (None, _) => {}
        }
        counters
    }
}

/// One count an attempt is charged to.
#[derive(Debug, Clone)]
struct Counter {
    event: &'static str,
    /// What a failure that reaches the limit bans (registrations ban nothing).
    ban: Option<BanKind>,
    key: String,
    limit: i64,
    window: i64,
    /// Over its limit this counter refuses the attempt; otherwise it only counts.
    gates: bool,
}

/// A row an attempt holds in `throttle_events`.
#[derive(Debug, Clone)]
struct Held {
    counter: Counter,
    id: i64,
    /// The key had `limit - 1` or more rows before this one (in flight ones included): if
    /// this attempt fails, it decides whether the key is banned. Any count that reaches the
    /// limit has such a row, so every other failure is settled without a query.
    reaches_limit: bool,
}

/// The rows an attempt holds, and whether it was refused.
#[derive(Debug, Clone)]
pub struct Reservation {
    held: Vec<Held>,
    refused: bool,
}

impl Reservation {
    /// The account (or device) is banned or at its limit: the attempt must fail exactly like
    /// a wrong password (LG-1), without checking the password against the real hash.
    pub fn refused(&self) -> bool {
        self.refused
    }
}

/// Why [`reserve_rows`] stopped at a gating counter.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    /// Which counter refused.
    at: usize,
    /// The ban in force, if that is the reason (rather than attempts in flight).
    ban_until: Option<i64>,
    retry_after: i64,
}

fn known_until(app: &App, kind: BanKind, key: &str) -> Option<i64> {
    let max_age = app.settings.session_revalidate_interval;
    app.known_bans.until(kind, key, app.clock.now(), max_age)
}

/// 429 with `Retry-After` if this instance knows the address (its [`address_key`]) is
/// banned: no query, no hashing, so a banned address's flood costs next to nothing.
pub fn check_known_address(app: &App, address: &str) -> Result<(), AppError> {
    match known_until(app, BanKind::Ip, address) {
        Some(until) => Err(too_many(until - app.clock.now())),
        None => Ok(()),
    }
}

/// Counts this attempt before its password is checked. An address over its limit is 429
/// (nothing else is counted); an account or device over its limit comes back
/// [`Reservation::refused`]. Afterwards call [`fail`],
/// [`clear_after_success`] (inside the transaction that acts on the success) or
/// [`release`].
pub async fn reserve(app: &App, attempt: &Attempt<'_>) -> Result<Reservation, AppError> {
    let now = app.clock.now();
    let mut counters = attempt.counters(&app.settings);
    // A ban this instance already knows needs no query; the address is still charged.
    let known_banned = counters[1..]
        .iter()
        .filter(|c| c.gates)
        .any(|c| c.ban.is_some_and(|b| known_until(app, b, &c.key).is_some()));
    if known_banned {
        counters.truncate(1);
    }
    let (held, refusal, counters) = app
        .db
        .run(move |conn| {
            let (held, refusal) = write_tx(conn, |c| reserve_rows(c, &counters, now))?;
            Ok((held, refusal, counters))
        })
        .await?;
    let mut refused = known_banned;
    if let Some(r) = refusal {
        let counter = &counters[r.at];
        if let (Some(kind), Some(until)) = (counter.ban, r.ban_until) {
            app.known_bans.remember(kind, &counter.key, until, now);
        }
        if r.at == 0 {
            return Err(too_many(r.retry_after));
        }
        refused = true;
    }
    Ok(Reservation { held, refused })
}

/// The password check failed: this attempt's rows stay counted, and whatever reached its
/// limit is banned for `login_ban_time`.
pub async fn fail(app: &App, reservation: &Reservation) -> Result<(), AppError> {
    let now = app.clock.now();
    let ban_time = app.settings.login_ban_time;
    let counters: Vec<Counter> = reservation
        .held
        .iter()
        .filter(|h| h.reaches_limit && h.counter.ban.is_some())
        .map(|h| h.counter.clone())
        .collect();
    if counters.is_empty() {
        return Ok(());
    }
    let new_bans = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                lock(c, &counters)?;
                let mut new_bans = Vec::new();
                for counter in &counters {
                    if let Some(until) = ban_if_at_limit(c, counter, now, ban_time)? {
                        new_bans.push((counter.ban, counter.key.clone(), until));
                    }
                }
                Ok::<_, diesel::result::Error>(new_bans)
            })?)
        })
        .await?;
    for (kind, key, until) in new_bans {
        let Some(kind) = kind else { continue };
        log::warn!(
            target: "gatehouse::audit",
            "{}",
            serde_json::json!({"audit": "ban", "kind": kind.as_str(), "key": key, "until": until})
        );
        app.known_bans.remember(kind, &key, until, now);
    }
    Ok(())
}

/// The password check succeeded outside a transaction of the caller's (a check inside a
/// session): see [`clear_after_success`].
pub async fn succeed(app: &App, reservation: &Reservation) -> Result<(), AppError> {
    let reservation = reservation.clone();
    app.db
        .run(move |conn| Ok(clear_after_success(conn, &reservation)?))
        .await
}

/// The check never happened (the bcrypt queue was full): this attempt's rows go, so a
/// busy server does not ban its users' addresses.
pub async fn release(app: &App, reservation: &Reservation) {
    let ids: Vec<i64> = reservation.held.iter().map(|h| h.id).collect();
    let released = app
        .db
        .run(move |conn| Ok(throttle::delete_events(conn, &ids)?))
        .await;
    if let Err(e) = released {
        log::error!("cannot release a sign-in attempt's throttle rows: {e}");
    }
}

/// Counts a registration attempt from `address` (its [`address_key`]): 429 once
/// `register_ip_max` attempts were made within `register_window` (this also slows down
/// probing for taken names). Counted before any work, atomically, like sign-ins.
pub async fn register_attempt(app: &App, address: &str) -> Result<(), AppError> {
    let (limit, window) = (app.settings.register_ip_max, app.settings.register_window);
    count(app, &[(REGISTER_EVENT, address, limit, window)]).await
}

/// What mail may be asked for, per hour: password resets per client address and per target
/// address, verification links per account. Generous for people, useless for flooding
/// someone's mailbox or the SMTP server.
pub mod mail_limits {
    pub const RESET_PER_CLIENT: (&str, u32) = ("reset_ip", 10);
    pub const RESET_PER_ADDRESS: (&str, u32) = ("reset_address", 3);
    pub const VERIFY_PER_ACCOUNT: (&str, u32) = ("verify_account", 3);
    pub const VERIFY_PER_CLIENT: (&str, u32) = ("verify_ip", 10);
    pub const WINDOW: i64 = 3600;
}

/// Counts one attempt at each `(event, key, limit, window)`, atomically, before any work:
/// 429 with `Retry-After` once a key has had `limit` attempts within its window (the first
/// over its limit stops the count; nothing after it is charged).
pub async fn count(app: &App, limits: &[(&'static str, &str, u32, i64)]) -> Result<(), AppError> {
    let now = app.clock.now();
    let counters: Vec<Counter> = limits
        .iter()
        .map(|(event, key, limit, window)| Counter {
            event,
            ban: None,
            key: key.to_string(),
            limit: i64::from(*limit),
            window: *window,
            gates: true,
        })
        .collect();
    let (_, refusal) = app
        .db
        .run(move |conn| Ok(write_tx(conn, |c| reserve_rows(c, &counters, now))?))
        .await?;
    match refusal {
        Some(r) => Err(too_many(r.retry_after)),
        None => Ok(()),
    }
}

fn too_many(retry_after: i64) -> AppError {
    AppError::TooManyRequests {
        retry_after: retry_after.max(1) as u64,
    }
}

/// The succeeded attempt's rows go: the address is not charged for a correct password, and
/// the account's (or device's) failures up to this attempt are cleared (LG-3: success resets
/// the count). Attempts that reserved after this one stay counted.
pub fn clear_after_success(conn: &mut DbConn, reservation: &Reservation) -> QueryResult<()> {
    for Held { counter, id, .. } in &reservation.held {
        match counter.ban {
            Some(BanKind::Account | BanKind::Device) => {
                throttle::delete_events_through(conn, counter.event, &counter.key, *id)?
            }
            _ => throttle::delete_events(conn, &[*id])?,
        };
    }
    Ok(())
}

/// In the caller's write transaction: for each counter in turn, refuses if it gates and its
/// key is banned or has `limit` events in its window (in flight ones included), else adds
/// this attempt's row. Stops at the first refusal, so nothing after it is counted.
fn reserve_rows(
    conn: &mut DbConn,
    counters: &[Counter],
    now: i64,
) -> QueryResult<(Vec<Held>, Option<Refusal>)> {
    lock(conn, counters)?;
    let mut held = Vec::with_capacity(counters.len());
    for (at, counter) in counters.iter().enumerate() {
        let recent = counter.recent(conn, now)?;
        if let Some(refusal) = counter.refusal(&recent, at, now) {
            return Ok((held, Some(refusal)));
        }
        let id = throttle::insert_event(conn, counter.event, &counter.key, now)?;
        held.push(Held {
            counter: counter.clone(),
            id,
            reaches_limit: recent.count + 1 >= counter.limit,
        });
    }
    Ok((held, None))
}

/// Bans the counter's key if it has reached its limit and is not banned yet. The failures a
/// ban was made of are spent by it, but for the newest `limit - 1`: so, as long as those are
/// within the window, one more failure after the ban lifts bans again (the ban's length is
/// `login_ban_time`, whatever the window).
fn ban_if_at_limit(
    conn: &mut DbConn,
    counter: &Counter,
    now: i64,
    ban_time: i64,
) -> QueryResult<Option<i64>> {
    let Some(kind) = counter.ban else {
        return Ok(None);
    };
    let recent = counter.recent(conn, now)?;
    if recent.count < counter.limit || recent.ban_until.is_some() {
        return Ok(None);
    }
    let until = now + ban_time;
    throttle::put_ban(
        conn,
        &Ban {
            kind: kind.as_str().to_string(),
            key: counter.key.clone(),
            until,
            created_at: now,
            reason: "too many failed sign-ins".to_string(),
        },
    )?;
    throttle::keep_newest_events(conn, counter.event, &counter.key, counter.limit - 1)?;
    Ok(Some(until))
}

impl Counter {
    /// What the database says about this counter's key now.
    fn recent(&self, conn: &mut DbConn, now: i64) -> QueryResult<Recent> {
        // Registrations ban nothing: a kind no ban has.
        let ban_kind = self.ban.map_or("", BanKind::as_str);
        throttle::recent(
            conn,
            self.event,
            &self.key,
            ban_kind,
            now - self.window,
            now,
        )
    }

    /// Why a gating counter refuses the attempt, if it does.
    fn refusal(&self, recent: &Recent, at: usize, now: i64) -> Option<Refusal> {
        let counter = self;
        if !counter.gates {
            return None;
        }
        if let Some(until) = recent.ban_until {
            let (ban_until, retry_after) = (Some(until), until - now);
            return Some(Refusal {
                at,
                ban_until,
                retry_after,
            });
        }
        (recent.count >= counter.limit).then(|| Refusal {
            at,
            ban_until: None,
            retry_after: recent.oldest.unwrap_or(now) + counter.window - now,
        })
    }
}

/// Serialises attempts on the same keys across instances (see `db::throttle::lock_keys`).
fn lock(conn: &mut DbConn, counters: &[Counter]) -> QueryResult<()> {
    let locks: Vec<i64> = counters.iter().map(|c| lock_id(c.event, &c.key)).collect();
    throttle::lock_keys(conn, &locks)
}

/// A stable 64-bit id for a counter's key (instances of different builds must agree, so not
/// std's hasher).
fn lock_id(event: &str, key: &str) -> i64 {
    let d = digest(
        &SHA256,
        format!("gatehouse-throttle\0{event}\0{key}").as_bytes(),
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    i64::from_be_bytes(first)
}

/// Lifts the account's ban and its failure count (a password reset proved the owner).
pub fn clear_account(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    clear_bans(conn, Some((BanKind::Account, user_id)))
}

/// Lifts bans (all, or those of one kind and key) and their failure counts.
pub fn clear_bans(conn: &mut DbConn, only: Option<(BanKind, &str)>) -> QueryResult<usize> {
    match only {
        Some((kind, key)) => throttle::clear_ban(conn, kind.as_str(), kind.event(), key),
        None => throttle::clear_all_bans(conn, REGISTER_EVENT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str, prefix: u8) -> String {
        address_key(ip.parse().unwrap(), prefix)
    }

    #[test]
    fn addresses_are_keyed_by_client_not_by_address() {
        assert_eq!(key("198.51.100.7", 64), "198.51.100.7");
        assert_eq!(key("::ffff:198.51.100.7", 64), "198.51.100.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::9", 64), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:ff::1", 48), "2001:db8:1::/48");
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1/128");
        assert_eq!(key("::1", 64), "::/64");
    }

    #[test]
    fn lock_ids_are_stable_and_per_key() {
        // Every instance must compute the same lock for a key, whatever its build: a fixed
        // function of the bytes (here as Python's hashlib computes it).
        assert_eq!(lock_id("login_ip", "198.51.100.7"), 8747431345973274049);
        assert_eq!(
            lock_id("login_ip", "198.51.100.7"),
            lock_id("login_ip", "198.51.100.7")
        );
        assert_ne!(
            lock_id("login_ip", "198.51.100.7"),
            lock_id("login_ip", "198.51.100.8")
        );
        assert_ne!(lock_id("login_ip", "x"), lock_id("register_ip", "x"));
    }
}
