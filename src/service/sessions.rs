//! The session lifecycle: start (a new row and `sid` at every sign-in), issue (a token for
//! it), revalidate (the only database check a signed-in request ever makes, at most once per
//! revalidate interval), and end (revoke the row, refuse the `sid` at once on this instance),
//! by its owner or an administrator.

use std::sync::Arc;

use super::audit::{self, Event, Reason};
use super::{Issued, Origin};
use crate::app::App;
use crate::auth::token::{amr, Claims, CLOCK_LEEWAY};
use crate::cache::session_views::SessionView;
use crate::config::Settings;
use crate::db::sessions::{self, Session};
use crate::db::users::User;
use crate::db::{write_tx, DbConn};
use crate::error::AppError;

/// A token for a session, `exp` sliding but never past the absolute expiry (JW-7).
fn claims(app: &App, user: &User, session: &Session, now: i64) -> Claims {
    let exp = (now + app.settings.idle_timeout(session.remember)).min(session.absolute_expires_at);
    Claims {
        iss: app.tokens.issuer().to_string(),
        aud: app.tokens.audience().to_string(),
        sub: user.id.clone(),
        sid: session.id.clone(),
        iat: now,
        nbf: now,
        exp,
        auth_time: session.created_at,
        name: user.username.clone(),
        amr: session.amr.split(',').map(str::to_string).collect(),
    }
}

/// Signs a token for `session`. A key that cannot sign is a server fault (500), logged here.
pub fn issue(app: &App, user: &User, session: &Session, now: i64) -> Result<Issued, AppError> {
    let claims = claims(app, user, session, now);
    let token = app.tokens.issue(&claims).map_err(|e| {
        log::error!("cannot sign a session token: {e}");
        AppError::Internal
    })?;
    Ok(Issued {
        token,
        claims,
        remember: session.remember,
        absolute_expires_at: session.absolute_expires_at,
        issued_at: now,
    })
}

/// A session just made, and the sessions it pushed out (the per-user cap).
pub struct Started {
    pub session: Session,
    pub evicted: Vec<String>,
}

/// Starts a new session for `user`: a new `sid` every time (LG-6). When the user already has
/// `max_sessions_per_user` live sessions, the oldest are revoked to make room. Inside the
/// caller's write transaction, so a failure leaves no half-made session. For an account just
/// made; a sign-in by password uses [`start_verified`].
pub fn start(
    conn: &mut DbConn,
    s: &Settings,
    user: &User,
    remember: bool,
    origin: &Origin,
    now: i64,
) -> Result<Started, AppError> {
    let lang = origin.lang.map(|l| l.code());
    crate::db::users::record_login(conn, &user.id, now, &origin.audit_address(), lang)?;
    open(conn, s, user, remember, origin, amr::PASSWORD, now)
}

/// What a sign-in checked: the stored hash the password matched, the rehash to store in
/// its place, if any, and how the user proved who they are (`amr`).
pub struct Verified<'a> {
    pub hash: &'a str,
    pub upgrade: Option<&'a str>,
    pub amr: &'a str,
}

/// [`start`] for a sign-in by password: only if the user's hash is still the one the password
/// was checked against and the account is still enabled (`Ok(None)` otherwise, and nothing is
/// written). A password change, reset or disabling that lands while bcrypt runs thus wins
/// over the sign-in, instead of the sign-in making a session after that change ended every
/// other one.
pub fn start_verified(
    conn: &mut DbConn,
    s: &Settings,
    user: &User,
    verified: &Verified<'_>,
    remember: bool,
    origin: &Origin,
    now: i64,
) -> Result<Option<Started>, AppError> {
    let unchanged = crate::db::users::record_login_if_unchanged(
        conn,
        &user.id,
        verified.hash,
        verified.upgrade,
        now,
        &origin.audit_address(),
    )?;
    if !unchanged {
        return Ok(None);
    }
    crate::db::users::set_lang(conn, &user.id, origin.lang.map(|l| l.code()))?;
    open(conn, s, user, remember, origin, verified.amr, now).map(Some)
}

