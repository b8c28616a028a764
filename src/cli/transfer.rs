//! `gatehouse export` / `gatehouse import`: users (with their password hashes and groups) as
//! JSON lines, to move a deployment between databases (SQLite to PostgreSQL) without anyone
//! resetting a password, confirming an address again or enrolling a second factor again.
//! Sessions are not moved: people sign in once more.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{Context, Failure, Outcome};
use crate::auth::password;
use crate::db::users::{self, User};
use crate::db::{groups, second_factor, write_tx};
use crate::validate;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// One line of an export. The format is versioned by its field names; unknown fields are
/// refused, so a newer export is never half-read.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// When the address was proven (absent: not yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Two-step sign-in, moved as it is: the secret stays sealed (base64url), so the target
    /// needs the same `data_dir/totp.key` (a move between databases keeps the data dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<ExportedTotp>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedTotp {
    pub sealed_secret: String,
    pub enabled_at: i64,
    pub last_step: Option<i64>,
    /// The recovery codes' hashes (never the codes), and when each was used.
    pub recovery_codes: Vec<ExportedCode>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedCode {
    pub hash: String,
    pub created_at: i64,
    pub used_at: Option<i64>,
}

pub fn export(ctx: &Context) -> Outcome {
    let mut conn = ctx.conn()?;
    let all = users::list(&mut conn)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for u in &all {
        let totp = match (&u.totp_secret, u.totp_enabled_at) {
            (Some(sealed), Some(enabled_at)) => Some(ExportedTotp {
                sealed_secret: URL_SAFE_NO_PAD.encode(sealed),
                enabled_at,
                last_step: u.totp_last_step,
                recovery_codes: second_factor::all_codes(&mut conn, &u.id)?
                    .into_iter()
                    .map(|(hash, created_at, used_at)| ExportedCode {
                        hash,
                        created_at,
                        used_at,
                    })
                    .collect(),
            }),
            _ => None,
        };
        let line = ExportedUser {
            email_verified_at: u.email_verified_at,
            lang: Some(u.lang.clone()),
            totp,
            groups: groups::of_user(&mut conn, &u.id)?,
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            password_hash: u.password_hash.clone(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            disabled_at: u.disabled_at,
        };
        let json = serde_json::to_string(&line).map_err(Failure::env)?;
        writeln!(out, "{json}").map_err(|e| Failure::env(format!("cannot write: {e}")))?;
    }
    eprintln!("exported {} user(s)", all.len());
    Ok(())
}

fn check(n: usize, e: &ExportedUser) -> Result<User, Failure> {
    let bad = |why: String| Failure::input(format!("line {n}: {why}"));
    if !crate::ids::is_valid_id(&e.id) {
        return Err(bad(format!("id {:?} is not a gatehouse id", e.id)));
    }
    let name = validate::username(&e.username)
        .map_err(|w| bad(format!("username {:?}: {w}", e.username)))?;
    let email = validate::email(&e.email).map_err(|w| bad(format!("email {:?}: {w}", e.email)))?;
    let ours = e
        .password_hash
        .strip_prefix("bcrypt-sha384$")
        .is_some_and(password::is_plain_bcrypt);
    if !ours && !password::is_plain_bcrypt(&e.password_hash) {
        return Err(bad("password_hash is not a bcrypt hash".into()));
    }
    if let Some(g) = e.groups.iter().find(|g| !groups::valid_name(g)) {
        return Err(bad(format!("group {g:?} is not a valid name")));
    }
    let mut user = User::new(&name, &email, e.password_hash.clone(), e.created_at);
    user.id = e.id.clone();
    user.updated_at = e.updated_at;
    user.disabled_at = e.disabled_at;
    user.email_verified_at = e.email_verified_at;
    if let Some(lang) = &e.lang {
        if crate::i18n::Lang::from_code(lang).is_none() {
            return Err(bad(format!("lang {lang:?} is not one gatehouse speaks")));
        }
        user.lang = lang.clone();
    }
    if let Some(t) = &e.totp {
        let sealed = URL_SAFE_NO_PAD
            .decode(t.sealed_secret.as_bytes())
            .map_err(|_| bad("totp.sealed_secret is not base64url".into()))?;
        user.totp_secret = Some(sealed);
        user.totp_enabled_at = Some(t.enabled_at);
        user.totp_last_step = t.last_step;
    }
    Ok(user)
}

/// Reads an export from stdin and adds every user in one transaction: all or nothing.
pub fn import(ctx: &Context) -> Outcome {
    let stdin = std::io::stdin();
    let mut parsed = Vec::new();
    for (i, line) in stdin.lock().lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Failure::env(format!("cannot read stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: ExportedUser = serde_json::from_str(&line)
            .map_err(|err| Failure::input(format!("line {n}: not an exported user: {err}")))?;
        let codes: Vec<(String, i64, Option<i64>)> = e
            .totp
            .as_ref()
            .map(|t| {
                t.recovery_codes
                    .iter()
                    .map(|c| (c.hash.clone(), c.created_at, c.used_at))
                    .collect()
            })
            .unwrap_or_default();
        parsed.push((n, check(n, &e)?, e.groups, codes));
    }
    let mut conn = ctx.conn()?;
    let now = ctx.now();
    let result = write_tx(&mut conn, |c| {
        for (n, user, user_groups, codes) in &parsed {
            let taken = users::find_by_id(c, &user.id)?.is_some()
                || users::username_taken(c, &user.username_key)?
                || users::email_taken(c, &user.email_key)?;
            if taken {
                return Ok(Err(Failure::input(format!(
                    "line {n}: {} ({}) already exists here; nothing was imported",
                    user.username, user.email
                ))));
            }
            users::insert(c, user)?;
            for g in user_groups {
                groups::add(c, &user.id, g, now)?;
            }
            for (hash, created_at, used_at) in codes {
                second_factor::insert_code(c, &user.id, hash, *created_at, *used_at)?;
            }
        }
        Ok::<_, diesel::result::Error>(Ok(()))
    });
    match result {
        Ok(Ok(())) => {
            println!("imported {} user(s)", parsed.len());
            Ok(())
        }
        Ok(Err(f)) => Err(f),
        Err(e) if crate::db::is_unique_violation(&e) => Err(Failure::input(
            "the export names the same user twice; nothing was imported",
        )),
        Err(e) => Err(e.into()),
    }
}
