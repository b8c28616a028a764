//! Authentication: keys and tokens, passwords, CSRF, sessions and the request guard.

pub mod csrf;
pub mod denylist;
pub mod device;
pub mod fresh;
pub mod guard;
pub mod keys;
pub mod password;
pub mod profiles;
pub mod session;
pub mod session_views;
pub mod throttle;
pub mod token;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// 128 random bits, base64url: session ids, user ids, CSRF cookie values.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system CSPRNG is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The shape `new_id` makes; anything else is not one of ours.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
