//! CSRF tokens (SECURITY-BAR CS-2): an HMAC over what the token is bound to: the session id
//! when signed in, or before sign-in the random value of the pre-session `__Host-csrf`
//! cookie. An attacker can neither read nor forge either, so a naive cookie/field
//! double-submit is not what this is. The same key signs device cookies. Checking a posted
//! form (origin, token, limits) is `web::forms`.

use std::path::Path;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::keys::KeyError;
use crate::files::{load_or_create_secret, SecretError};

const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Sign-in and registration: bound to the pre-session cookie.
    PreSession,
    /// Everything a signed-in user does: bound to the session id.
    Session,
}

pub struct CsrfKey(hmac::Key);

impl CsrfKey {
    /// `data_dir/csrf.key`, 32 random bytes made on first start and reused.
    pub fn load_or_create(data_dir: &Path) -> Result<CsrfKey, KeyError> {
        let secret = load_or_create_secret(data_dir, "csrf.key", 32).map_err(|e| match e {
            SecretError::Read { path, source } => KeyError::Read { path, source },
            SecretError::Write { path, source } => KeyError::Write { path, source },
            SecretError::Malformed { path, len } => KeyError::Malformed {
                path,
                why: format!("expected at least {len} bytes in base64"),
            },
            SecretError::Generate => KeyError::Generate,
        })?;
        Ok(CsrfKey(hmac::Key::new(hmac::HMAC_SHA256, &secret)))
    }

    fn message(binding: Binding, bound_to: &str, nonce: &[u8]) -> Vec<u8> {
        let kind: &[u8] = match binding {
            Binding::PreSession => b"pre-session",
            Binding::Session => b"session",
        };
        let mut m = Vec::with_capacity(32 + bound_to.len() + nonce.len());
        m.extend_from_slice(b"gatehouse-csrf-v1\0");
        m.extend_from_slice(kind);
        m.push(0);
        m.extend_from_slice(bound_to.as_bytes());
        m.push(0);
        m.extend_from_slice(nonce);
        m
    }

    /// An HMAC over length-prefixed `parts`, under a `label` that keeps uses apart (CSRF
    /// tokens, device cookies) although they share this key.
    pub fn mac(&self, label: &str, parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(label.as_bytes());
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        ctx.sign()
    }

    /// Constant-time check of a tag made by [`CsrfKey::mac`].
    pub fn verify_mac(&self, label: &str, parts: &[&[u8]], tag: &[u8]) -> bool {
        let expected = self.mac(label, parts);
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_ref(), tag).is_ok()
    }

    /// A fresh token each call (a random nonce masks it, so pages never repeat one).
    pub fn token(&self, binding: Binding, bound_to: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system CSPRNG is available");
        let tag = hmac::sign(&self.0, &Self::message(binding, bound_to, &nonce));
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Constant-time check of `token` against what it must be bound to.
    pub fn verify(&self, binding: Binding, bound_to: &str, token: &str) -> bool {
        if token.len() > 128 {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if raw.len() != NONCE_LEN + TAG_LEN {
            return false;
        }
        let (nonce, tag) = raw.split_at(NONCE_LEN);
        hmac::verify(&self.0, &Self::message(binding, bound_to, nonce), tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_and_unforgeable() {
        let dir = tempfile::tempdir().unwrap();
        let key = CsrfKey::load_or_create(dir.path()).unwrap();
        let t = key.token(Binding::Session, "sid-a");
        assert!(key.verify(Binding::Session, "sid-a", &t));
        assert!(!key.verify(Binding::Session, "sid-b", &t));
        assert!(!key.verify(Binding::PreSession, "sid-a", &t));
        assert_ne!(t, key.token(Binding::Session, "sid-a"), "tokens are masked");
        let mut tampered = t.clone().into_bytes();
        tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
        assert!(!key.verify(
            Binding::Session,
            "sid-a",
            std::str::from_utf8(&tampered).unwrap()
        ));
        assert!(!key.verify(Binding::Session, "sid-a", ""));
        assert!(!key.verify(Binding::Session, "sid-a", "sid-a"));
        // The key is reused, so tokens survive a restart.
        let again = CsrfKey::load_or_create(dir.path()).unwrap();
        assert!(again.verify(Binding::Session, "sid-a", &t));
    }
}
