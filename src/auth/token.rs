//! Session tokens: issuing and the one strict decode function every verification goes through.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{KeyRing, SigningKey};
use crate::cache::verified_tokens::VerifiedTokens;

/// Cookies hold at most 4 KiB; anything longer is not ours and is refused before parsing.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The claims of a gatehouse session token. Every field is required and strictly typed:
/// a token missing one, or with a string where a number belongs, does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's opaque id.
    pub sub: String,
    /// The session id (a row in `sessions`).
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// When the user signed in (the session began); refreshing keeps it.
    pub auth_time: i64,
    /// The username, for display only; never used to look anything up.
    pub name: String,
    /// How the user signed in (RFC 8176): `["pwd"]`, or `["pwd","otp","mfa"]` after a second
    /// factor. The one claim with a default: tokens issued before it existed were all
    /// password sign-ins, and an empty list never satisfies `require_2fa`.
    #[serde(default)]
    pub amr: Vec<String>,
}

impl Claims {
    /// Whether the session was started with more than one factor.
    pub fn multi_factor(&self) -> bool {
        self.amr.iter().any(|m| m == amr::MFA)
    }
}

/// RFC 8176 authentication method references, as sessions store them (comma-separated).
pub mod amr {
    /// A password.
    pub const PASSWORD: &str = "pwd";
    /// A password and a one-time code.
    pub const PASSWORD_AND_OTP: &str = "pwd,otp,mfa";
    pub const MFA: &str = "mfa";
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token too long")]
    TooLong,
    #[error("not a compact JWS")]
    Malformed,
    #[error("header: {0}")]
    Header(&'static str),
    #[error("unknown key id")]
    UnknownKey,
    #[error("signature or claims rejected: {0}")]
    Rejected(String),
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
    #[error("implausible claims: {0}")]
    Implausible(&'static str),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Leeway for clock skew between instances on `nbf`/`iat` (SECURITY-BAR JW-4: at most 30 s).
pub const CLOCK_LEEWAY: i64 = 30;

pub struct TokenService {
    keys: RwLock<Arc<KeyRing>>,
    /// Where the keys live, to pick up a rotation made by the CLI or another instance.
    keys_dir: PathBuf,
    /// The key directory's modification time when it was last read: files are only ever
    /// added, renamed or removed (never edited in place), so an unchanged time means
    /// unchanged keys.
    dir_seen: Mutex<Option<SystemTime>>,
    validation: Validation,
    issuer: String,
    audience: String,
    max_lifetime: i64,
    /// A repeat visit skips the signature check but never the time checks (see
    /// `cache::verified_tokens`).
    verified: VerifiedTokens<Claims>,
    /// One reload at a time: two overlapping ones could store the older key set last.
    reloading: Mutex<()>,
}

impl TokenService {
    /// `max_lifetime`: the longest `exp - iat` we ever issue (the longer of the idle timeouts).
    pub fn new(
        keys: KeyRing,
        data_dir: &Path,
        issuer: &str,
        audience: &str,
        max_lifetime: i64,
    ) -> Self {
        let mut validation = Validation::new(keys.alg().jwt());
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_aud = true;
        // Time claims are checked below against the application clock (injectable, so tests
        // move time instead of sleeping), with the same strictness: exp has no leeway, nbf and
        // iat at most CLOCK_LEEWAY seconds. jsonwebtoken's own check reads the system clock,
        // which would disagree with an injected one, so it is off rather than done twice.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = CLOCK_LEEWAY as u64;
        TokenService {
            keys: RwLock::new(Arc::new(keys)),
            keys_dir: data_dir.join("keys"),
            dir_seen: Mutex::new(None),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            max_lifetime,
            verified: VerifiedTokens::default(),
            reloading: Mutex::new(()),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn max_lifetime(&self) -> i64 {
        self.max_lifetime
    }

    /// How long after it was issued a token can still be accepted: the longest lifetime we
    /// issue plus the clock leeway. A key is no longer needed this long after its successor.
    pub fn acceptance_window(&self) -> i64 {
        self.max_lifetime + CLOCK_LEEWAY
    }

    /// Re-reads `data_dir/keys`, so a rotation made elsewhere takes effect here. A key file
    /// that fails to load leaves the current keys in place (and is logged), so a bad file
    /// can never take signing down. Returns whether the set of keys changed.
    pub fn reload(&self) -> bool {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        *self.dir_seen.lock().unwrap_or_else(|p| p.into_inner()) = self.dir_mtime();
        let alg = self.keys().alg();
        match KeyRing::load(&self.keys_dir, alg) {
            Ok(Some(ring)) => {
                let current = self.keys();
                let same = ring.keys().len() == current.keys().len()
                    && ring
                        .keys()
                        .iter()
                        .zip(current.keys())
                        .all(|(a, b)| a.kid == b.kid);
                if !same {
                    log::info!(
                        "signing keys reloaded: active {}, {} in all",
                        ring.active().kid,
                        ring.keys().len()
                    );
                    *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
                    // A retired key's tokens must not live on in the cache.
                    self.verified.keys_changed();
                }
                !same
            }
            Ok(None) => {
                log::error!(
                    "no signing key of {alg} in {}; keeping the loaded ones",
                    self.keys_dir.display()
                );
                false
            }
            Err(e) => {
                log::error!("cannot reload signing keys, keeping the loaded ones: {e}");
                false
            }
        }
    }

    fn dir_mtime(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.keys_dir)
            .and_then(|m| m.modified())
            .ok()
    }

    /// A `kid` we do not know may be a key another instance or the CLI just made: if the key
    /// directory changed since we read it, read it again. Unknown `kid`s from attackers cost
    /// one `stat` each, never a reload, because they cannot change our directory.
    fn key_for(&self, kid: &str) -> Option<Arc<SigningKey>> {
        if let Some(k) = self.keys().get(kid) {
            return Some(k.clone());
        }
        let seen = *self.dir_seen.lock().unwrap_or_else(|p| p.into_inner());
        if self.dir_mtime() != seen && self.reload() {
            return self.keys().get(kid).cloned();
        }
        None
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, TokenError> {
        let ring = self.keys();
        let key: &SigningKey = ring.active();
        let mut header = Header::new(key.alg.jwt());
        header.typ = Some("JWT".into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, key.encoding())
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// [`TokenService::verify_uncached`], remembering tokens that passed. Time is checked on
    /// every call, cached or not. The claims are shared, not cloned: a page's guards hold
    /// them several times per request.
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<Claims>, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            check_time(&claims, now)?;
            return Ok(claims);
        }
        let generation = self.verified.generation();
        let claims = Arc::new(self.verify_uncached(token, now)?);
        self.verified.remember(token, &claims, generation);
        Ok(claims)
    }

    /// The one strict decode: size and shape, header (`typ`, `alg`, `kid`, no `crit`),
    /// signature with the key `kid` names among ours, `iss`/`aud`, then time.
    pub fn verify_uncached(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let shape_ok = token.split('.').count() == 3
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !shape_ok {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.typ.as_deref() != Some("JWT") {
            return Err(TokenError::Header("typ must be JWT"));
        }
        if header.crit.is_some() {
            return Err(TokenError::Header("crit is not supported"));
        }
        if header.alg != self.keys().alg().jwt() {
            return Err(TokenError::Header("unexpected alg"));
        }
        // jku, x5u, jwk and x5c are never consulted: only keys we hold verify.
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self.key_for(kid).ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(token, key.decoding(), &self.validation)
            .map_err(|e| TokenError::Rejected(format!("{:?}", e.kind())))?;
        let c = data.claims;
        check_time(&c, now)?;
        if c.exp - c.iat > self.max_lifetime || c.exp <= c.iat {
            return Err(TokenError::Implausible("lifetime"));
        }
        if c.auth_time > c.iat {
            return Err(TokenError::Implausible("auth_time after iat"));
        }
        if !crate::ids::is_valid_id(&c.sid) || c.sub.is_empty() || c.sub.len() > 64 {
            return Err(TokenError::Implausible("sid or sub"));
        }
        Ok(c)
    }
}

/// `exp` strictly in the future (no leeway); `nbf` and `iat` at most CLOCK_LEEWAY ahead.
fn check_time(c: &Claims, now: i64) -> Result<(), TokenError> {
    if c.exp <= now {
        return Err(TokenError::Expired);
    }
    if c.nbf > now + CLOCK_LEEWAY || c.iat > now + CLOCK_LEEWAY {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Alg;

    fn service(alg: Alg) -> (tempfile::TempDir, TokenService) {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), alg, 1_700_000_000).unwrap();
        let svc = TokenService::new(ring, dir.path(), "http://gh.test", "http://gh.test", 3600);
        (dir, svc)
    }

    fn claims(now: i64) -> Claims {
        Claims {
            amr: vec!["pwd".into()],
            iss: "http://gh.test".into(),
            aud: "http://gh.test".into(),
            sub: "user-1".into(),
            sid: crate::ids::new_id(),
            iat: now,
            nbf: now,
            exp: now + 600,
            auth_time: now,
            name: "alice".into(),
        }
    }

    #[test]
    fn a_verification_that_overlaps_a_key_change_is_not_remembered() {
        let (dir, svc) = service(Alg::EdDSA);
        let now = 1_800_000_000;
        let token = svc.issue(&claims(now)).unwrap();
        // The verification begins with the current key set...
        let generation = svc.verified.generation();
        let verified = Arc::new(svc.verify_uncached(&token, now).unwrap());
        // ...a rotation lands before it stores its result...
        super::super::keys::generate(&dir.path().join("keys"), Alg::EdDSA, now).unwrap();
        assert!(svc.reload(), "the key set changed");
        svc.verified.remember(&token, &verified, generation);
        assert!(
            svc.verified.get(&token).is_none(),
            "remembered across a key change"
        );
        // ...while one within a single key set is remembered.
        let generation = svc.verified.generation();
        svc.verified.remember(&token, &verified, generation);
        assert!(svc.verified.get(&token).is_some());
    }

    #[test]
    fn round_trip_for_every_algorithm() {
        for alg in [Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256] {
            let (_d, svc) = service(alg);
            let now = 1_800_000_000;
            let c = claims(now);
            let token = svc.issue(&c).unwrap();
            assert_eq!(*svc.verify(&token, now + 1).unwrap(), c, "{alg}");
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            assert_eq!(
                header.kid.as_deref(),
                Some(svc.keys().active().kid.as_str())
            );
        }
    }

    #[test]
    fn time_is_checked_against_the_given_clock() {
        let (_d, svc) = service(Alg::EdDSA);
        let now = 1_800_000_000;
        let token = svc.issue(&claims(now)).unwrap();
        assert_eq!(svc.verify(&token, now + 600), Err(TokenError::Expired));
        assert!(svc.verify(&token, now - CLOCK_LEEWAY).is_ok());
        assert_eq!(
            svc.verify(&token, now - CLOCK_LEEWAY - 1),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn a_cached_token_is_still_checked_for_time() {
        let (_d, svc) = service(Alg::EdDSA);
        let now = 1_800_000_000;
        let token = svc.issue(&claims(now)).unwrap();
        assert!(svc.verify(&token, now).is_ok());
        assert!(svc.verify(&token, now + 1).is_ok(), "from the cache");
        assert_eq!(svc.verify(&token, now + 600), Err(TokenError::Expired));
        // A token that differs by one character is not the cached one.
        let mut other = token.clone();
        other.pop();
        assert!(svc.verify(&other, now).is_err());
    }

    #[test]
    fn another_instances_key_is_unknown() {
        let (_d1, a) = service(Alg::EdDSA);
        let (_d2, b) = service(Alg::EdDSA);
        let now = 1_800_000_000;
        let token = a.issue(&claims(now)).unwrap();
        assert_eq!(b.verify(&token, now), Err(TokenError::UnknownKey));
    }

    #[test]
    fn oversized_and_odd_tokens_are_refused_early() {
        let (_d, svc) = service(Alg::EdDSA);
        assert_eq!(svc.verify(&"a".repeat(5000), 0), Err(TokenError::TooLong));
        assert_eq!(svc.verify("a.b", 0), Err(TokenError::Malformed));
        assert_eq!(svc.verify("a.b.c d", 0), Err(TokenError::Malformed));
        assert_eq!(svc.verify("a.b.c", 0), Err(TokenError::Malformed));
    }
}
