//! Device cookies (OWASP "slow down online guessing attacks with device cookies"): a browser
//! that signed in to an account gets a signed cookie naming that account. While the account
//! is banned for failed sign-ins, such a browser may still sign in (its own failures are
//! counted and can ban the device), so attackers cannot lock an owner out for good.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::csrf::CsrfKey;
use crate::config::Settings;

const LABEL: &str = "gatehouse-device-v1";
/// A year: long enough to cover the ban windows many times over.
pub const LIFETIME_DAYS: i64 = 365;

pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.secure_cookies {
        "__Host-device"
    } else {
        "device"
    }
}

/// `<device id>.<user id>.<tag>`.
pub fn value(key: &CsrfKey, device_id: &str, user_id: &str) -> String {
    let tag = key.mac(LABEL, &[device_id.as_bytes(), user_id.as_bytes()]);
    format!(
        "{device_id}.{user_id}.{}",
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// The device id a device cookie's value proves for `user_id`, if it is genuine.
pub fn verify(key: &CsrfKey, cookie: Option<&str>, user_id: &str) -> Option<String> {
    let mut parts = cookie?.splitn(3, '.');
    let (device_id, uid, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if uid != user_id || !crate::ids::is_valid_id(device_id) {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    key.verify_mac(LABEL, &[device_id.as_bytes(), uid.as_bytes()], &tag)
        .then(|| device_id.to_string())
}
