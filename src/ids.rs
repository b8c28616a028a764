//! Random identifiers: session ids, user ids, device ids, pre-session CSRF cookie values, and
//! the secret tokens of mailed links and pending sign-ins (kept only as their hash).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// 128 random bits, base64url.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system CSPRNG is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A secret token (256 random bits, base64url) and the hash it is stored as.
pub fn new_secret_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system CSPRNG is available");
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = secret_token_hash(&token);
    (token, hash)
}

/// What a secret token is stored as: SHA-256 (a slow hash is pointless for 256 random bits).
/// A token that is not of our shape hashes to nothing stored.
pub fn secret_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

/// The shape `new_id` makes; anything else is not one of ours.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
