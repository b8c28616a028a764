//! The session lifecycle: start (a new row and `sid` at every sign-in), revalidate (the only
//! database check a signed-in request ever makes, at most once per revalidate interval),
//! and end (revoke the row, refuse the `sid` at once on this instance).

use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::{Duration, OffsetDateTime};

use super::token::Claims;
use super::token::CLOCK_LEEWAY;
use crate::config::Settings;
use crate::db::sessions::{self, Session};
use crate::db::users::User;
use crate::db::write_tx;
use crate::error::AppError;
use crate::App;

/// Who is signing in, from where.
pub struct Origin {
    pub user_agent: String,
    pub client_ip: String,
}

/// User agents are shown back to the user and stored, never trusted: keep them short.
const MAX_USER_AGENT: usize = 512;

pub fn clip_user_agent(ua: Option<&str>) -> String {
    ua.unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT)
        .collect()
}

/// A token for a session, `exp` sliding but never past the absolute expiry (JW-7).
pub fn claims(app: &App, user: &User, session: &Session, now: i64) -> Claims {
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
    }
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
    conn: &mut crate::db::DbConn,
    s: &Settings,
    user: &User,
    remember: bool,
    origin: &Origin,
    now: i64,
) -> Result<Started, AppError> {
    crate::db::users::record_login(conn, &user.id, now, &origin.client_ip)?;
    open(conn, s, user, remember, origin, now)
}

/// What a sign-in checked: the stored hash the password matched, and the rehash to store in
/// its place, if any.
pub struct Verified<'a> {
    pub hash: &'a str,
    pub upgrade: Option<&'a str>,
}

/// [`start`] for a sign-in by password: only if the user's hash is still the one the password
/// was checked against and the account is still enabled (`Ok(None)` otherwise, and nothing is
/// written). A password change, reset or disabling that lands while bcrypt runs thus wins
/// over the sign-in, instead of the sign-in making a session after that change ended every
/// other one.
pub fn start_verified(
    conn: &mut crate::db::DbConn,
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
        &origin.client_ip,
    )?;
    if !unchanged {
        return Ok(None);
    }
    open(conn, s, user, remember, origin, now).map(Some)
}

fn open(
    conn: &mut crate::db::DbConn,
    s: &Settings,
    user: &User,
    remember: bool,
    origin: &Origin,
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
        client_ip: origin.client_ip.clone(),
        revoked_at: None,
        revoked_reason: None,
    };
    sessions::insert(conn, &session)?;
    Ok(Started { session, evicted })
}

/// The session cookie (CK-1): HttpOnly, SameSite=Lax, Path=/, no Domain, Secure with the
/// `__Host-` name when configured. Persistent only for "remember me".
pub fn set_cookie(
    jar: &CookieJar<'_>,
    settings: &Settings,
    token: String,
    remember: bool,
    absolute_expires_at: i64,
    now: i64,
) {
    let mut cookie = base_cookie(settings, token);
    if remember {
        cookie.set_max_age(Duration::seconds((absolute_expires_at - now).max(0)));
    }
    jar.add(cookie);
}

/// The attributes the session cookie is always set and cleared with.
fn base_cookie(settings: &Settings, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build((settings.session_cookie_name(), value))
        .path("/")
        .http_only(true)
        .secure(settings.secure_cookies)
        .same_site(SameSite::Lax)
        .build();
    if let Some(domain) = &settings.cookie_domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// Clears the session cookie with the same attributes it was set with (CK-1).
pub fn clear_cookie(jar: &CookieJar<'_>, settings: &Settings) {
    let mut cookie = base_cookie(settings, String::new());
    cookie.set_max_age(Duration::ZERO);
    cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
    jar.add(cookie);
}

/// A token re-issued after the session row checked out.
pub struct Refreshed {
    pub token: String,
    pub claims: Claims,
    pub remember: bool,
    pub absolute_expires_at: i64,
}

/// Checks the session row (exists, belongs to the token's user, not revoked, user enabled,
/// not past idle or absolute expiry), records activity and re-issues the token.
/// `Ok(None)` means the session is over.
pub async fn revalidate(app: &App, old: &Claims) -> Result<Option<Refreshed>, AppError> {
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
        now,
    );
    let claims = claims(app, &user, &session, now);
    let token = app.tokens.issue(&claims).map_err(|e| {
        log::error!("cannot sign a session token: {e}");
        AppError::Internal
    })?;
    Ok(Some(Refreshed {
        token,
        claims,
        remember: session.remember,
        absolute_expires_at: session.absolute_expires_at,
    }))
}

/// Keeps what the dashboard shows about a session in memory (see `session_views`).
/// `previous_*`: the sign-in before this session's, as the user row says after it.
pub fn remember_view(
    app: &App,
    session: &Session,
    previous_login_at: Option<i64>,
    previous_login_ip: Option<String>,
    now: i64,
) {
    app.session_views.put(
        &session.id,
        super::session_views::SessionView {
            absolute_expires_at: session.absolute_expires_at,
            remember: session.remember,
            previous_login_at,
            previous_login_ip,
        },
        now,
        app.settings.session_revalidate_interval,
    );
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
