//! The second factor's primitives: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
//! skew either side) via `totp-rs`, the enrolment QR code drawn as inline SVG on the server
//! (no outside service, nothing the CSP has to allow), and recovery codes.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use qrcodegen::{QrCode, QrCodeEcc};
use totp_rs::{Builder, Secret, Totp};

/// The key file TOTP secrets are sealed with, under `data_dir`.
pub const KEY_FILE: &str = "totp.key";
/// Seconds per step.
pub const STEP: i64 = 30;
/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (Crockford-free base32: 5 bits each, 80 bits in all).
const RECOVERY_LEN: usize = 16;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new secret: 160 random bits (RFC 4226's recommendation).
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system CSPRNG is available");
    bytes
}

/// The secret as authenticator apps take it typed in: base32, no padding.
pub fn secret_text(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The secret a base32 text stands for (as an authenticator app reads it).
pub fn secret_from_text(text: &str) -> Option<Vec<u8>> {
    Secret::try_from_base32(text.trim())
        .ok()
        .map(|s| s.as_bytes().to_vec())
}

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(crate::auth::password::SITE_NAME))
        .with_account_name(account.replace(':', ""))
        .build()
        .ok()
}

/// The `otpauth://` URI the QR code carries.
pub fn otpauth_uri(secret: &[u8], account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// The step a typed code is valid for at `now` (this step or one either side), if any. The
/// caller accepts it only if it is later than the last step used.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = normalize(code);
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret, "")?.check(&code, u64::try_from(now).ok()?)?;
    i64::try_from(step).ok()
}

/// The code for `now` (for tests and the enrolment check's error message, never shown).
pub fn code_at(secret: &[u8], now: i64) -> String {
    totp(secret, "")
        .map(|t| t.generate(now.max(0) as u64).to_string())
        .unwrap_or_default()
}

/// What people type: spaces and dashes (as apps group digits) go, letters are lowercased.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a (normalized) code has the shape of a TOTP code rather than a recovery code.
pub fn looks_like_totp(normalized: &str) -> bool {
    normalized.len() == 6 && normalized.bytes().all(|b| b.is_ascii_digit())
}

/// A new set of recovery codes, as shown once (`xxxx-xxxx-xxxx-xxxx`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_LEN];
            aws_lc_rs::rand::fill(&mut bytes).expect("the system CSPRNG is available");
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| BASE32[(b & 31) as usize] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// What a recovery code is stored as: SHA-256 of the user and the normalized code (80 random
/// bits need no slow hash; the user id keeps equal codes of two users apart).
pub fn recovery_hash(user_id: &str, code: &str) -> String {
    let normalized = normalize(code);
    let mut input = Vec::with_capacity(user_id.len() + 1 + normalized.len());
    input.extend_from_slice(user_id.as_bytes());
    input.push(0);
    input.extend_from_slice(normalized.as_bytes());
    URL_SAFE_NO_PAD.encode(digest(&SHA256, &input))
}

/// Whether a (normalized) code has the shape of a recovery code.
pub fn looks_like_recovery(normalized: &str) -> bool {
    normalized.len() == RECOVERY_LEN && normalized.bytes().all(|b| BASE32.contains(&b))
}

/// The QR code of `text` as an SVG document fragment: one path, drawn with attributes only
/// (no `style`), so the strict CSP has nothing to allow.
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         width=\"200\" height=\"200\" role=\"img\" aria-label=\"{label}\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\
         <path d=\"{path}\" fill=\"#000000\"/></svg>",
        label = escape_attr(label)
    ))
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vector_and_skew() {
        // RFC 6238, appendix B, SHA-1: secret "12345678901234567890", T = 59 -> 94287082
        // (8 digits); the 6-digit code is its last six.
        let secret = b"12345678901234567890".to_vec();
        assert_eq!(code_at(&secret, 59), "287082");
        assert_eq!(matching_step(&secret, "287082", 59), Some(1));
        assert_eq!(matching_step(&secret, "287 082", 59), Some(1));
        assert_eq!(
            matching_step(&secret, "287-082", 59 + 30),
            Some(1),
            "one step late"
        );
        assert_eq!(
            matching_step(&secret, "287082", 59 + 60),
            None,
            "two steps late"
        );
        assert_eq!(matching_step(&secret, "28708", 59), None);
        assert_eq!(matching_step(&secret, "+87082", 59), None);
        assert_eq!(matching_step(&secret, "", 59), None);
    }

    #[test]
    fn recovery_codes_are_random_normalized_and_hashed_per_user() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 19, "{c}");
            assert!(looks_like_recovery(&normalize(c)));
            assert_eq!(
                recovery_hash("u1", c),
                recovery_hash("u1", &c.to_uppercase().replace('-', " "))
            );
            assert_ne!(recovery_hash("u1", c), recovery_hash("u2", c));
        }
    }

    #[test]
    fn the_qr_code_is_plain_svg() {
        let secret = new_secret();
        let uri = otpauth_uri(&secret, "ada").unwrap();
        assert!(uri.starts_with("otpauth://totp/gatehouse:ada?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", secret_text(&secret))));
        let svg = qr_svg(&uri, "a \"QR\" code").unwrap();
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert!(!svg.contains("style"));
        assert!(svg.contains("aria-label=\"a &quot;QR&quot; code\""));
    }
}
