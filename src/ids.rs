//! Random identifiers: session ids, user ids, device ids, pre-session CSRF cookie values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// 128 random bits, base64url.
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
