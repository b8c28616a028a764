//! The cookies gatehouse sets: the session cookie (CK-1) and the device cookie (see
//! `auth::device`), each always with the same attributes.

use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::{Duration, OffsetDateTime};

use crate::auth::csrf::CsrfKey;
use crate::auth::device;
use crate::config::Settings;
use crate::service::Issued;

/// The session cookie (CK-1): HttpOnly, SameSite=Lax, Path=/, no Domain, Secure with the
/// `__Host-` name when configured. Persistent only for "remember me".
pub fn set_session(jar: &CookieJar<'_>, settings: &Settings, issued: &Issued) {
    let mut cookie = session_cookie(settings, issued.token.clone());
    if issued.remember {
        cookie.set_max_age(Duration::seconds(
            (issued.absolute_expires_at - issued.issued_at).max(0),
        ));
    }
    jar.add(cookie);
}

/// The attributes the session cookie is always set and cleared with.
fn session_cookie(settings: &Settings, value: String) -> Cookie<'static> {
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
pub fn clear_session(jar: &CookieJar<'_>, settings: &Settings) {
    let mut cookie = session_cookie(settings, String::new());
    cookie.set_max_age(Duration::ZERO);
    cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
    jar.add(cookie);
}

/// The device cookie this browser sent, if any (checked by `auth::device::verify`).
pub fn device(jar: &CookieJar<'_>, settings: &Settings) -> Option<String> {
    jar.get(device::cookie_name(settings))
        .map(|c| c.value().to_string())
}

/// Gives this browser a device cookie for `user_id` (the device id it proved, or a new one).
pub fn set_device(
    jar: &CookieJar<'_>,
    key: &CsrfKey,
    settings: &Settings,
    user_id: &str,
    known: Option<&str>,
) {
    let device_id = known.map_or_else(crate::ids::new_id, str::to_string);
    jar.add(
        Cookie::build((
            device::cookie_name(settings),
            device::value(key, &device_id, user_id),
        ))
        .path("/")
        .http_only(true)
        .secure(settings.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(Duration::days(device::LIFETIME_DAYS)),
    );
}

/// The pending sign-in cookie's name: `__Host-` when cookies are Secure (never shared with
/// other hosts, even with `cookie_domain`).
pub fn pending_cookie_name(settings: &Settings) -> &'static str {
    if settings.secure_cookies {
        "__Host-pending-signin"
    } else {
        "pending-signin"
    }
}

/// The pending sign-in cookie: a sign-in waiting for its second step. Not a session: it opens
/// nothing but `/login/2fa`, for `max_age` seconds.
pub fn set_pending(jar: &CookieJar<'_>, settings: &Settings, value: String, max_age: i64) {
    jar.add(
        Cookie::build((pending_cookie_name(settings), value))
            .path("/")
            .http_only(true)
            .secure(settings.secure_cookies)
            .same_site(SameSite::Strict)
            .max_age(Duration::seconds(max_age)),
    );
}

pub fn pending(jar: &CookieJar<'_>, settings: &Settings) -> Option<String> {
    jar.get(pending_cookie_name(settings))
        .map(|c| c.value().to_string())
}

pub fn clear_pending(jar: &CookieJar<'_>, settings: &Settings) {
    let mut cookie = Cookie::build((pending_cookie_name(settings), ""))
        .path("/")
        .http_only(true)
        .secure(settings.secure_cookies)
        .same_site(SameSite::Strict)
        .build();
    cookie.set_max_age(Duration::ZERO);
    cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
    jar.add(cookie);
}