fn open(
    conn: &mut DbConn,
    s: &Settings,
    user: &User,
    remember: bool,
    origin: &Origin,
    amr: &str,
    now: i64,
) -> Result<Started, AppError> {
    let live = sessions::live_for_user(conn, &user.id, now)?;
    let excess = (live.len() + 1).saturating_sub(s.max_sessions_per_user as usize);
    let mut evicted = Vec::with_capacity(excess);
    for old in live.iter().take(excess) {
        if sessions::revoke(conn, &old.id, now, "session limit reached")? {
            evicted.push(old.id.clone());
        }
    }
    let absolute = now + s.absolute_timeout(remember);
    let session = Session {
        id: crate::ids::new_id(),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        idle_expires_at: (now + s.idle_timeout(remember)).min(absolute),
        absolute_expires_at: absolute,
        remember,
        user_agent: origin.user_agent.clone(),
        client_ip: origin.audit_address(),
        revoked_at: None,
        revoked_reason: None,
        amr: amr.to_string(),
    };
    sessions::insert(conn, &session)?;
    Ok(Started { session, evicted })
}

/// Checks the session row (exists, belongs to the token's user, not revoked, user enabled,
/// not past idle or absolute expiry), records activity and re-issues the token.
/// `Ok(None)` means the session is over.
pub async fn revalidate(app: &App, old: &Claims) -> Result<Option<Issued>, AppError> {
    let now = app.clock.now();
    let sid = old.sid.clone();
    let settings = app.settings.clone();
    let row = app
        .db
        .run(move |conn| {
            let Some((session, user)) = sessions::find_with_user(conn, &sid)? else {
                return Ok(None);
            };
            if !session.is_live(now) || !user.is_enabled() {
                return Ok(None);
            }
            let idle =
                (now + settings.idle_timeout(session.remember)).min(session.absolute_expires_at);
            // Only a row that is still unrevoked is touched: a concurrent revoke wins.
            if !sessions::touch(conn, &sid, now, idle)? {
                return Ok(None);
            }
            Ok(Some((session, user)))
        })
        .await?;
    let Some((session, user)) = row else {
        return Ok(None);
    };
    if user.id != old.sub {
        log::warn!(
            "session {} belongs to another user than its token says",
            old.sid
        );
        return Ok(None);
    }
    remember_view(
        app,
        &session,
        user.previous_login_at,
        user.previous_login_ip.clone(),
        user.email_verified(),
        now,
    );
    issue(app, &user, &session, now).map(Some)
}

/// Keeps what the dashboard shows about a session in memory (see `session_views`).
/// `previous_*`: the sign-in before this session's, as the user row says after it.
pub fn remember_view(
    app: &App,
    session: &Session,
    previous_login_at: Option<i64>,
    previous_login_ip: Option<String>,
    email_verified: bool,
    now: i64,
) {
    app.session_views.put(
        &session.id,
        SessionView {
            absolute_expires_at: session.absolute_expires_at,
            remember: session.remember,
            previous_login_at,
            previous_login_ip,
            email_verified,
        },
        now,
        app.settings.session_revalidate_interval,
    );
}

/// What the dashboard shows about session `sid`: from memory when fresh, else from the
/// database (`None`: the session is gone).
pub async fn view(app: &App, sid: &str) -> Result<Option<Arc<SessionView>>, AppError> {
    let now = app.clock.now();
    let max_age = app.settings.session_revalidate_interval;
    if let Some(view) = app.session_views.get(sid, now, max_age) {
        return Ok(Some(view));
    }
    let id = sid.to_string();
    let row = app
        .db
        .run(move |conn| Ok(sessions::find_with_user(conn, &id)?))
        .await?;
    Ok(row.map(|(s, u)| {
        let view = SessionView {
            absolute_expires_at: s.absolute_expires_at,
            remember: s.remember,
            previous_login_at: u.previous_login_at,
            email_verified: u.email_verified(),
            previous_login_ip: u.previous_login_ip,
        };
        app.session_views.put(sid, view, now, max_age)
    }))
}

/// Puts `sid` on this instance's deny list for as long as one of its tokens could still be
/// accepted without revalidation.
pub fn deny(app: &App, sid: &str, token_exp: i64) {
    let now = app.clock.now();
    let until = token_exp.min(now + app.settings.session_revalidate_interval + CLOCK_LEEWAY);
    app.denylist.insert(sid, until.max(now + 1), now);
}

