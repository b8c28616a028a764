//! `gatehouse bans list|clear`.

use std::net::IpAddr;

use clap::Subcommand;
use ipnet::IpNet;

use super::users::find;
use super::{Context, Failure, Outcome};
use crate::audit::{self, Event, NewEvent};
use crate::auth::throttle::{self, BanKind};
use crate::db::write_tx;

#[derive(Debug, Subcommand)]
pub enum BansCommand {
    /// List the bans in force.
    List,
    /// Lift bans: one account's (--user), one address's (--ip; for IPv6, the ban on its
    /// network of `throttle_ipv6_prefix` bits), or all (--all).
    Clear {
        #[arg(long, conflicts_with_all = ["ip", "all"])]
        user: Option<String>,
        #[arg(long, conflicts_with = "all")]
        ip: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

/// The throttle key `--ip` names: an address (any address of an IPv6 network clears that
/// network's ban, as the server counts it), or a network exactly as `bans list` shows it.
fn address_key(ip: &str, ipv6_prefix: u8) -> Result<String, Failure> {
    if let Ok(addr) = ip.parse::<IpAddr>() {
        return Ok(throttle::address_key(addr, ipv6_prefix));
    }
    match ip.parse::<IpNet>() {
        Ok(IpNet::V6(net)) if net.prefix_len() == ipv6_prefix => {
            Ok(throttle::address_key(IpAddr::V6(net.addr()), ipv6_prefix))
        }
        Ok(_) => Err(Failure::input(format!(
            "{ip:?}: give an address, or an IPv6 network of /{ipv6_prefix} (throttle_ipv6_prefix)"
        ))),
        Err(_) => Err(Failure::input(format!("{ip:?} is not an IP address"))),
    }
}

pub fn run(ctx: &Context, cmd: BansCommand) -> Outcome {
    let mut conn = ctx.conn()?;
    let now = ctx.now();
    match cmd {
        BansCommand::List => {
            let bans = throttle::list_bans(&mut conn, now)?;
            println!("{:<8} {:<40} {:<12} REASON", "KIND", "WHO", "LIFTS IN");
            for b in &bans {
                let who = if b.kind == BanKind::Account.as_str() {
                    crate::db::users::find_by_id(&mut conn, &b.key)?
                        .map_or_else(|| b.key.clone(), |u| u.username)
                } else {
                    b.key.clone()
                };
                println!(
                    "{:<8} {:<40} {:<12} {}",
                    b.kind,
                    who,
                    format!("{}s", b.until - now),
                    b.reason
                );
            }
            println!("{} ban(s) in force", bans.len());
        }
        BansCommand::Clear { user, ip, all } => {
            let only = match (&user, &ip, all) {
                (Some(u), None, false) => Some((BanKind::Account, find(&mut conn, u)?.id)),
                (None, Some(ip), false) => Some((
                    BanKind::Ip,
                    address_key(ip, ctx.settings.throttle_ipv6_prefix)?,
                )),
                (None, None, true) => None,
                _ => {
                    return Err(Failure::input(
                        "say which bans to lift: --user NAME, --ip ADDRESS or --all",
                    ))
                }
            };
            let lifted = write_tx(&mut conn, |c| {
                let n = throttle::clear_bans(c, only.as_ref().map(|(k, key)| (*k, key.as_str())))?;
                let reason = match &only {
                    Some((BanKind::Account, _)) => "account ban lifted by an administrator",
                    Some(_) => "address ban lifted by an administrator",
                    None => "all bans lifted by an administrator",
                };
                let user_id = only
                    .as_ref()
                    .filter(|(k, _)| *k == BanKind::Account)
                    .map(|(_, id)| id.as_str());
                audit::store(
                    c,
                    &NewEvent::new(
                        now,
                        Event::BansCleared,
                        user_id,
                        user.as_deref(),
                        reason,
                        "cli",
                        None,
                    ),
                )?;
                Ok::<_, diesel::result::Error>(n)
            })?;
            println!(
                "lifted {lifted} ban(s); running instances notice within {} s",
                ctx.settings.session_revalidate_interval
            );
        }
    }
    Ok(())
}
