//! The flows: every change gatehouse makes, written once. Each flow takes plain inputs, runs
//! its checks, its transaction (`db::write_tx`), its audit record and, where it signs
//! someone in, the token, and returns an outcome. `routes/` turns outcomes into pages and
//! cookies, `cli/` into lines and exit codes; neither does the work itself, so the web and
//! the command line cannot differ.

pub mod account;
pub mod audit;
pub mod bans;
pub mod delivery;
pub mod email;
pub mod outbox;
pub mod profiles;
pub mod registration;
pub mod reset;
pub mod second_factor;
pub mod sessions;
pub mod signin;
pub mod throttle;

use std::net::IpAddr;

use crate::auth::token::Claims;
use crate::i18n::Lang;

/// Where a request comes from: a client address (as `trusted_proxies` resolve it) and its
/// user agent, or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `None`: the command line (an administrator on the server).
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    /// The language the visitor reads pages in (their mail follows it); `None` from the
    /// command line, which changes nobody's language.
    pub lang: Option<Lang>,
}

/// User agents are shown back to the user and stored, never trusted: keep them short.
const MAX_USER_AGENT: usize = 512;

impl Origin {
    pub fn web(ip: IpAddr, user_agent: Option<&str>, lang: Lang) -> Origin {
        Origin {
            lang: Some(lang),
            ip: Some(ip),
            user_agent: user_agent
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT)
                .collect(),
        }
    }

    pub fn cli() -> Origin {
        Origin {
            ip: None,
            user_agent: String::new(),
            lang: None,
        }
    }

    /// What the audit trail and the sessions list record as the client address.
    pub fn audit_address(&self) -> String {
        match self.ip {
            Some(ip) => ip.to_string(),
            None => "cli".to_string(),
        }
    }

    pub fn is_cli(&self) -> bool {
        self.ip.is_none()
    }
}

/// A session token just signed, for the web layer to put in the session cookie.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub claims: Claims,
    /// A "remember me" session: the cookie outlives the browser.
    pub remember: bool,
    pub absolute_expires_at: i64,
    pub issued_at: i64,
}