/// Refuses sessions revoked in the database at once on this instance.
pub fn deny_all(app: &App, sids: &[String]) {
    for sid in sids {
        deny(app, sid, i64::MAX);
    }
}

/// Ends one session: the row is revoked (so every instance refuses it at its next
/// revalidation, and restarts do not bring it back) and this instance refuses it at once.
pub async fn end(app: &App, claims: &Claims, reason: &'static str) -> Result<bool, AppError> {
    deny(app, &claims.sid, claims.exp);
    let sid = claims.sid.clone();
    let now = app.clock.now();
    app.db
        .run(move |conn| Ok(write_tx(conn, |c| sessions::revoke(c, &sid, now, reason))?))
        .await
}

/// Signing out: the session ends everywhere (see [`end`]) and the sign-out is audited.
pub async fn sign_out(app: &App, claims: &Claims, origin: &Origin) -> Result<(), AppError> {
    end(app, claims, "signed out").await?;
    audit::record(
        app,
        Event::Logout,
        Some(&claims.sub),
        Some(&claims.name),
        Reason::Ok,
        origin,
        Some(&claims.sid),
    )
    .await;
    Ok(())
}

/// A user's live sessions, oldest first.
pub async fn list(app: &App, user_id: &str) -> Result<Vec<Session>, AppError> {
    let now = app.clock.now();
    let uid = user_id.to_string();
    app.db
        .run(move |conn| Ok(sessions::live_for_user(conn, &uid, now)?))
        .await
}

/// Who ends sessions: their owner (from one of their sessions) or an administrator.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    Owner(&'a Claims),
    Administrator,
}

impl By<'_> {
    fn audit_reason(self, owner: Reason) -> Reason {
        match self {
            By::Owner(_) => owner,
            By::Administrator => Reason::ByAdministrator,
        }
    }

    /// The session the change was made from, for the audit row.
    fn session(&self) -> Option<&str> {
        match self {
            By::Owner(claims) => Some(&claims.sid),
            By::Administrator => None,
        }
    }
}

/// Ends session `sid` of `user` (`false`: the user has no such live session; anyone else's
/// id is simply not found). The revocation and its audit row land together.
pub async fn revoke(
    app: &App,
    user: &User,
    sid: &str,
    by: By<'_>,
    origin: &Origin,
) -> Result<bool, AppError> {
    let now = app.clock.now();
    let row = audit::event(
        now,
        Event::SessionRevoked,
        Some(&user.id),
        Some(&user.username),
        by.audit_reason(Reason::OneDevice),
        origin,
        Some(sid),
    );
    let row_reason = match by {
        By::Owner(_) => "revoked by its owner",
        By::Administrator => "revoked by an administrator",
    };
    let (uid, id) = (user.id.clone(), sid.to_string());
    let revoked = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                let live = matches!(
                    sessions::find(c, &id)?,
                    Some(s) if s.user_id == uid && s.revoked_at.is_none()
                );
                if !live || !sessions::revoke(c, &id, now, row_reason)? {
                    return Ok(false);
                }
                audit::store(c, &row)?;
                Ok::<_, diesel::result::Error>(true)
            })?)
        })
        .await?;
    if revoked {
        deny_all(app, &[sid.to_string()]);
    }
    Ok(revoked)
}

/// Ends every live session of `user` but `keep` (the owner's current one), with one audit
/// row; returns the ids ended.
pub async fn revoke_all(
    app: &App,
    user: &User,
    keep: Option<&str>,
    by: By<'_>,
    origin: &Origin,
) -> Result<Vec<String>, AppError> {
    let now = app.clock.now();
    let row = audit::event(
        now,
        Event::SessionRevoked,
        Some(&user.id),
        Some(&user.username),
        by.audit_reason(Reason::AllOtherDevices),
        origin,
        by.session(),
    );
    let row_reason = match by {
        By::Owner(_) => "signed out by its owner",
        By::Administrator => "revoked by an administrator",
    };
    let (uid, keep) = (user.id.clone(), keep.map(str::to_string));
    let ended = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                let ended =
                    sessions::revoke_all_for_user(c, &uid, keep.as_deref(), now, row_reason)?;
                audit::store(c, &row)?;
                Ok::<_, diesel::result::Error>(ended)
            })?)
        })
        .await?;
    deny_all(app, &ended);
    Ok(ended)
}
