//! `gatehouse bans list|clear`.

use std::net::IpAddr;

use clap::Subcommand;
use ipnet::IpNet;

use super::users::find;
use super::{Failure, Outcome};
use crate::app::App;
use crate::service::bans::{self, Lift, Listed};
use crate::service::{throttle, Origin};

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

pub async fn run(app: &App, cmd: BansCommand) -> Outcome {
    let now = app.clock.now();
    match cmd {
        BansCommand::List => {
            let bans = bans::list(app).await?;
            println!("{:<8} {:<40} {:<12} REASON", "KIND", "WHO", "LIFTS IN");
            for Listed { ban, who } in &bans {
                println!(
                    "{:<8} {:<40} {:<12} {}",
                    ban.kind,
                    who,
                    format!("{}s", ban.until - now),
                    ban.reason
                );
            }
            println!("{} ban(s) in force", bans.len());
        }
        BansCommand::Clear { user, ip, all } => {
            let found = match &user {
                Some(u) => Some(find(app, u).await?),
                None => None,
            };
            let key = match &ip {
                Some(ip) => Some(address_key(ip, app.settings.throttle_ipv6_prefix)?),
                None => None,
            };
            let which = match (&found, &key, all) {
                (Some(u), None, false) => Lift::Account {
                    user_id: &u.id,
                    username: &u.username,
                },
                (None, Some(key), false) => Lift::Address(key),
                (None, None, true) => Lift::All,
                _ => {
                    return Err(Failure::input(
                        "say which bans to lift: --user NAME, --ip ADDRESS or --all",
                    ))
                }
            };
            let lifted = bans::lift(app, which, &Origin::cli()).await?;
            println!(
                "lifted {lifted} ban(s); running instances notice within {} s",
                app.settings.session_revalidate_interval
            );
        }
    }
    Ok(())
}
